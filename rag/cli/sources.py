"""`qa sources [--json]`: the documents in the index, each with its sections.

It reads the index's source records only: no model, no spaCy, so it answers in about the time
Chroma takes to open. The names it prints are the ones `qa ask --source/--section` accept.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rag.citations import short_title
from rag.settings import Settings
from rag.store import SourceRecord

# What a person scanning the list needs; `--json` has every field the index keeps.
LISTED_FIELDS = ("kind", "date", "author")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sources",
        help="list the documents in the index and their sections",
        description="The documents in the index, each with its id (for --source), title, kind, "
        "chunk count and section headings (for --section).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per document, one per line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rag.storage import open_client
    from rag.store import IndexReader

    reader = IndexReader(open_client(settings, for_reading=True), settings.collection)
    reader.open()
    sources = sorted(reader.sources(), key=lambda source: source.source_id)
    if args.json:
        for source in sources:
            print(json.dumps(described(source), ensure_ascii=False))
        return 0
    chunks = sum(_chunks(source) for source in sources)
    print(f"{len(sources)} document{'' if len(sources) == 1 else 's'}, {chunks} chunks in the index")
    for source in sources:
        print()
        print("\n".join(listing(source)))
    return 0


def described(source: SourceRecord) -> dict[str, Any]:
    """A source as data: id, title, metadata (as stored), chunk count, sections."""
    meta = {key: value for key, value in source.to_metadata().items() if key not in ("sections", "title")}
    return {"source_id": source.source_id, "title": source.title, **meta, "sections": source.sections}


def listing(source: SourceRecord) -> list[str]:
    """A source as lines: its id with kind and size, its title, then its sections."""
    details = [str(source.metadata[key]) for key in LISTED_FIELDS if source.metadata.get(key)]
    count = _chunks(source)
    details.append(f"{count} chunk{'' if count == 1 else 's'}")
    lines = [f"{source.source_id}  ({', '.join(details)})", f"  {short_title(source.title)}"]
    # A document whose only section is its title has no sections worth listing.
    sections = [section for section in source.sections if section and section != source.title]
    lines += [f"  - {section}" for section in sections]
    return lines


def _chunks(source: SourceRecord) -> int:
    try:
        return int(source.metadata.get("n_chunks") or 0)
    except (TypeError, ValueError):
        return 0
