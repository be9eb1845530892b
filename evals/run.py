"""`qa eval [QUESTIONS] [--out DIR] [--mode extractive|llm] [--gate]` (also `python -m evals.run`),
and `qa eval --suite validate|tune|all`: every question set of evals/sets.toml (evals/suite_run.py).

Evaluates the answerer on a question set (evals/scoring.py), prints the summary and the
failures (evals/summary.py), writes report.json, report.md and report.html to --out
(evals/report.py); --gate exits 1 when a metric misses evals/thresholds.toml (evals/gate.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.dataset import DEFAULT_PATH
from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.chain import Answerer
    from rag.embeddings import MiniLMEmbeddings
    from rag.settings import Settings

MODES = ("extractive", "llm")


def load_mode_answerer(settings: Settings, mode: str, embeddings: MiniLMEmbeddings | None = None) -> Answerer:
    """The answerer for `mode`, from the one factory rag.factory.load_answerer."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    from rag.factory import load_answerer

    return load_answerer(settings, embeddings, mode=mode)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_PATH, help="a question set (JSONL)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("eval-out"),
        help="folder for report.json, report.md and report.html (default: eval-out/)",
    )
    parser.add_argument("--mode", choices=MODES, default="extractive", help="which answerer to evaluate")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric misses evals/thresholds.toml")
    parser.add_argument(
        "--suite",
        choices=("validate", "tune", "all"),
        default=None,
        help="evaluate the sets of evals/sets.toml (each on its own subject's index) instead of one file",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="run the evaluation suite and write reports")
    _add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate, print, write the reports; 1 when --gate and a bound is missed."""
    # Imported here: `qa --help` lists this command without loading the answering stack.
    from evals.dataset import load_items
    from evals.gate import gate
    from evals.report import write_reports
    from evals.scoring import evaluate
    from evals.summary import format_summary
    from rag.llm import LLMAnswerer

    if args.suite is not None:
        from evals.suite_run import run_suite

        return run_suite(settings, None if args.suite == "all" else args.suite, args.out, args.mode, args.gate)
    items = load_items(args.questions)  # a bad file fails before the model loads
    answerer = load_mode_answerer(settings, args.mode)
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    roles = answerer.roles if isinstance(answerer, LLMAnswerer) else None
    report = evaluate(
        answerer, items, texts, embeddings=answerer.embeddings, progress=True, mode=args.mode, roles=roles
    )
    if isinstance(answerer, LLMAnswerer):
        # The generative mode is judged beside the extractive one on the same questions.
        report.compare_with(
            evaluate(
                answerer.extractive, items, texts, embeddings=answerer.embeddings, progress=True, mode="extractive"
            )
        )
    print(format_summary(report))
    paths = write_reports(report, args.out)
    print("reports: " + ", ".join(str(p) for p in paths.values()))
    misses = gate(report.summary, mode=args.mode)
    for miss in misses:
        print(f"GATE {miss}", file=sys.stderr)
    return 1 if (args.gate and misses) else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m evals.run ...` is `qa eval ...`: the same parser, messages and exit codes."""
    from rag.cli.main import main as qa

    return qa(["eval", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
