"""Run a question set through an answerer and score every item: facts found, exact spans,
abstention, grounding of each answer sentence in what it cites (faithfulness, citation recall and
precision), retrieval against the gold quotes (hit, recall, MRR, nDCG), latency; with readable
failure reasons per item. Hands on an `EvalReport` (evals/results.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from evals.dataset import EvalItem, validate_gold
from evals.metrics import (
    citation_is_precise,
    citation_precision,
    citation_recall,
    cited_passage,
    exact_span_share,
    fact_recall,
    faithfulness,
    hit_at_k,
    locate_quotes,
    mrr_at_k,
    ndcg_at_k,
    normalise_for_match,
    recall_at_k,
    relevance,
)
from evals.results import EvalReport, ItemResult
from evals.summary import breakdown, intervals, shorten, summarise
from rag.answer import Answer
from rag.answer_sentences import split_answer_sentences
from rag.chain import Answerer
from rag.embeddings import MiniLMEmbeddings
from rag.grounding import DEFAULT, RoleCheck, Support, SupportThresholds, check_support

RANKS = 10  # cut-off of mrr@10 and ndcg@10; hit@k and recall@k see every retrieved chunk
CONTEXT_CHARS = 200  # source text kept on each side of a cited quote, for the report


class SupportJudge:
    """rag.grounding.check_support with the model, thresholds and role check fixed, remembering
    verdicts: citation precision asks about the same sentence and passage more than once."""

    def __init__(
        self,
        embeddings: MiniLMEmbeddings | None = None,
        thresholds: SupportThresholds = DEFAULT,
        roles: RoleCheck | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.thresholds = thresholds
        self.roles = roles
        self._seen: dict[tuple[str, str], Support] = {}

    def support(self, sentence: str, passage: str) -> Support:
        key = (sentence, passage)
        if key not in self._seen:
            self._seen[key] = check_support(
                sentence, passage, embeddings=self.embeddings, thresholds=self.thresholds, roles=self.roles
            )
        return self._seen[key]

    def __call__(self, sentence: str, passage: str) -> bool:
        return self.support(sentence, passage).supported


def evaluate(
    answerer: Answerer,
    items: list[EvalItem],
    source_texts: Mapping[str, str],
    *,
    embeddings: MiniLMEmbeddings | None = None,
    progress: bool = False,
    mode: str = "extractive",
    roles: RoleCheck | None = None,
) -> EvalReport:
    """Ask every item (follow-ups with their `history`) and score it. `embeddings` lets the
    support test accept paraphrases (needed for an answerer that does not quote); without it
    support is judged on words alone; `roles` adds the check of who does what to whom (for
    written answers: quotes are the source's own words). `mode` names the answerer for the
    report and the gate."""
    validate_gold(items, source_texts)
    judge = SupportJudge(embeddings, roles=roles)
    iterator: Iterable[EvalItem] = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc=f"eval ({mode})", unit="question", file=sys.stderr)
    results = []
    for item in iterator:
        started = time.perf_counter()
        answer = answerer.answer(item.question, history=item.history or None)
        latency = (time.perf_counter() - started) * 1000
        results.append(score_item(item, answer, latency, source_texts, judge))
    return EvalReport(results, summarise(results), mode=mode, by_kind=breakdown(results), intervals=intervals(results))


def score_item(
    item: EvalItem, answer: Answer, latency_ms: float, source_texts: Mapping[str, str], judge: SupportJudge
) -> ItemResult:
    """Every per-item metric and the reasons the item fails, if it does."""
    citations = [c.model_dump() for c in answer.citations]
    answered = not answer.abstained
    facts = (
        fact_recall(answer.answer, item.facts) if item.answerable and answered else (0.0 if item.answerable else None)
    )
    exact = exact_span_share(citations, source_texts)
    scores: dict[str, float | None] = {
        "fact_recall": facts,
        "exact_span_share": exact,
        "short_answer_right": short_answer_right(answer, item) if answered else None,
    }
    reasons = _answer_reasons(item, answer, citations, source_texts)
    sentences: list[dict[str, Any]] = []
    if answered:
        sentences = _grounding(answer, citations, judge, scores, reasons)
    else:
        scores.update(faithfulness=None, citation_recall=None, citation_precision=None)
    retrieved = _retrieval(item, answer, source_texts, scores, reasons)
    scores["latency_ms"] = round(latency_ms, 2)
    return ItemResult(
        item.id,
        item.kind,
        item.question,
        item.answerable,
        answer.abstained,
        answer.answer,
        facts,
        exact,
        latency_ms,
        citations,
        scores=scores,
        failure_reasons=reasons,
        sentences=sentences,
        retrieved=retrieved,
        passages=[_passage(c, source_texts) for c in citations],
        history=list(item.history),
        facts=[list(f) for f in item.facts],
        gold=list(item.gold),
        guard=answer.guard.model_dump() if answer.guard else None,
        fallback=answer.fallback,
        short_answer=_short_text(answer),
    )


def short_answer_right(answer: Answer, item: EvalItem) -> float | None:
    """1 when the short answer that leads the quotes is (part of) a required fact, or holds one;
    0 when it is neither, or the question should have been declined; None when there is none.
    For a short list, the share of its items that are right."""
    spans = [answer.short_answer] if answer.short_answer is not None else answer.short_list
    if not spans:
        return None
    return sum(_is_a_fact(span.text, item) for span in spans) / len(spans)


def _is_a_fact(text: str, item: EvalItem) -> bool:
    short = f" {normalise_for_match(text)} "
    for variants in item.facts if item.answerable else ():
        for variant in (f" {normalise_for_match(v)} " for v in variants if v.strip()):
            if short in variant or variant in short:
                return True
    return False


def _short_text(answer: Answer) -> str | None:
    if answer.short_answer is not None:
        return answer.short_answer.text
    return ", ".join(span.text for span in answer.short_list) or None


def _answer_reasons(
    item: EvalItem, answer: Answer, citations: list[dict[str, Any]], source_texts: Mapping[str, str]
) -> list[str]:
    """Failures of the answer itself: a wrong abstention, a missing fact, an inexact quote."""
    answered = not answer.abstained
    reasons = []
    if item.answerable and not answered:
        reasons.append("abstained on an answerable question")
    if not item.answerable and answered:
        reasons.append("answered an unanswerable question")
    if item.answerable and answered:
        haystack = f" {normalise_for_match(answer.answer)} "
        reasons += [
            f"missing fact: {variants[0]}"
            for variants in item.facts
            if not any(f" {normalise_for_match(v)} " in haystack for v in variants if v.strip())
        ]
    reasons += [
        f"citation [{c['n']}] is not the exact span {c['source_id']}[{c['start']}:{c['end']}]"
        for c in citations
        if source_texts.get(c["source_id"], "")[c["start"] : c["end"]] != c["quote"]
    ]
    return reasons


def _grounding(
    answer: Answer,
    citations: list[dict[str, Any]],
    judge: SupportJudge,
    scores: dict[str, float | None],
    reasons: list[str],
) -> list[dict[str, Any]]:
    """Each answer sentence judged against what it cites; fills the grounding scores and reasons."""
    quotes = {c["n"]: c["quote"] for c in citations}
    split = split_answer_sentences(answer.answer)
    sentences: list[dict[str, Any]] = []
    for sentence in split:
        passage = cited_passage(sentence.markers, quotes)
        verdict = judge.support(sentence.text, passage) if passage else Support(False, ["cites nothing"])
        imprecise = [n for n in sentence.markers if not citation_is_precise(sentence, n, quotes, judge)]
        sentences.append(
            {
                "text": sentence.text,
                "markers": sentence.markers,
                "supported": verdict.supported,
                "reasons": verdict.reasons,
                "lexical": verdict.lexical,
                "semantic": verdict.semantic,
                "imprecise_citations": imprecise,
            }
        )
        if not verdict.supported:
            reasons.append(f"unsupported sentence: {shorten(sentence.text)} ({'; '.join(verdict.reasons)})")
        reasons += [f"citation [{n}] adds no support to: {shorten(sentence.text)}" for n in imprecise]
    scores["faithfulness"] = faithfulness(split, quotes, judge)
    scores["citation_recall"] = citation_recall(split, quotes, judge)
    scores["citation_precision"] = citation_precision(split, quotes, judge)
    return sentences


def _retrieval(
    item: EvalItem, answer: Answer, source_texts: Mapping[str, str], scores: dict[str, float | None], reasons: list[str]
) -> list[dict[str, Any]]:
    """The retrieved chunks against the gold quotes; fills the retrieval scores and reasons."""
    spans = [(r.source_id, r.start, r.end) for r in answer.retrieved]
    gold = locate_quotes(item.gold, source_texts)
    covered = relevance(spans, gold)
    retrieved = [{**r.model_dump(), "gold": sorted(found)} for r, found in zip(answer.retrieved, covered, strict=True)]
    if item.gold:
        scores.update(
            {
                "hit@k": hit_at_k(spans, gold, len(spans)),
                "recall@k": recall_at_k(spans, gold, len(spans)),
                "mrr@10": mrr_at_k(spans, gold, RANKS),
                "ndcg@10": ndcg_at_k(spans, gold, RANKS),
            }
        )
        found = set().union(*covered) if covered else set()
        reasons += [
            f"gold evidence not retrieved: {shorten(quote, 80)}" for i, quote in enumerate(item.gold) if i not in found
        ]
    else:
        scores.update({"hit@k": None, "recall@k": None, "mrr@10": None, "ndcg@10": None})
    return retrieved


def _passage(citation: Mapping[str, Any], source_texts: Mapping[str, str]) -> dict[str, Any]:
    text = source_texts.get(citation["source_id"], "")
    start, end = citation["start"], citation["end"]
    return {
        "n": citation["n"],
        "before": text[max(0, start - CONTEXT_CHARS) : start],
        "quote": citation["quote"],
        "after": text[end : end + CONTEXT_CHARS],
        "source_id": citation["source_id"],
        "title": citation.get("title", ""),
        "section": citation.get("section", ""),
    }
