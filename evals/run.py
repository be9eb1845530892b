"""Run a question set through an answerer and score it: facts found, exact spans, abstention,
latency. `python -m evals.run [--gate]` prints the summary; --gate exits 1 below thresholds."""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.dataset import DEFAULT_PATH, EvalItem, load_items, validate_gold
from evals.metrics import abstention_rates, exact_span_share, fact_recall, percentile
from rag.chain import Answerer

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.toml")


@dataclass
class ItemResult:
    id: str
    kind: str
    question: str
    answerable: bool
    abstained: bool
    answer: str
    fact_recall: float | None
    exact_span_share: float
    latency_ms: float
    citations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        if self.answerable:
            return self.abstained or (self.fact_recall or 0.0) < 1.0 or self.exact_span_share < 1.0
        return not self.abstained


@dataclass
class EvalReport:
    items: list[ItemResult]
    summary: dict[str, float]

    def failures(self) -> list[ItemResult]:
        return [item for item in self.items if item.failed]


def evaluate(answerer: Answerer, items: list[EvalItem], source_texts: Mapping[str, str]) -> EvalReport:
    validate_gold(items, source_texts)
    results = []
    for item in items:
        started = time.perf_counter()
        answer = answerer.answer(item.question, history=item.history or None)
        latency = (time.perf_counter() - started) * 1000
        citations = [c.model_dump() for c in answer.citations]
        results.append(
            ItemResult(
                item.id, item.kind, item.question, item.answerable, answer.abstained, answer.answer,
                fact_recall(answer.answer, item.facts) if item.answerable and not answer.abstained
                else (0.0 if item.answerable else None),
                exact_span_share(citations, source_texts), latency, citations,
            )
        )
    return EvalReport(results, summarise(results))


def summarise(results: list[ItemResult]) -> dict[str, float]:
    answerable = [r for r in results if r.answerable]
    latencies = [r.latency_ms for r in results]
    all_citations = sum(len(r.citations) for r in results)
    exact = sum(r.exact_span_share * len(r.citations) for r in results)
    return {
        "items": len(results),
        "fact_recall_answerable": sum(r.fact_recall or 0.0 for r in answerable) / len(answerable) if answerable else 1.0,
        "all_facts_found": sum((r.fact_recall or 0.0) == 1.0 for r in answerable) / len(answerable) if answerable else 1.0,
        "exact_span_share": exact / all_citations if all_citations else 1.0,
        "citations": all_citations,
        **abstention_rates([(r.answerable, r.abstained) for r in results]),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    }


def gate(summary: Mapping[str, float], path: Path = THRESHOLDS_PATH) -> list[str]:
    """Metrics that miss their bounds, as readable lines (empty when everything passes)."""
    bounds = tomllib.loads(path.read_text(encoding="utf-8"))
    misses = [f"{name} = {summary[name]:.3f} < {low}" for name, low in bounds.get("min", {}).items()
              if summary[name] < low]
    misses += [f"{name} = {summary[name]:.3f} > {high}" for name, high in bounds.get("max", {}).items()
               if summary[name] > high]
    return misses


def format_summary(report: EvalReport) -> str:
    lines = [f"{name:24s} {value:.3f}" if isinstance(value, float) else f"{name:24s} {value}"
             for name, value in report.summary.items()]
    for item in report.failures():
        status = "abstained" if item.abstained else "answered"
        recall = "" if item.fact_recall is None else f" facts={item.fact_recall:.2f}"
        lines.append(f"FAIL {item.id} [{item.kind}] {status}{recall}: {item.question}")
        if not item.abstained:
            lines.append("     " + " ".join(item.answer.split())[:300])
    return "\n".join(lines)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="run the evaluation suite and write reports")
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric misses evals/thresholds.toml")
    parser.set_defaults(handler=_run_cli)


def _run_cli(args, settings) -> int:
    return main([str(args.questions)] + (["--gate"] if args.gate else []))


def main(argv: list[str] | None = None) -> int:
    from rag.chain import load_answerer
    from rag.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__)
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric misses evals/thresholds.toml")
    args = parser.parse_args(argv)
    answerer = load_answerer(get_settings())
    report = evaluate(answerer, load_items(args.questions),
                      {sid: doc.text for sid, doc in answerer.snapshot.sources.items()})
    print(format_summary(report))
    misses = gate(report.summary)
    for miss in misses:
        print(f"GATE {miss}", file=sys.stderr)
    return 1 if (args.gate and misses) else 0


if __name__ == "__main__":
    sys.exit(main())
