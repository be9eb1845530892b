"""Load stage: corpus files -> LangChain Documents holding the RAW text and its provenance.

discover() picks the source files under the corpus, load_file() reads one of them into one
Document (text, markdown, HTML) or one Document per page (PDF). Nothing is cleaned here:
page_content is the text a reader of the file sees (front matter removed, Markdown rendered,
HTML reduced to its main content, a PDF's running headers and footers left out; see
ingest/formats.py), and ingest.clean.clean_text turns it into the canonical text that citations
point into. The headings the markup declares travel in metadata["headings"] for the structure
stage (ingest/pipeline.py takes them out before anything is stored).

Metadata, later layers overriding earlier ones: defaults -> format metadata (HTML meta tags,
PDF info) -> YAML front matter (.md/.txt) -> sidecar `<stem>.meta.yaml`. Unknown values stay
None; nothing is guessed. A YAML key the loader has no slot for is kept as it is when it is a
scalar and JSON-encoded when it is a list or mapping (Chroma metadata holds scalars only); a key
the pipeline owns (see _RESERVED) cannot be set from YAML and is reported as a warning, never
dropped without a word. Every failure on a bad file is a LoadError that names the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from langchain_core.documents import Document

from ingest.files import read_regular, refusal, shown
from ingest.formats import Extracted, read_html, read_markdown, read_pdf
from ingest.ignore import IgnoreRules
from rag.errors import LoadError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml")
# The only metadata keys that front matter and sidecars may set besides free extras.
META_KEYS = ("title", "kind", "language", "origin", "author", "date", "url")

_FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".pdf": "pdf"}
# Keys the loader or the later stages (chunk rows, source records) own; an extra YAML key
# of the same name would corrupt them (e.g. "pages" holds a PDF's page offsets).
_RESERVED = frozenset(
    {
        "source_id",
        "path",
        "format",
        "page",
        "content_sha256",
        "pages",
        "sections",
        "section",
        "n_chunks",
        "n_sentences",
        "chunk_index",
        "start",
        "end",
        "first_sentence",
        "last_sentence",
        "index",
        "paragraph",
        "is_list_item",
        "schema",
        "embedder",
        "chunker",
        "dimension",
        "headings",
    }
)
logger = logging.getLogger(__name__)
_SUPPORTED = "supported: " + ", ".join(SUPPORTED_SUFFIXES)
_MAX_TITLE = 300
_SOURCE_ID_BAD = re.compile(r"[^A-Za-z0-9._-]")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)

# ---------------------------------------------------------------- discovery and ids


def discover(paths: Sequence[Path], root: Path, on_skip: Callable[[Path, str], None] | None = None) -> list[Path]:
    """Source files among `paths` (files or directories), sorted and de-duplicated.

    Directories are walked recursively; hidden entries, unsupported suffixes (which
    include the .meta.yaml sidecars) and what a `.qaignore` lists (ingest/ignore.py) are skipped.
    What ingest/files.py refuses (links out of the folder, links to folders, special files,
    names that are not UTF-8) is skipped and told to `on_skip` with the reason.
    A file named explicitly must be a regular file with a supported suffix, else LoadError.
    """
    found: dict[Path, Path] = {}
    rules = IgnoreRules()
    for given in map(Path, paths):
        if given.is_dir():
            _walk(given, found, on_skip, rules)
        elif given.exists():
            if given.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise LoadError(f"{shown(given)}: unsupported file type ({_SUPPORTED})")
            if (reason := refusal(given, given.parent)) is not None:
                raise LoadError(f"{shown(given)}: {reason}")
            # Named on its own, a file is still under its folders' rules (as `git add` is).
            if not rules.ignores(given, Path(root)):
                found.setdefault(given.resolve(), given)
        else:
            raise LoadError(f"{shown(given)}: no such file or directory")
    return sorted(found.values(), key=lambda p: p.as_posix())


def _walk(
    folder: Path, found: dict[Path, Path], on_skip: Callable[[Path, str], None] | None, rules: IgnoreRules
) -> None:
    """Add the admissible source files under `folder` to `found` (by resolved path)."""

    def skip(path: Path, reason: str) -> None:
        if on_skip is not None:
            on_skip(path, reason)

    for dirpath, dirnames, filenames in os.walk(folder):
        # Prune hidden directories in place so os.walk never descends into them; it does not
        # walk a linked folder either, which is reported here.
        for name in [d for d in dirnames if not d.startswith(".") and (Path(dirpath) / d).is_symlink()]:
            skip(Path(dirpath) / name, "a symbolic link to a folder; not followed")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(n for n in filenames if not n.startswith(".")):
            candidate = Path(dirpath) / name
            if candidate.suffix.lower() not in SUPPORTED_SUFFIXES or rules.ignores(candidate, folder):
                continue
            reason = refusal(candidate, folder)
            if reason is None:
                found.setdefault(candidate.resolve(), candidate)
            else:
                skip(candidate, reason)


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
    raw = read_regular(path, max_bytes)
    sidecar = find_sidecar(path)
    sidecar_raw = read_regular(sidecar, max_bytes) if sidecar else b""

    front: dict[str, Any] = {}
    if fmt in ("text", "markdown"):
        front, text = _read_text(path, raw)
        read = read_markdown(path, text) if fmt == "markdown" else Extracted([(None, text)])
    elif fmt == "html":
        read = read_html(path, raw)
    else:
        read = read_pdf(path, raw)
    pages = read.pages

    rel = _relative(path, root)
    rel_str = rel.as_posix() if rel is not None else str(path)
    meta: dict[str, Any] = {
        "source_id": source_id_for(path, root),
        "path": rel_str,
        "title": _first_line_title(pages[0][1]),
        "kind": "document",
        "language": None,
        "origin": rel_str,
        "author": None,
        "date": None,
        "url": None,
        "format": fmt,
        "content_sha256": hashlib.sha256(raw + sidecar_raw).hexdigest(),
    }
    _apply(meta, read.meta)
    _apply(meta, front)
    if sidecar is not None:
        _apply(meta, _parse_yaml_mapping(_decode_utf8(sidecar, sidecar_raw), f"{path}: sidecar {sidecar.name}"))
    if read.headings:
        meta["headings"] = list(read.headings)
    return [Document(page_content=text, metadata=dict(meta, **({"page": n} if n else {}))) for n, text in pages]


def find_sidecar(path: Path) -> Path | None:
    """The metadata sidecar next to a file (`name.meta.yaml`), if there is one. It obeys the
    rules of the file itself (ingest/files.py): a sidecar that links out of the file's folder or
    is no regular file is a LoadError that names it, not something to read."""
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file() or candidate.is_symlink():
            if (reason := refusal(candidate, path.parent)) is not None:
                raise LoadError(f"{shown(candidate)}: {reason}")
            return candidate
    return None


def _apply(meta: dict[str, Any], layer: dict[str, Any]) -> None:
    """Overlay one metadata layer; None means "not stated" and never erases a value."""
    for key, value in layer.items():
        if key in _RESERVED or value is None:
            continue
        meta[key] = value


def _first_line_title(text: str) -> str | None:
    # Markdown and HTML arrive rendered: their first line carries no heading marks.
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line[:_MAX_TITLE]
    return None


def _parse_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    """Parse YAML metadata into known keys (as strings) plus extras: scalars as they are, lists
    and mappings JSON-encoded (e.g. `sources:` as a list of {title, publisher, date, url})."""
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
        elif key in _RESERVED:
            # The pipeline owns this key (an offset table, an id): YAML must not overwrite it.
            logger.warning("%s: metadata key %r is reserved for the index and was ignored", where, key)
        elif isinstance(value, (str, int, float, bool)):
            out[key] = value
        elif value is not None:
            out[key] = json.dumps(_plain(value), ensure_ascii=False)
    return out


def _plain(value: Any) -> Any:
    """YAML data as JSON data: dates as ISO strings, mapping keys as strings, sets as lists."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return items if isinstance(value, (list, tuple)) else sorted(items, key=str)  # a set has no order
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # e.g. bytes from a !!binary tag


# ---------------------------------------------------------------- formats


# Byte order marks of the Unicode encodings other than UTF-8 (the Unicode Standard, section 23.8):
# a text that starts with one says how it is encoded, and its NUL bytes are part of the characters.
# UTF-32's come first: the little-endian one begins with UTF-16's.
UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _read_text(path: Path, raw: bytes) -> tuple[dict[str, Any], str]:
    """UTF-8 text (or UTF-16/32 with a byte order mark); a leading YAML front matter block becomes
    metadata."""
    text = _decode_text(path, raw)
    if "\x00" in text:
        raise LoadError(f"{path}: contains NUL bytes, looks binary")
    front: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        front = _parse_yaml_mapping(match.group(1), f"{path}: front matter")
        text = text[match.end() :]
    if not text.strip():
        raise LoadError(f"{path}: is empty")
    return front, text


def _decode_text(path: Path, raw: bytes) -> str:
    for bom, encoding in UNICODE_BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(f"{path}: not valid {encoding.upper()} text (at byte {exc.start})") from exc
    if b"\x00" in raw:
        raise LoadError(f"{path}: contains NUL bytes, looks binary")
    return _decode_utf8(path, raw)


def _decode_utf8(path: Path, raw: bytes) -> str:
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + bom
        raise LoadError(f"{path}: not valid UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset})") from exc
