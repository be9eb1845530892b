"""`qa ingest [PATHS...] [--rebuild]`: the command-line face of ingest/pipeline.py."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rag.settings import Settings


def shows_progress(args: argparse.Namespace) -> bool:
    """A progress bar is for a person watching: not with --quiet, nor into a log file or a pipe,
    where tqdm's redrawn line would be written out in full at every step."""
    return not args.quiet and sys.stderr.isatty()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="clean, chunk and embed corpus files into Chroma (incremental)",
        description="Bring the index in line with the corpus: new and changed files are embedded, "
        "unchanged ones skipped, deleted ones removed. Unreadable files are reported and skipped.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: QA_CORPUS_DIR, ./corpus)")
    parser.add_argument("--rebuild", action="store_true", help="drop the index and embed everything again")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (none either when stderr is not a terminal)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import ingest_paths

    for path in args.paths:
        if not path.exists():
            print(f"qa ingest: no such file or folder: {path}", file=sys.stderr)
            return 2
    if not args.paths and not settings.corpus_dir.is_dir():
        print(f"qa ingest: corpus folder {settings.corpus_dir} does not exist (set QA_CORPUS_DIR)", file=sys.stderr)
        return 2
    summary = ingest_paths(args.paths or None, settings, rebuild=args.rebuild, progress=shows_progress(args))
    if summary.chunks_written and settings.query_encoder == "onnx":
        # torch is loaded already: export the query encoder now, so that answering processes
        # start without it (rag/onnx_encoder.py).
        from rag.onnx_encoder import prepare_export

        prepare_export(settings.data_dir, settings.embedding_model_path)
    if summary.rebuilt_because:
        print(f"qa ingest: rebuilt the index because {summary.rebuilt_because}", file=sys.stderr)
    for path, reason in summary.failed:
        print(f"qa ingest: skipped {path}: {reason}", file=sys.stderr)
    if summary.orphans_removed:
        print(f"qa ingest: repaired the index ({summary.orphans_removed} unfinished rows removed)", file=sys.stderr)
    print(summary.line())
    return 0
