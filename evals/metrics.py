"""Quality metrics, each a small pure function with its definition in the docstring.

Answer metrics (facts, exact spans, abstention), retrieval metrics against gold quotes (hit,
recall, MRR, nDCG), grounding metrics over answer sentences (faithfulness, ALCE citation recall
and precision) and a bootstrap interval for any of them. evals/run.py applies them per item.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rag.answer_sentences import AnswerSentence


def normalise_for_match(text: str) -> str:
    """Case-folded, accents and punctuation removed, digit groups joined ('28,000' == '28000'),
    typographic quotes unified, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"(?<=\d)[,. ](?=\d{3}\b)", "", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def fact_recall(answer: str, facts: Sequence[Sequence[str]]) -> float:
    """Share of required facts present in the answer; a fact is present when any accepted
    variant occurs as a whole-word phrase after normalisation. 1.0 when there are no facts."""
    if not facts:
        return 1.0
    haystack = f" {normalise_for_match(answer)} "
    found = sum(
        any(f" {normalise_for_match(variant)} " in haystack for variant in variants if variant.strip())
        for variants in facts
    )
    return found / len(facts)


def exact_span_share(citations: Sequence[Mapping[str, Any]], source_texts: Mapping[str, str]) -> float:
    """Share of citations whose quote equals source_text[start:end]. 1.0 when there are none."""
    if not citations:
        return 1.0
    exact = sum(
        source_texts.get(c["source_id"], "")[c["start"] : c["end"]] == c["quote"] and bool(c["quote"])
        for c in citations
    )
    return exact / len(citations)


def abstention_rates(rows: Sequence[tuple[bool, bool]]) -> dict[str, float]:
    """From (answerable, abstained) pairs: abstain_recall = abstained share of unanswerable items;
    false_abstain = abstained share of answerable items."""
    unanswerable = [abstained for answerable, abstained in rows if not answerable]
    answerable = [abstained for answerable, abstained in rows if answerable]
    return {
        "abstain_recall": sum(unanswerable) / len(unanswerable) if unanswerable else 1.0,
        "false_abstain": sum(answerable) / len(answerable) if answerable else 0.0,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- Retrieval, against gold quotes -------------------------------------------------------------
# A span is (source_id, start, end). A retrieved chunk is relevant to a gold quote when it covers
# at least half of the quote's characters at one of the places the quote occurs.

Span = tuple[str, int, int]
COVER_SHARE = 0.5


def quote_pattern(quote: str) -> re.Pattern[str] | None:
    """The quote as a pattern in which any run of white space matches any other: a gold quote
    written on one line still finds a sentence that a PDF wraps over two."""
    parts = quote.split()
    return re.compile(r"\s+".join(re.escape(part) for part in parts)) if parts else None


def locate_quotes(quotes: Sequence[str], source_texts: Mapping[str, str]) -> list[list[Span]]:
    """For each gold quote, every place it occurs: (source_id, start, end); [] if nowhere."""
    located = []
    for quote in quotes:
        pattern = quote_pattern(quote)
        spans = []
        for source_id, text in source_texts.items():
            if pattern is not None:
                spans += [(source_id, m.start(), m.end()) for m in pattern.finditer(text)]
        located.append(spans)
    return located


def covers(chunk: Span, occurrences: Sequence[Span], share: float = COVER_SHARE) -> bool:
    """True when `chunk` holds at least `share` of the quote's characters at one occurrence."""
    source_id, start, end = chunk
    return any(
        sid == source_id and q_end > q_start and (min(end, q_end) - max(start, q_start)) >= share * (q_end - q_start)
        for sid, q_start, q_end in occurrences
    )


def relevance(retrieved: Sequence[Span], gold: Sequence[Sequence[Span]]) -> list[set[int]]:
    """Per retrieved chunk, in rank order: the indexes of the gold quotes it covers."""
    return [{i for i, occurrences in enumerate(gold) if covers(chunk, occurrences)} for chunk in retrieved]


def hit_at_k(retrieved: Sequence[Span], gold: Sequence[Sequence[Span]], k: int = 10) -> float:
    """1.0 when one of the first k chunks covers some gold quote, else 0.0."""
    return float(any(relevance(retrieved[:k], gold)))


def recall_at_k(retrieved: Sequence[Span], gold: Sequence[Sequence[Span]], k: int = 10) -> float:
    """Share of the gold quotes covered by at least one of the first k chunks (1.0 with no gold)."""
    if not gold:
        return 1.0
    covered = set().union(*relevance(retrieved[:k], gold)) if retrieved else set()
    return len(covered) / len(gold)


def mrr_at_k(retrieved: Sequence[Span], gold: Sequence[Sequence[Span]], k: int = 10) -> float:
    """Reciprocal rank of the first chunk covering any gold quote within the first k; 0.0 if none."""
    for rank, found in enumerate(relevance(retrieved[:k], gold), start=1):
        if found:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[Span], gold: Sequence[Sequence[Span]], k: int = 10) -> float:
    """nDCG over the first k chunks with graded, novelty-aware gains: the gain at rank i is the
    number of gold quotes first covered there (a chunk repeating evidence already found gains 0),
    discounted by log2(i + 1). The ideal ranking puts the same non-zero gains, plus a gain of 1
    for each gold quote no chunk covered, at the top in decreasing order; so 1.0 means all the
    gold evidence came in, in as few top ranks as it could. 1.0 with no gold."""
    if not gold:
        return 1.0
    seen: set[int] = set()
    gains = []
    for found in relevance(retrieved[:k], gold):
        gains.append(len(found - seen))
        seen |= found
    dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))
    ideal = sorted([g for g in gains if g] + [1] * (len(gold) - len(seen)), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


# --- Grounding of answer sentences in what they cite ---------------------------------------------
# `supports(sentence, passage) -> bool` is rag.grounding.check_support (evals.run passes it in,
# with the embedding model); a sentence's passage is the text of the citations its markers name.

Supports = Callable[[str, str], bool]


def cited_passage(markers: Iterable[int], quotes: Mapping[int, str]) -> str:
    """The union text of the citations named by `markers` (each quote once, in marker order);
    markers naming no citation add nothing."""
    return "\n\n".join(dict.fromkeys(quotes[n] for n in markers if n in quotes))


def faithfulness(sentences: Sequence[AnswerSentence], quotes: Mapping[int, str], supports: Supports) -> float:
    """Share of the answer's sentences that the union of the passages they cite supports; a
    sentence citing nothing is unsupported. 1.0 for an answer without sentences."""
    if not sentences:
        return 1.0
    return sum(_supported(s, quotes, supports) for s in sentences) / len(sentences)


def citation_recall(sentences: Sequence[AnswerSentence], quotes: Mapping[int, str], supports: Supports) -> float:
    """ALCE citation recall: share of sentences that carry at least one citation and whose cited
    passages, taken together, support them. With one support test and one passage rule this
    equals `faithfulness` sentence for sentence; it is reported under its ALCE name beside
    citation precision. 1.0 for an answer without sentences."""
    if not sentences:
        return 1.0
    return sum(bool(s.markers) and _supported(s, quotes, supports) for s in sentences) / len(sentences)


def citation_precision(sentences: Sequence[AnswerSentence], quotes: Mapping[int, str], supports: Supports) -> float:
    """ALCE citation precision over (sentence, citation) pairs: a citation is precise when its
    passage alone supports the sentence, or when all the sentence's citations together support
    it and dropping this one makes the rest fail. A marker naming no citation is imprecise.
    1.0 when no sentence cites anything."""
    pairs = precise = 0
    for sentence in sentences:
        for n in sentence.markers:
            pairs += 1
            precise += citation_is_precise(sentence, n, quotes, supports)
    return precise / pairs if pairs else 1.0


def citation_is_precise(sentence: AnswerSentence, n: int, quotes: Mapping[int, str], supports: Supports) -> bool:
    """One pair of `citation_precision`."""
    if n not in quotes:
        return False
    if supports(sentence.text, quotes[n]):
        return True
    if not _supported(sentence, quotes, supports):
        return False
    rest = [m for m in sentence.markers if m != n]
    return not (rest and supports(sentence.text, cited_passage(rest, quotes)))


def _supported(sentence: AnswerSentence, quotes: Mapping[int, str], supports: Supports) -> bool:
    passage = cited_passage(sentence.markers, quotes)
    return bool(passage) and supports(sentence.text, passage)


# --- Uncertainty ----------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    return sum(values) / len(values) if values else 0.0


def bootstrap_ci(
    values: Sequence[float],
    stat: Callable[[Sequence[float]], float] = mean,
    n: int = 1000,
    seed: int = 13,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `stat` over `values`: `n` resamples with replacement
    (random.Random(seed), so the same values give the same interval), cut at alpha/2 and
    1 - alpha/2. Raises ValueError for no values."""
    if not values:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0 < alpha < 1 or n < 1:
        raise ValueError(f"alpha must be in (0, 1) and n >= 1, got alpha={alpha}, n={n}")
    rng = random.Random(seed)
    values = list(values)
    stats = [stat(rng.choices(values, k=len(values))) for _ in range(n)]
    return percentile(stats, 100 * alpha / 2), percentile(stats, 100 * (1 - alpha / 2))
