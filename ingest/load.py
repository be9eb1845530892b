"""Load stage: corpus files -> LangChain Documents holding the RAW text and its provenance.

discover() picks the source files under the corpus, load_file() reads one of them into one
Document (text, markdown, HTML) or one Document per page (PDF). Nothing is cleaned here:
page_content is what the file says (front matter removed, HTML reduced to its main content),
and ingest.clean.clean_text turns it into the canonical text that citations point into.

Metadata, later layers overriding earlier ones: defaults -> format metadata (HTML meta tags,
PDF info) -> YAML front matter (.md/.txt) -> sidecar `<stem>.meta.yaml`. Unknown values stay
None; nothing is guessed. Every failure on a bad file is a LoadError that names the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import Any, Sequence

import yaml
from langchain_core.documents import Document

from rag.errors import LoadError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml")
# The only metadata keys that front matter and sidecars may set besides free extras.
META_KEYS = ("title", "kind", "language", "origin", "author", "date", "url")

_FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown",
            ".html": "html", ".htm": "html", ".pdf": "pdf"}
# Keys the loader or the later stages (chunk rows, source records) own; an extra YAML key
# of the same name would corrupt them (e.g. "pages" holds a PDF's page offsets).
_RESERVED = frozenset({
    "source_id", "path", "format", "page", "content_sha256", "pages", "sections", "section",
    "n_chunks", "n_sentences", "chunk_index", "start", "end", "first_sentence", "last_sentence",
    "index", "paragraph", "is_list_item", "schema", "embedder", "chunker", "dimension"})
_ROOT_READMES = ("readme.md", "readme.markdown")
_SUPPORTED = "supported: " + ", ".join(SUPPORTED_SUFFIXES)
_MAX_TITLE = 300
_SOURCE_ID_BAD = re.compile(r"[^A-Za-z0-9._-]")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                           re.DOTALL | re.MULTILINE)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# WHATWG: pages labelled latin-1 or ASCII are really windows-1252 / UTF-8 in practice.
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
                    "us-ascii": "utf-8", "ascii": "utf-8"}

Pages = list[tuple[int | None, str]]


# ---------------------------------------------------------------- discovery and ids

def discover(paths: Sequence[Path], root: Path) -> list[Path]:
    """Source files among `paths` (files or directories), sorted and de-duplicated.

    Directories are walked recursively; hidden entries, unsupported suffixes (which
    include the .meta.yaml sidecars) and README.md directly in `root` are skipped.
    A file named explicitly must have a supported suffix, else LoadError.
    """
    found: dict[Path, Path] = {}
    for given in map(Path, paths):
        if given.is_dir():
            for dirpath, dirnames, filenames in os.walk(given):
                # Prune hidden directories in place so os.walk never descends into them.
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(n for n in filenames if not n.startswith(".")):
                    candidate = Path(dirpath) / name
                    if candidate.suffix.lower() in SUPPORTED_SUFFIXES:
                        found.setdefault(candidate.resolve(), candidate)
        elif given.is_file():
            if given.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise LoadError(f"{given}: unsupported file type ({_SUPPORTED})")
            found.setdefault(given.resolve(), given)
        else:
            raise LoadError(f"{given}: no such file or directory")
    # The corpus README documents the corpus; it is not a source to answer from.
    root_dir = Path(root).resolve()
    return sorted((p for r, p in found.items()
                   if not (r.name.lower() in _ROOT_READMES and r.parent == root_dir)),
                  key=lambda p: p.as_posix())


def _relative(path: Path, root: Path) -> Path | None:
    """`path` relative to `root` (tried as given, then resolved), or None if outside it."""
    for p, r in ((path, root), (path.resolve(), root.resolve())):
        try:
            rel = p.relative_to(r)
        except ValueError:
            continue
        if ".." not in rel.parts:
            return rel
    return None


def source_id_for(path: Path, root: Path) -> str:
    """Stable id of a source: POSIX path relative to root without its final suffix.

    Only [A-Za-z0-9._/-] survive (others become "_"), so the id is safe in URLs, file
    names and Chroma metadata; segments made only of dots are neutralised so no id can
    climb out of a directory. Files outside root are identified by their stem alone.
    """
    path, root = Path(path), Path(root)
    rel = _relative(path, root)
    parts = list(rel.with_suffix("").parts) if rel is not None and rel.parts else [path.stem]
    parts = [_SOURCE_ID_BAD.sub("_", part) for part in parts]
    # "." or ".." (or "...") as a segment could address another directory: neutralise it.
    return "/".join(p if p.strip(".") else "_" * max(len(p), 1) for p in parts) or "_"


# ---------------------------------------------------------------- loading

def load_file(path: Path, root: Path, max_bytes: int = 20_000_000) -> list[Document]:
    """Read one corpus file into Documents with raw text and provenance metadata."""
    path, root = Path(path), Path(root)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(f"{path}: unsupported file type ({_SUPPORTED})")
    raw = _read_bytes(path, max_bytes)
    sidecar = find_sidecar(path)
    sidecar_raw = _read_bytes(sidecar, max_bytes) if sidecar else b""

    front: dict[str, Any] = {}
    fmt_meta: dict[str, Any] = {}
    if fmt in ("text", "markdown"):
        front, text = _read_text(path, raw)
        pages: Pages = [(None, text)]
    elif fmt == "html":
        pages, fmt_meta = _read_html(path, raw)
    else:
        pages, fmt_meta = _read_pdf(path, raw)

    rel = _relative(path, root)
    rel_str = rel.as_posix() if rel is not None else str(path)
    meta: dict[str, Any] = {
        "source_id": source_id_for(path, root), "path": rel_str,
        "title": _first_line_title(pages[0][1], fmt), "kind": "document", "language": None,
        "origin": rel_str, "author": None, "date": None, "url": None, "format": fmt,
        "content_sha256": hashlib.sha256(raw + sidecar_raw).hexdigest(),
    }
    _apply(meta, fmt_meta)
    _apply(meta, front)
    if sidecar is not None:
        _apply(meta, _parse_yaml_mapping(_decode_utf8(sidecar, sidecar_raw),
                                         f"{path}: sidecar {sidecar.name}"))
    return [Document(page_content=text, metadata=dict(meta, **({"page": n} if n else {})))
            for n, text in pages]


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"{path}: {size} bytes is larger than the limit of {max_bytes} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if len(raw) > max_bytes:  # the file grew between stat and read
        raise LoadError(f"{path}: {len(raw)} bytes is larger than the limit of {max_bytes} bytes")
    return raw


def find_sidecar(path: Path) -> Path | None:
    """The metadata sidecar next to a file (`name.meta.yaml`), if there is one."""
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def _apply(meta: dict[str, Any], layer: dict[str, Any]) -> None:
    """Overlay one metadata layer; None means "not stated" and never erases a value."""
    for key, value in layer.items():
        if key in _RESERVED or value is None:
            continue
        meta[key] = value


def _first_line_title(text: str, fmt: str) -> str | None:
    for line in text.splitlines():
        line = " ".join(line.split())
        if fmt in ("markdown", "html"):
            line = re.sub(r"^#{1,6}\s+", "", line)  # a markdown heading's marker is not title
        if line:
            return line[:_MAX_TITLE]
    return None


def _parse_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    """Parse YAML metadata into known keys (as strings) plus scalar extras."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LoadError(f"{where}: invalid YAML ({' '.join(str(exc).split())})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError(f"{where}: metadata must be a YAML mapping, got {type(data).__name__}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        if key in META_KEYS:
            if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
                value = ", ".join(str(v) for v in value)  # e.g. several authors
            elif value is not None and not isinstance(value, (str, int, float)):
                raise LoadError(f"{where}: metadata key {key!r} must be a scalar")
            out[key] = None if value is None else str(value).strip() or None
        elif isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out


# ---------------------------------------------------------------- formats

def _read_text(path: Path, raw: bytes) -> tuple[dict[str, Any], str]:
    """Strict UTF-8 text; a leading YAML front matter block becomes metadata."""
    if b"\x00" in raw:
        raise LoadError(f"{path}: contains NUL bytes, looks binary")
    text = _decode_utf8(path, raw)
    front: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        front = _parse_yaml_mapping(match.group(1), f"{path}: front matter")
        text = text[match.end():]
    if not text.strip():
        raise LoadError(f"{path}: is empty")
    return front, text


def _decode_utf8(path: Path, raw: bytes) -> str:
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + bom
        raise LoadError(f"{path}: not valid UTF-8 text "
                        f"(byte 0x{raw[offset]:02x} at offset {offset})") from exc


def _read_html(path: Path, raw: bytes) -> tuple[Pages, dict[str, Any]]:
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
        xml = trafilatura.extract(html, output_format="xml", include_comments=False,
                                  include_tables=True, favor_precision=True,
                                  with_metadata=False)
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
        raise LoadError(f"{path}: not valid {charset} text "
                        f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})") from exc


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
            rows = [" | ".join(" ".join(_inline(c).split()) for c in row.iter("cell"))
                    for row in child.iter("row")]
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


def _read_pdf(path: Path, raw: bytes) -> tuple[Pages, dict[str, Any]]:
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
        title, author = ((str(v).strip() if v else None) for v in
                         ((info.title, info.author) if info is not None else (None, None)))
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise LoadError(f"{path}: cannot parse PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise LoadError(f"{path}: PDF has no extractable text")
    return pages, {"title": title or None, "author": author or None}
