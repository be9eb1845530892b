"""`qa batch INPUT --out OUTPUT`: answers for a file of questions (placeholder; being written)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("batch", help="answer every question in a CSV or JSONL file")
    parser.set_defaults(handler=lambda args, settings: 2)
