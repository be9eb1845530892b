"""Sweep the abstention threshold over a question set and print, for each value, fact recall,
abstain recall and false-abstain rate. `python -m evals.calibrate [QUESTIONS...]`.

How settings.abstain_threshold was chosen: the value that maximises abstain recall minus
false-abstain rate (ties: the lower threshold, which answers more), over every set given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from evals.dataset import DEFAULT_PATH, EvalItem, load_items
from evals.scoring import evaluate

if TYPE_CHECKING:
    from rag.chain import ExtractiveAnswerer


def sweep(
    answerer: ExtractiveAnswerer, items: list[EvalItem], source_texts: Mapping[str, str], thresholds: Sequence[float]
) -> list[tuple[float, dict[str, float]]]:
    rows = []
    original = answerer.settings
    try:
        for threshold in thresholds:
            answerer.settings = original.model_copy(update={"abstain_threshold": threshold})
            summary = evaluate(answerer, items, source_texts).summary
            rows.append((threshold, summary))
    finally:
        answerer.settings = original
    return rows


def main(argv: list[str] | None = None) -> int:
    from rag.factory import load_extractive
    from rag.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m evals.calibrate", description=__doc__)
    parser.add_argument("questions", nargs="*", type=Path, default=[DEFAULT_PATH])
    parser.add_argument("--low", type=float, default=0.30)
    parser.add_argument("--high", type=float, default=0.60)
    parser.add_argument("--step", type=float, default=0.02)
    args = parser.parse_args(argv)
    answerer = load_extractive(get_settings())
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    items = [item for path in args.questions for item in load_items(path)]
    count = round((args.high - args.low) / args.step) + 1
    thresholds = [round(args.low + i * args.step, 4) for i in range(count)]
    print(f"{'threshold':>9} {'facts':>6} {'abstain':>8} {'false_abst':>10} {'score':>6}")
    best: tuple[float, float] | None = None
    for threshold, summary in sweep(answerer, items, texts, thresholds):
        score = summary["abstain_recall"] - summary["false_abstain"]
        print(
            f"{threshold:9.3f} {summary['fact_recall_answerable']:6.3f} {summary['abstain_recall']:8.3f} "
            f"{summary['false_abstain']:10.3f} {score:6.3f}"
        )
        if best is None or score > best[1]:
            best = (threshold, score)
    if best is not None:
        print(f"best threshold: {best[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
