"""An external yardstick: ragas 0.4.3's non-LLM metrics run on our outputs for the question set,
set beside our own numbers in the report, and checked to agree with them in direction.

What ragas is given (its string metrics compare texts, so they get sentences, not whole chunks,
whose length alone would sink a Levenshtein similarity):
  NonLLMContextRecall      reference_contexts = the source sentences holding each gold quote;
                           retrieved_contexts = the sentences of the retrieved chunks.
  IDBasedContextPrecision  reference_context_ids = every index chunk covering a gold quote
                           (evals.metrics.covers); retrieved_context_ids = the retrieved chunks.
  StringPresence           per expected fact, any accepted variant in the answer (case-sensitive).
  RougeScore               ROUGE-L recall of the gold quotes in the answer.
Runs offline: ragas only imports LLM clients, these metrics never call one.
"""

from __future__ import annotations

import math
import os
import warnings

import pytest

from evals.dataset import load_items
from evals.metrics import covers, locate_quotes, mean, recall_at_k
from evals.report import write_reports
from evals.scoring import evaluate
from rag.answer_sentences import MARKER

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # before ragas is imported: no usage analytics


@pytest.fixture(scope="module")
def ragas():
    with warnings.catch_warnings():
        # 0.4.3 points these imports at ragas.metrics.collections, whose classes need an LLM client.
        warnings.simplefilter("ignore", DeprecationWarning)
        import ragas
        from ragas import SingleTurnSample
        from ragas.metrics import IDBasedContextPrecision, NonLLMContextRecall, RougeScore, StringPresence
    assert ragas.__version__ == "0.4.3"
    return {
        "sample": SingleTurnSample,
        "recall": NonLLMContextRecall(),
        "precision": IDBasedContextPrecision(),
        "presence": StringPresence(),
        "rouge": RougeScore(rouge_type="rougeL", mode="recall"),
    }


@pytest.fixture(scope="module")
def run(answerer, embeddings):
    items = load_items()
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    return items, texts, evaluate(answerer, items, texts, embeddings=embeddings)


def _score(metric, sample) -> float:
    value = float(metric.single_turn_score(sample))
    assert math.isfinite(value) and 0.0 <= value <= 1.0, (metric.name, value)
    return value


def _group_means(pairs: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """Mean ragas score where ours is 1, and where ours is below 1 (None for an empty group)."""
    high = [theirs for ours, theirs in pairs if ours == 1.0]
    low = [theirs for ours, theirs in pairs if ours < 1.0]
    return (mean(high) if high else None), (mean(low) if low else None)


@pytest.mark.integration
def test_ragas_non_llm_metrics_agree_with_ours(ragas, run, answerer, tmp_path):
    items, texts, report = run
    snapshot = answerer.snapshot
    Sample = ragas["sample"]
    by_id = {item.id: item for item in items}

    def chunk_sentences(chunk_ids: list[str]) -> list[str]:
        rows = [s for cid in chunk_ids for s in snapshot.sentences_of(snapshot.chunks[snapshot.chunk_position[cid]])]
        return list(dict.fromkeys(" ".join(s.text.split()) for s in rows))

    recall_full, recall_top1, precision, presence, rouge = [], [], [], [], []
    for result in report.items:
        item = by_id[result.id]
        if item.gold:
            gold = locate_quotes(item.gold, texts)
            reference = list(
                dict.fromkeys(
                    " ".join(s.text.split())
                    for spans in gold
                    for sid, start, end in spans
                    for s in snapshot.sentences_of_source(sid)
                    if s.start < end and start < s.end
                )
            )
            chunk_ids = [r["chunk_id"] for r in result.retrieved]
            spans = [(r["source_id"], r["start"], r["end"]) for r in result.retrieved]
            # Full depth: ours recall@k against ragas context recall.
            theirs = _score(
                ragas["recall"], Sample(retrieved_contexts=chunk_sentences(chunk_ids), reference_contexts=reference)
            )
            recall_full.append((result.scores["recall@k"], theirs))
            # Top chunk only: where the two can disagree, as ranks differ between questions.
            theirs = _score(
                ragas["recall"], Sample(retrieved_contexts=chunk_sentences(chunk_ids[:1]), reference_contexts=reference)
            )
            recall_top1.append((recall_at_k(spans, gold, 1), theirs))
            relevant = [
                c.chunk_id
                for c in snapshot.chunks
                if any(covers((c.source_id, c.start, c.end), occurrences) for occurrences in gold)
            ]
            ours = sum(bool(r["gold"]) for r in result.retrieved) / len(result.retrieved)
            theirs = _score(ragas["precision"], Sample(retrieved_context_ids=chunk_ids, reference_context_ids=relevant))
            precision.append((ours, theirs))
        if item.answerable:
            variants = [
                max(_score(ragas["presence"], Sample(response=result.answer, reference=v)) for v in fact)
                for fact in item.facts
            ]
            presence.append((result.fact_recall, mean(variants)))
            answer = MARKER.sub("", result.answer)
            rouge.append(
                (result.fact_recall, _score(ragas["rouge"], Sample(response=answer, reference=" ".join(item.gold))))
            )
    assert len(recall_full) >= 30 and len(presence) >= 30

    # Context recall: where our recall is 1, ragas finds the gold sentences too; at the top chunk
    # alone, both groups exist and ragas is higher where ours is.
    full_high, full_low = _group_means(recall_full)
    assert full_high is not None and full_high >= 0.9
    if full_low is not None:
        assert full_high > full_low
    top_high, top_low = _group_means(recall_top1)
    assert top_high is not None and top_low is not None, "expected questions with and without gold at rank 1"
    assert top_high > top_low
    # ID-based precision is our own relevance judgement counted ragas's way: they must match.
    for ours, theirs in precision:
        assert theirs == pytest.approx(ours)
    # Facts: ragas's raw substring test is stricter than ours (no normalising), never looser in direction.
    fact_high, fact_low = _group_means(presence)
    assert fact_high is not None and fact_low is not None and fact_high > fact_low
    rouge_high, rouge_low = _group_means(rouge)
    assert rouge_high is not None and rouge_low is not None and rouge_high > rouge_low

    summary = report.summary
    report.external["ragas 0.4.3 (non-LLM)"] = [
        {
            "metric": "non_llm_context_recall",
            "value": mean([t for _, t in recall_full]),
            "ours": "recall@k",
            "our_value": summary["recall@k"],
            "items": len(recall_full),
        },
        {
            "metric": "non_llm_context_recall, top chunk",
            "value": mean([t for _, t in recall_top1]),
            "ours": "recall@1",
            "our_value": mean([o for o, _ in recall_top1]),
            "items": len(recall_top1),
        },
        {
            "metric": "id_based_context_precision",
            "value": mean([t for _, t in precision]),
            "ours": "relevant share of retrieved chunks",
            "our_value": mean([o for o, _ in precision]),
            "items": len(precision),
        },
        {
            "metric": "string_present (per fact)",
            "value": mean([t for _, t in presence]),
            "ours": "fact_recall_answerable",
            "our_value": summary["fact_recall_answerable"],
            "items": len(presence),
        },
        {
            "metric": "rouge_score (rougeL recall of gold)",
            "value": mean([t for _, t in rouge]),
            "ours": "fact_recall_answerable",
            "our_value": summary["fact_recall_answerable"],
            "items": len(rouge),
        },
    ]
    paths = write_reports(report, tmp_path)
    md = paths["md"].read_text(encoding="utf-8")
    assert "## External yardsticks, beside ours" in md
    assert "| ragas 0.4.3 (non-LLM) | id_based_context_precision |" in md
    assert "non_llm_context_recall" in paths["html"].read_text(encoding="utf-8")
    print("\n" + "\n".join(line for line in md.splitlines() if line.startswith("| ragas")))
