"""The `qa` host: builds the argument parser from the subcommands it finds and runs one.

A subcommand is a `register(subparsers)` function that adds its parser and sets `handler`, a
function `(args, settings) -> exit code`. rag's own are listed in BUILTIN; other packages declare
theirs in the `qa.commands` entry-point group (see pyproject.toml), as simonw/llm finds plugins.
Only the command on the command line is imported, so `qa ask` does not load the HTTP server or
the eval suite; `qa --help` and unknown words load them all to list them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from functools import partial
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from rag.errors import ConfigError, InputError, QAError

ENTRY_POINT_GROUP = "qa.commands"
# name -> "module:function" of rag's own commands.
BUILTIN = {
    "ask": "rag.cli.ask:register_ask",
    "chat": "rag.cli.ask:register_chat",
    "batch": "rag.cli.batch:register",
    "sources": "rag.cli.sources:register",
}
DESCRIPTION = "Questions about the documents in the corpus, answered from them with exact citations."

Register = Callable[[Any], None]


def _load(target: str) -> Register:
    module, _, function = target.partition(":")
    loaded: Register = getattr(importlib.import_module(module), function)
    return loaded


def available_commands() -> dict[str, Callable[[], Register]]:
    """Every command name, with a loader that imports it only when called."""
    found: dict[str, Callable[[], Register]] = {}
    for name, target in BUILTIN.items():
        found[name] = partial(_load, target)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point.load)
    return found


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser with the command named in `argv` only, or with all of them when none is."""
    parser = argparse.ArgumentParser(prog="qa", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True)
    named = next((word for word in argv if not word.startswith("-")), None)
    if named in BUILTIN:  # rag's own: no need to read the installed entry points
        _load(BUILTIN[named])(subparsers)
        return parser
    commands = available_commands()
    for name in [named] if named in commands else sorted(commands, key=_order):
        commands[name]()(subparsers)
    return parser


def _order(name: str) -> tuple[int, str]:
    # The order a newcomer meets them in: ingest, then ask and chat, then the rest.
    usual = ["ingest", "sources", "ask", "chat", "serve", "eval", "batch"]
    return (usual.index(name) if name in usual else len(usual), name)


def settings_problems(error: ValidationError) -> str:
    """One line: each bad setting by its environment variable, with pydantic's reason."""
    parts = []
    for problem in error.errors():
        name = "QA_" + "_".join(str(p) for p in problem.get("loc", ())).upper()
        reason = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(reason if name == "QA_" else f"{name}: {reason}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    from rag.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as error:  # report the setting, not a traceback
        print(f"qa: bad settings: {settings_problems(error)}", file=sys.stderr)
        return 2
    try:
        code: int = args.handler(args, settings)
    except (InputError, ConfigError) as error:
        print(f"qa {args.command}: {error}", file=sys.stderr)
        return 2
    except QAError as error:
        print(f"qa {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_left()
    return code


def _reader_left() -> int:
    """`qa ... | head -3`: the reader closed the pipe, which is not an error of ours. Python's
    advice: point stdout at devnull so the flush at exit does not raise again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    # 128 + SIGPIPE, what a shell reports for a command whose reader went away.
    return 141


if __name__ == "__main__":
    sys.exit(main())
