"""From per-item results to numbers: the flat summary, the per-kind breakdown, bootstrap intervals
of the headline means, and the summary table printed by `qa eval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.metrics import abstention_rates, bootstrap_ci, mean, percentile
from evals.results import HEADLINE, EvalReport, ItemResult


def _values(results: Sequence[ItemResult], metric: str) -> list[float]:
    """The per-item values a summary number is the mean of."""
    answerable = [r for r in results if r.answerable]
    if metric == "fact_recall_answerable":
        return [r.fact_recall or 0.0 for r in answerable]
    if metric == "all_facts_found":
        return [float((r.fact_recall or 0.0) == 1.0) for r in answerable]
    if metric == "abstain_recall":
        return [float(r.abstained) for r in results if not r.answerable]
    if metric == "false_abstain":
        return [float(r.abstained) for r in answerable]
    return [value for r in results if (value := r.scores.get(metric)) is not None]


def _comparison_complete(answerable: list[ItemResult]) -> float:
    comparisons = [r for r in answerable if r.kind == "comparison"]
    return mean([float((r.fact_recall or 0.0) == 1.0) for r in comparisons]) if comparisons else 1.0


def summarise(results: list[ItemResult]) -> dict[str, float]:
    """Flat numbers: the original keys first, then coverage and grounding (answered items only),
    then retrieval (items with gold quotes)."""
    answerable = [r for r in results if r.answerable]
    answered = [r for r in results if not r.abstained]
    latencies = [r.latency_ms for r in results]
    all_citations = sum(len(r.citations) for r in results)
    exact = sum(r.exact_span_share * len(r.citations) for r in results)
    summary: dict[str, float] = {
        "items": len(results),
        "fact_recall_answerable": mean(_values(results, "fact_recall_answerable")) if answerable else 1.0,
        "all_facts_found": mean(_values(results, "all_facts_found")) if answerable else 1.0,
        # Comparisons with every fact found: both sides answered.
        "comparison_complete": _comparison_complete(answerable),
        "exact_span_share": exact / all_citations if all_citations else 1.0,
        "citations": all_citations,
        **abstention_rates([(r.answerable, r.abstained) for r in results]),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "answered": len(answered),
        "coverage": len(answered) / len(results) if results else 0.0,
    }
    # Over answered items only: an abstention has no sentences to be faithful or not.
    for metric in ("faithfulness", "citation_recall", "citation_precision"):
        values = _values(results, metric)
        summary[metric] = mean(values) if values else 1.0
    with_gold = [r for r in results if r.gold]
    summary["retrieval_items"] = len(with_gold)
    summary["retrieval_k"] = max((len(r.retrieved) for r in results), default=0)
    for metric in ("hit@k", "recall@k", "mrr@10", "ndcg@10"):
        values = _values(results, metric)
        summary[metric] = mean(values) if values else 1.0
    # The short answers that lead the quotes: how many, and the share that is a required fact.
    short = [v for r in results if (v := r.scores.get("short_answer_right")) is not None]
    summary["short_answers"] = len(short)
    summary["short_answer_precision"] = mean(short) if short else 1.0
    guarded = [r.guard for r in results if r.guard]
    if guarded:
        # llm mode: of all generated sentences, the share the guard dropped or flagged, and the
        # share of questions where nothing survived and the extractive answer was used.
        generated = sum(g["kept"] + g["dropped"] + g["flagged"] for g in guarded)
        summary["guard_sentences"] = generated
        summary["guard_drop_rate"] = sum(g["dropped"] for g in guarded) / generated if generated else 0.0
        summary["guard_flag_rate"] = sum(g["flagged"] for g in guarded) / generated if generated else 0.0
        summary["guard_recited"] = sum(g["recited"] for g in guarded)
        summary["fallback_rate"] = sum(r.fallback is not None for r in results) / len(results)
    return summary


def breakdown(results: list[ItemResult]) -> dict[str, dict[str, float | None]]:
    """Per question kind: counts, and each score over the items of that kind it applies to."""
    kinds: dict[str, dict[str, float | None]] = {}
    for kind in dict.fromkeys(r.kind for r in results):
        group = [r for r in results if r.kind == kind]
        row: dict[str, float | None] = {
            "items": len(group),
            "answered": sum(not r.abstained for r in group),
            "failed": sum(r.failed for r in group),
        }
        answerable = [r for r in group if r.answerable]
        unanswerable = [r for r in group if not r.answerable]
        row["fact_recall"] = mean([r.fact_recall or 0.0 for r in answerable]) if answerable else None
        row["false_abstain"] = mean([float(r.abstained) for r in answerable]) if answerable else None
        row["abstain_recall"] = mean([float(r.abstained) for r in unanswerable]) if unanswerable else None
        for metric in (
            "faithfulness",
            "citation_recall",
            "citation_precision",
            "hit@k",
            "recall@k",
            "mrr@10",
            "ndcg@10",
            "latency_ms",
        ):
            values = _values(group, metric)
            row[metric] = mean(values) if values else None
        kinds[kind] = row
    return kinds


def intervals(results: list[ItemResult]) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals (fixed seed) of the headline means."""
    out = {}
    for metric in HEADLINE:
        values = _values(results, metric)
        if values:
            low, high = bootstrap_ci(values)
            out[metric] = (round(low, 4), round(high, 4))
    return out


def shorten(text: str, limit: int = 120) -> str:
    """One line of at most `limit` characters, for failure reasons and tables."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_summary(report: EvalReport) -> str:
    """The summary table (with 95% intervals, and coverage beside the answered-only scores), the
    per-kind table, then each failing item with its reasons."""
    summary = report.summary
    lines = [f"mode: {report.mode}"]
    for name, value in summary.items():
        line = f"{name:24s} {_number(value)}"
        if name in report.intervals:
            low, high = report.intervals[name]
            line += f"  [{low:.3f}, {high:.3f}]"
        if name in ("faithfulness", "citation_recall", "citation_precision"):
            line += f"  (answered items only; coverage {summary['coverage']:.2f})"
        lines.append(line)
    columns = ("items", "answered", "failed", "fact_recall", "abstain_recall", "faithfulness", "hit@k")
    lines.append("")
    lines.append(f"{'kind':15s}" + "".join(f"{c:>15s}" for c in columns))
    for kind, row in report.by_kind.items():
        lines.append(f"{kind:15s}" + "".join(f"{_number(row.get(c)):>15s}" for c in columns))
    for item in report.failures():
        status = "abstained" if item.abstained else "answered"
        lines.append(f"FAIL {item.id} [{item.kind}] {status}: {item.question}")
        lines += [f"     - {reason}" for reason in item.failure_reasons]
        if not item.abstained:
            lines.append("     " + shorten(item.answer, 300))
    return "\n".join(lines)
