"""Readers of the formats that need a parser: Markdown (rendered to the text a reader sees, via
markdown-it-py), a web page (its main content, via trafilatura) and a PDF (its text per page,
without the running headers and footers, via pypdf). Each returns an `Extracted`: raw text per
page, the format's own metadata and the headings its markup declares. ingest/load.py picks the
reader and layers the metadata. Every failure is a LoadError that names the file.

Markup never reaches the text: Markdown's `**`, `_`, backticks, link targets, images and `#`
marks and HTML's tags are what a reader does NOT see, and a citation quotes what a reader sees.
Headings are therefore handed on by name (`Extracted.headings`) rather than by a marker in the
text, and list items keep the marker a browser draws ("• ", or the number "3. ") that the
structure stage recognises. Table cells are written " | " apart: a grid has no plain-text form
without some separator between its cells.
"""

from __future__ import annotations

import html as html_entities
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import LoadError

# One (page number or None, raw text) per page; a web page is one page without a number.
Pages = list[tuple[int | None, str]]


@dataclass(frozen=True)
class Extracted:
    """What a reader hands the loader."""

    pages: Pages
    meta: dict[str, Any] = field(default_factory=dict)
    # Heading lines as they appear in the text (one line each), declared by the markup.
    headings: list[str] = field(default_factory=list)


_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# WHATWG: pages labelled latin-1 or ASCII are really windows-1252 / UTF-8 in practice.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
# The marks a browser draws before unordered list items by default (CSS list-style-type disc,
# circle, square by nesting depth); rag.sentences.LIST_MARKER knows them all.
_BULLETS = "•◦▪"
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MAIN_CONTENT = re.compile(r"<(?:article|main)[\s>]", re.IGNORECASE)
_BODY_OPEN = re.compile(r"<body[^>]*>", re.IGNORECASE)


# ---------------------------------------------------------------- Markdown


def read_markdown(path: Path, text: str) -> Extracted:
    """Markdown rendered to plain text: one block per paragraph, heading, list or table."""
    from markdown_it import MarkdownIt  # imported here: only Markdown loading needs it
    from markdown_it.tree import SyntaxTreeNode

    # CommonMark plus GitHub's tables and strikethrough, the extensions most Markdown uses.
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    blocks: list[str] = []
    headings: list[str] = []
    _md_blocks(SyntaxTreeNode(parser.parse(text)).children, blocks, headings)
    rendered = "\n\n".join(b for b in blocks if b.strip())
    if not rendered.strip():
        raise LoadError(f"{path}: is empty (no text a reader would see)")
    return Extracted([(None, rendered)], {}, headings)


def _md_blocks(nodes: Any, blocks: list[str], headings: list[str]) -> None:
    for node in nodes:
        kind = node.type
        if kind == "heading":
            title = " ".join(_md_inline(node, " ").split())
            if title:
                blocks.append(title)
                headings.append(title)
        elif kind == "paragraph":
            # A soft line break is a space on the page (a source line that starts "2. " inside a
            # paragraph is no list item); a hard one (two spaces, a backslash, <br>) is a new line.
            blocks.append(_md_inline(node, "\n").strip())
        elif kind in ("bullet_list", "ordered_list"):
            blocks.append("\n".join(_md_list(node, 0)))
        elif kind == "blockquote":
            _md_blocks(node.children, blocks, headings)
        elif kind in ("fence", "code_block"):
            blocks.append(node.content.rstrip("\n"))
        elif kind == "html_block":
            blocks.append(_html_text(node.content).strip())
        elif kind == "table":
            rows = [" | ".join(" ".join(_md_inline(cell, " ").split()) for cell in row.children) for row in _rows(node)]
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
        # hr and anything else carry no text


def _rows(table: Any) -> list[Any]:
    return [row for part in table.children for row in part.children if row.type == "tr"]


def _md_inline(node: Any, hard_break: str) -> str:
    """The text a reader sees in an inline run: emphasis, link targets, images and tags dropped.
    `hard_break`: what a hard line break becomes ("\n", or " " where the text must stay one line)."""
    parts: list[str] = []
    for child in node.children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak" or (kind == "html_inline" and _HTML_BREAK.fullmatch(child.content)):
            parts.append(hard_break)
        elif kind not in ("image", "html_inline"):  # strong, em, s, link, inline: their text
            parts.append(_md_inline(child, hard_break))
    return "".join(parts)


def _md_list(lst: Any, depth: int) -> list[str]:
    """One line per item: its visible marker ("• ", or the number the reader sees) and its text
    on one line; a further paragraph of an item becomes an unmarked line, a sub-list deeper lines."""
    lines: list[str] = []
    number = int(lst.attrs.get("start", 1)) if lst.type == "ordered_list" else None
    for item in lst.children:
        marker = _bullet(depth) if number is None else f"{number}."
        number = None if number is None else number + 1
        for child in item.children:
            if child.type in ("bullet_list", "ordered_list"):
                lines.extend(_md_list(child, depth + 1))
                continue
            parts: list[str] = []
            _md_blocks([child], parts, [])
            text = " ".join(" ".join(parts).split())
            if text:
                lines.append("  " * depth + (f"{marker} {text}" if marker else f"  {text}"))
                marker = ""
    return lines


def _bullet(depth: int) -> str:
    return _BULLETS[min(depth, len(_BULLETS) - 1)]


def _html_text(fragment: str) -> str:
    """Raw HTML inside Markdown: what the browser would show (tags and comments gone)."""
    return html_entities.unescape(_HTML_TAG.sub("", _HTML_COMMENT.sub("", fragment)))


# ---------------------------------------------------------------- HTML


def read_html(path: Path, raw: bytes) -> Extracted:
    """Main content of a web page via trafilatura, rendered as plain text."""
    if not raw.strip():
        raise LoadError(f"{path}: is empty")
    if b"\x00" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError(f"{path}: contains NUL bytes, looks binary")
    html = _framed(_decode_html(path, raw))
    # Imported here: trafilatura pulls in lxml, justext and htmldate, which text and PDF
    # loading never need.
    import trafilatura
    from lxml import etree

    headings: list[str] = []
    try:
        xml = trafilatura.extract(
            html,
            output_format="xml",
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            with_metadata=False,
        )
        info = trafilatura.extract_metadata(html, extensive=False)
        text = _render_xml(etree.fromstring(xml.encode("utf-8")), headings) if xml else ""
    except Exception as exc:  # trafilatura/lxml raise many types on hostile markup
        raise LoadError(f"{path}: cannot parse HTML ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise LoadError(f"{path}: no main content found in the HTML")
    # extensive=False: the extensive date search guesses from copyright lines
    # ("© 2023" -> 2023-01-01), which would be an invented date.
    meta = {k: getattr(info, k, None) or None for k in ("title", "author", "date", "url")}
    return Extracted([(None, text)], meta, headings)


def _framed(html: str) -> str:
    """The page with its body marked as the article when it marks no main content itself.
    trafilatura looks for the main content inside <article> or <main>; on a plain page (headings,
    paragraphs and lists straight in <body>) it falls back to a pass that drops every heading and
    list, so a saved page lost its sections and the facts in its lists. Inside the frame its
    usual pruning of menus, sidebars and footers still applies."""
    if _MAIN_CONTENT.search(html):
        return html
    body = _BODY_OPEN.search(html)
    if body is None:
        return html
    closing = html.lower().rfind("</body")
    end = closing if closing >= body.end() else len(html)
    return f"{html[: body.end()]}<article>{html[body.end() : end]}</article>{html[end:]}"


def _decode_html(path: Path, raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        charset = "utf-8-sig"
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        charset = "utf-16"
    else:
        declared = _META_CHARSET.search(raw[:4096])
        name = declared.group(1).decode("ascii").lower() if declared else "utf-8"
        charset = _CHARSET_ALIASES.get(name, name)
    try:
        return raw.decode(charset)
    except LookupError as exc:
        raise LoadError(f"{path}: unknown charset {charset!r}") from exc
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"{path}: not valid {charset} text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _render_xml(doc: Any, headings: list[str]) -> str:
    """Trafilatura's XML -> text: one block per paragraph, blank line between blocks.

    The XML output is rendered here instead of using output_format="markdown" because the
    markdown writer backslash-escapes * _ < [ ... inside prose and marks headings with #, which
    would put characters the reader never sees into the canonical text that citations quote.
    """
    main = doc.find("main")
    blocks: list[str] = []
    _render_children(main if main is not None else doc, blocks, headings)
    return "\n\n".join(b for b in blocks if b.strip())


def _render_children(el: Any, blocks: list[str], headings: list[str]) -> None:
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "head":
            title = " ".join(_inline(child).split())
            if title:
                blocks.append(title)
                headings.append(title)
        elif tag == "list":
            blocks.append("\n".join(_list_lines(child, 0)))
        elif tag == "table":
            rows = [" | ".join(" ".join(_inline(c).split()) for c in row.iter("cell")) for row in child.iter("row")]
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
        elif tag in ("div", "section", "main", "body"):
            _render_children(child, blocks, headings)
        elif tag and tag != "graphic":
            blocks.append(_inline(child).strip())
        if child.tail and child.tail.strip():
            blocks.append(child.tail.strip())


def _inline(el: Any) -> str:
    parts = [el.text or ""]
    for child in el:
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag != "list":  # nested lists are rendered as lines by _list_lines
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _list_lines(lst: Any, depth: int) -> list[str]:
    lines: list[str] = []
    ordered = lst.get("rend") == "ol"
    for number, item in enumerate(lst.findall("item"), 1):
        marker = f"{number}." if ordered else _bullet(depth)
        lines.append("  " * depth + f"{marker} {' '.join(_inline(item).split())}")
        for sub in item.findall("list"):
            lines.extend(_list_lines(sub, depth + 1))
    return lines


# ---------------------------------------------------------------- PDF


def read_pdf(path: Path, raw: bytes) -> Extracted:
    """One (page number, text) per page that has extractable text, running lines removed."""
    if b"%PDF-" not in raw[:1024]:
        raise LoadError(f"{path}: not a PDF (no %PDF- header)")
    # pypdf quietly rebuilds a cut-off file from the objects it can still find; a file
    # without its end marker is damaged, and half a document must not pass as a whole one.
    if b"%%EOF" not in raw[-1024:]:
        raise LoadError(f"{path}: PDF is truncated (no %%EOF marker at the end)")
    from io import BytesIO

    from pypdf import PdfReader  # imported here: only PDF loading needs it

    try:
        reader = PdfReader(BytesIO(raw))
        # Many published PDFs are "encrypted" only to set permissions, with an empty user
        # password; those are read. Anything that needs a real password is refused.
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path}: PDF is encrypted (needs a password)")
        pages: Pages = []
        for number, page in enumerate(reader.pages, 1):
            text = page.extract_text() or ""
            if text.strip():
                pages.append((number, text))
        info = reader.metadata
        title, author = (
            (str(v).strip() if v else None) for v in ((info.title, info.author) if info is not None else (None, None))
        )
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise LoadError(f"{path}: cannot parse PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise LoadError(f"{path}: PDF has no extractable text")
    return Extracted(drop_running_lines(pages), {"title": title or None, "author": author or None})


# "Most pages" is a strict majority; with two pages that is both. A line standing at the same edge
# of both pages once numbers are disregarded ("Page 1 of 2" / "Page 2 of 2", a running title) is
# furniture far more often than prose that happens to repeat word for word at a page edge.
RUNNING_MIN_PAGES = 2
_DIGITS = re.compile(r"\d+")


def _running_key(line: str) -> str:
    """A line as compared across pages: spacing collapsed, every number alike ("Page 2 of 9")."""
    return _DIGITS.sub("0", " ".join(line.split()))


def drop_running_lines(pages: Pages) -> Pages:
    """Pages without their running headers and footers: lines that stand at the top or the bottom
    of most pages once numbers are disregarded. Peeled from the edges inwards (a title line above
    a "Page N of M" line goes, then the page line), so nothing inside a page is touched."""
    if len(pages) < RUNNING_MIN_PAGES:
        return pages
    lines = [text.split("\n") for _, text in pages]
    bounds = [[0, len(page)] for page in lines]  # each page keeps lines[top:bottom]
    while True:
        _skip_blank_edges(lines, bounds)
        seen: Counter[str] = Counter()
        for page, (top, bottom) in zip(lines, bounds, strict=True):
            if top < bottom:
                seen.update({_running_key(page[top]), _running_key(page[bottom - 1])})
        running = {key for key, count in seen.items() if count * 2 > len(pages)}
        if not running:
            break
        for page, edge in zip(lines, bounds, strict=True):
            if edge[0] < edge[1] and _running_key(page[edge[0]]) in running:
                edge[0] += 1
            if edge[0] < edge[1] and _running_key(page[edge[1] - 1]) in running:
                edge[1] -= 1
    kept = [
        (number, "\n".join(page[top:bottom]))
        for (number, _), page, (top, bottom) in zip(pages, lines, bounds, strict=True)
    ]
    kept = [(number, text) for number, text in kept if text.strip()]
    # A document whose every line repeats on every page is all body, not furniture.
    return kept or pages


def _skip_blank_edges(lines: list[list[str]], bounds: list[list[int]]) -> None:
    for page, edge in zip(lines, bounds, strict=True):
        while edge[0] < edge[1] and not page[edge[0]].strip():
            edge[0] += 1
        while edge[0] < edge[1] and not page[edge[1] - 1].strip():
            edge[1] -= 1
