"""Run a question set through an answerer and score every item: facts found, exact spans,
abstention, grounding of each answer sentence in what it cites (faithfulness, citation recall and
precision), retrieval against the gold quotes (hit, recall, MRR, nDCG), latency; with readable
failure reasons per item, a per-kind breakdown and bootstrap intervals for the headline numbers.

  qa eval [QUESTIONS] [--out DIR] [--mode extractive|llm] [--gate]
  python -m evals.run [same arguments]

Prints the summary and the failures and writes report.json, report.md and report.html to --out
(evals/report.py). --gate exits 1 when a metric misses evals/thresholds.toml.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.dataset import DEFAULT_PATH, EvalItem, load_items, validate_gold
from evals.metrics import (
    abstention_rates,
    bootstrap_ci,
    citation_is_precise,
    citation_precision,
    citation_recall,
    cited_passage,
    exact_span_share,
    fact_recall,
    faithfulness,
    hit_at_k,
    locate_quotes,
    mean,
    mrr_at_k,
    ndcg_at_k,
    normalise_for_match,
    percentile,
    recall_at_k,
    relevance,
)
from rag.chain import Answerer
from rag.errors import ConfigError, InputError, QAError
from rag.grounding import DEFAULT, Support, SupportThresholds, check_support, split_answer_sentences

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.toml")
MODES = ("extractive", "llm")
RANKS = 10  # cut-off of mrr@10 and ndcg@10; hit@k and recall@k see every retrieved chunk
CONTEXT_CHARS = 200  # source text kept on each side of a cited quote, for the report
# Headline numbers: summary key -> how its per-item values are picked (for bootstrap intervals).
HEADLINE = ("fact_recall_answerable", "all_facts_found", "abstain_recall", "false_abstain", "faithfulness",
            "citation_recall", "citation_precision", "hit@k", "recall@k", "mrr@10", "ndcg@10")


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
    scores: dict[str, float | None] = field(default_factory=dict)  # every per-item metric, None = not applicable
    failure_reasons: list[str] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)  # text, markers, supported, reasons
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # rank order, with the gold quotes each covers
    passages: list[dict[str, Any]] = field(default_factory=list)  # per citation: text before, quote, after
    history: list[dict[str, str]] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    guard: dict[str, Any] | None = None  # llm mode: what the grounding guard did
    fallback: str | None = None  # llm mode: "extractive" when nothing generated survived

    @property
    def failed(self) -> bool:
        return bool(self.failure_reasons)


@dataclass
class EvalReport:
    items: list[ItemResult]
    summary: dict[str, float]
    mode: str = "extractive"
    by_kind: dict[str, dict[str, float | None]] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95% bootstrap, headline numbers
    external: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # yardstick -> rows beside ours
    comparison: dict[str, dict[str, float]] = field(default_factory=dict)  # other mode -> its summary

    def failures(self) -> list[ItemResult]:
        return [item for item in self.items if item.failed]

    def compare_with(self, other: EvalReport) -> None:
        """Carry another mode's summary, for the side-by-side block of the reports."""
        if other.mode == self.mode:
            raise ValueError(f"both reports are for the {self.mode} mode")
        self.comparison[other.mode] = dict(other.summary)


class SupportJudge:
    """rag.grounding.check_support with the model and thresholds fixed, remembering verdicts:
    citation precision asks about the same sentence and passage more than once."""

    def __init__(self, embeddings=None, thresholds: SupportThresholds = DEFAULT) -> None:
        self.embeddings = embeddings
        self.thresholds = thresholds
        self._seen: dict[tuple[str, str], Support] = {}

    def support(self, sentence: str, passage: str) -> Support:
        key = (sentence, passage)
        if key not in self._seen:
            self._seen[key] = check_support(sentence, passage, embeddings=self.embeddings, thresholds=self.thresholds)
        return self._seen[key]

    def __call__(self, sentence: str, passage: str) -> bool:
        return self.support(sentence, passage).supported


def evaluate(
    answerer: Answerer,
    items: list[EvalItem],
    source_texts: Mapping[str, str],
    *,
    embeddings=None,
    progress: bool = False,
    mode: str = "extractive",
) -> EvalReport:
    """Ask every item (follow-ups with their `history`) and score it. `embeddings` lets the
    support test accept paraphrases (needed for an answerer that does not quote); without it
    support is judged on words alone. `mode` names the answerer for the report and the gate."""
    validate_gold(items, source_texts)
    judge = SupportJudge(embeddings)
    iterator: Sequence[EvalItem] = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc=f"eval ({mode})", unit="question", file=sys.stderr)
    results = []
    for item in iterator:
        started = time.perf_counter()
        answer = answerer.answer(item.question, history=item.history or None)
        latency = (time.perf_counter() - started) * 1000
        results.append(score_item(item, answer, latency, source_texts, judge))
    return EvalReport(results, summarise(results), mode=mode, by_kind=breakdown(results),
                      intervals=intervals(results))


def score_item(item: EvalItem, answer, latency_ms: float, source_texts: Mapping[str, str],
               judge: SupportJudge) -> ItemResult:
    """Every per-item metric and the reasons the item fails, if it does."""
    citations = [c.model_dump() for c in answer.citations]
    answered = not answer.abstained
    facts = fact_recall(answer.answer, item.facts) if item.answerable and answered else (
        0.0 if item.answerable else None)
    scores: dict[str, float | None] = {"fact_recall": facts, "exact_span_share": exact_span_share(citations, source_texts)}
    reasons = []
    if item.answerable and not answered:
        reasons.append("abstained on an answerable question")
    if not item.answerable and answered:
        reasons.append("answered an unanswerable question")
    if item.answerable and answered:
        haystack = f" {normalise_for_match(answer.answer)} "
        reasons += [f"missing fact: {variants[0]}" for variants in item.facts
                    if not any(f" {normalise_for_match(v)} " in haystack for v in variants if v.strip())]
    reasons += [f"citation [{c['n']}] is not the exact span {c['source_id']}[{c['start']}:{c['end']}]"
                for c in citations if source_texts.get(c["source_id"], "")[c["start"]:c["end"]] != c["quote"]]

    sentences: list[dict[str, Any]] = []
    if answered:
        quotes = {c["n"]: c["quote"] for c in citations}
        split = split_answer_sentences(answer.answer)
        for sentence in split:
            passage = cited_passage(sentence.markers, quotes)
            verdict = judge.support(sentence.text, passage) if passage else Support(False, ["cites nothing"])
            imprecise = [n for n in sentence.markers if not citation_is_precise(sentence, n, quotes, judge)]
            sentences.append({"text": sentence.text, "markers": sentence.markers, "supported": verdict.supported,
                              "reasons": verdict.reasons, "lexical": verdict.lexical, "semantic": verdict.semantic,
                              "imprecise_citations": imprecise})
            if not verdict.supported:
                reasons.append(f"unsupported sentence: {_short(sentence.text)} ({'; '.join(verdict.reasons)})")
            reasons += [f"citation [{n}] adds no support to: {_short(sentence.text)}" for n in imprecise]
        scores["faithfulness"] = faithfulness(split, quotes, judge)
        scores["citation_recall"] = citation_recall(split, quotes, judge)
        scores["citation_precision"] = citation_precision(split, quotes, judge)
    else:
        scores.update(faithfulness=None, citation_recall=None, citation_precision=None)

    spans = [(r.source_id, r.start, r.end) for r in answer.retrieved]
    gold = locate_quotes(item.gold, source_texts)
    covered = relevance(spans, gold)
    retrieved = [{**r.model_dump(), "gold": sorted(found)} for r, found in zip(answer.retrieved, covered)]
    if item.gold:
        scores.update({"hit@k": hit_at_k(spans, gold, len(spans)), "recall@k": recall_at_k(spans, gold, len(spans)),
                       "mrr@10": mrr_at_k(spans, gold, RANKS), "ndcg@10": ndcg_at_k(spans, gold, RANKS)})
        found = set().union(*covered) if covered else set()
        reasons += [f"gold evidence not retrieved: {_short(quote, 80)}" for i, quote in enumerate(item.gold)
                    if i not in found]
    else:
        scores.update({"hit@k": None, "recall@k": None, "mrr@10": None, "ndcg@10": None})
    scores["latency_ms"] = round(latency_ms, 2)

    return ItemResult(
        item.id, item.kind, item.question, item.answerable, answer.abstained, answer.answer, facts,
        scores["exact_span_share"], latency_ms, citations, scores=scores, failure_reasons=reasons,
        sentences=sentences, retrieved=retrieved, passages=[_passage(c, source_texts) for c in citations],
        history=list(item.history), facts=[list(f) for f in item.facts], gold=list(item.gold),
        guard=answer.guard.model_dump() if answer.guard else None, fallback=answer.fallback,
    )


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _passage(citation: Mapping[str, Any], source_texts: Mapping[str, str]) -> dict[str, Any]:
    text = source_texts.get(citation["source_id"], "")
    start, end = citation["start"], citation["end"]
    return {"n": citation["n"], "before": text[max(0, start - CONTEXT_CHARS):start], "quote": citation["quote"],
            "after": text[end:end + CONTEXT_CHARS], "source_id": citation["source_id"],
            "title": citation.get("title", ""), "section": citation.get("section", "")}


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
    return [r.scores[metric] for r in results if r.scores.get(metric) is not None]


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
        row: dict[str, float | None] = {"items": len(group), "answered": sum(not r.abstained for r in group),
                                        "failed": sum(r.failed for r in group)}
        answerable = [r for r in group if r.answerable]
        unanswerable = [r for r in group if not r.answerable]
        row["fact_recall"] = mean([r.fact_recall or 0.0 for r in answerable]) if answerable else None
        row["false_abstain"] = mean([float(r.abstained) for r in answerable]) if answerable else None
        row["abstain_recall"] = mean([float(r.abstained) for r in unanswerable]) if unanswerable else None
        for metric in ("faithfulness", "citation_recall", "citation_precision", "hit@k", "recall@k", "mrr@10",
                       "ndcg@10", "latency_ms"):
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


def gate(summary: Mapping[str, float], path: Path = THRESHOLDS_PATH, mode: str = "extractive") -> list[str]:
    """Metrics that miss their bounds, as readable lines (empty when everything passes): the
    [min]/[max] tables for every mode, then [<mode>.min]/[<mode>.max] for this one."""
    bounds = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = [bounds, bounds.get(mode, {})]
    misses = []
    for table in tables:
        for name, low in table.get("min", {}).items():
            if name not in summary:
                misses.append(f"{name} is not in the summary")
            elif summary[name] < low:
                misses.append(f"{name} = {summary[name]:.3f} < {low}")
        for name, high in table.get("max", {}).items():
            if name not in summary:
                misses.append(f"{name} is not in the summary")
            elif summary[name] > high:
                misses.append(f"{name} = {summary[name]:.3f} > {high}")
    return misses


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
            lines.append("     " + _short(item.answer, 300))
    return "\n".join(lines)


def load_mode_answerer(settings, mode: str, embeddings=None):
    """The answerer for `mode`, from the one factory rag.chain.load_answerer."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    from rag.chain import load_answerer

    return load_answerer(settings, embeddings, mode=mode)


def _source_texts(answerer) -> dict[str, str]:
    snapshot = getattr(answerer, "snapshot", None)
    if snapshot is None:
        raise ConfigError(f"{type(answerer).__name__} has no index snapshot to score citations against")
    return {sid: doc.text for sid, doc in snapshot.sources.items()}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_PATH, help="a question set (JSONL)")
    parser.add_argument("--out", type=Path, default=Path("eval-out"),
                        help="folder for report.json, report.md and report.html (default: eval-out/)")
    parser.add_argument("--mode", choices=MODES, default="extractive", help="which answerer to evaluate")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric misses evals/thresholds.toml")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="run the evaluation suite and write reports")
    _add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings) -> int:
    """Evaluate, print, write the reports; 1 when --gate and a bound is missed."""
    from evals.report import write_reports

    items = load_items(args.questions)  # a bad file fails before the model loads
    answerer = load_mode_answerer(settings, args.mode)
    embeddings = getattr(getattr(answerer, "retriever", None), "embeddings", None)
    report = evaluate(answerer, items, _source_texts(answerer), embeddings=embeddings, progress=True, mode=args.mode)
    extractive = getattr(answerer, "extractive", None)
    if extractive is not None:
        # The generative mode is judged beside the extractive one on the same questions.
        report.compare_with(evaluate(extractive, items, _source_texts(answerer), embeddings=embeddings,
                                     progress=True, mode="extractive"))
    print(format_summary(report))
    paths = write_reports(report, args.out)
    print("reports: " + ", ".join(str(p) for p in paths.values()))
    misses = gate(report.summary, mode=args.mode)
    for miss in misses:
        print(f"GATE {miss}", file=sys.stderr)
    return 1 if (args.gate and misses) else 0


def main(argv: list[str] | None = None) -> int:
    from rag.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args, get_settings())
    except (ConfigError, InputError) as error:
        print(f"python -m evals.run: {error}", file=sys.stderr)
        return 2
    except QAError as error:
        print(f"python -m evals.run: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
