"""Quality metrics, each a small pure function with its definition in the docstring."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any


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
