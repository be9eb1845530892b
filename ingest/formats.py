"""Readers of the formats that need a parser: a web page (its main content, via trafilatura) and
a PDF (its text per page, via pypdf). Each returns raw text per page and the format's own
metadata; ingest/load.py picks the reader and layers the metadata. Every failure is a LoadError
that names the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag.errors import LoadError

# One (page number or None, raw text) per page; a web page is one page without a number.
Pages = list[tuple[int | None, str]]

_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# WHATWG: pages labelled latin-1 or ASCII are really windows-1252 / UTF-8 in practice.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}


def read_html(path: Path, raw: bytes) -> tuple[Pages, dict[str, Any]]:
    """Main content of a web page via trafilatura, rendered as plain text with # headings."""
    if not raw.strip():
        raise LoadError(f"{path}: is empty")
    if b"\x00" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError(f"{path}: contains NUL bytes, looks binary")
    html = _decode_html(path, raw)
    # Imported here: trafilatura pulls in lxml, justext and htmldate, which text and PDF
    # loading never need.
    import trafilatura
    from lxml import etree

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
        text = _render_xml(etree.fromstring(xml.encode("utf-8"))) if xml else ""
    except Exception as exc:  # trafilatura/lxml raise many types on hostile markup
        raise LoadError(f"{path}: cannot parse HTML ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise LoadError(f"{path}: no main content found in the HTML")
    # extensive=False: the extensive date search guesses from copyright lines
    # ("© 2023" -> 2023-01-01), which would be an invented date.
    meta = {k: getattr(info, k, None) or None for k in ("title", "author", "date", "url")}
    return [(None, text)], meta


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


def _render_xml(doc: Any) -> str:
    """Trafilatura's XML -> text: one block per paragraph, blank line between blocks.

    The XML output is rendered here instead of using output_format="markdown" because the
    markdown writer backslash-escapes * _ < [ ... inside prose, which would put characters
    the author never wrote into the canonical text that citations quote.
    """
    main = doc.find("main")
    blocks: list[str] = []
    _render_children(main if main is not None else doc, blocks)
    return "\n\n".join(b for b in blocks if b.strip())


def _render_children(el: Any, blocks: list[str]) -> None:
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "head":
            level = re.fullmatch(r"h([1-6])", child.get("rend") or "")
            blocks.append("#" * (int(level.group(1)) if level else 2) + " " + _inline(child).strip())
        elif tag == "list":
            blocks.append("\n".join(_list_lines(child, 0)))
        elif tag == "table":
            rows = [" | ".join(" ".join(_inline(c).split()) for c in row.iter("cell")) for row in child.iter("row")]
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
        elif tag in ("div", "section", "main", "body"):
            _render_children(child, blocks)
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
        marker = f"{number}." if ordered else "-"
        lines.append("  " * depth + f"{marker} {' '.join(_inline(item).split())}")
        for sub in item.findall("list"):
            lines.extend(_list_lines(sub, depth + 1))
    return lines


def read_pdf(path: Path, raw: bytes) -> tuple[Pages, dict[str, Any]]:
    """One (page number, text) per page that has extractable text."""
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
    return pages, {"title": title or None, "author": author or None}
