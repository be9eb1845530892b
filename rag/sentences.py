"""The sentence splitter that ingest and answering share: where a sentence ends, and where a
list item starts. Ingest cuts documents into sentences with it; the grounding check cuts passages
and generated answers with it, so both sides agree on what one sentence is.

Spans are character offsets into the text given, trimmed of white space, so they slice back to
the exact text a citation quotes.
"""

from __future__ import annotations

import re

# A bullet or numbered-list marker at the start of a line; the item text starts after it.
LIST_MARKER = re.compile(r"(?:[•◦▪‣●○■□\-*–—]|\d{1,3}[.)])\s+")
# Sentence end: . ! ? or … with optional closing quotes/brackets, then space, then a likely start.
SENTENCE_END = re.compile(r"[.!?…]+[’”\"')\]]*(?=\s+[\"“‘’'(\[]?[A-Z0-9À-ÖØ-Þ•])")
# Words after which a period does not end a sentence: English titles, months, company and
# reference abbreviations, and "Mt." of a mountain's name.
ABBREVIATIONS = frozenset(
    "mr mrs ms messrs mme mlle dr prof st mt mts gen sen rep gov lt col capt sgt maj adm cpl hon rev jr sr "
    "vs etc approx fig figs vol vols pp jan feb mar apr jun jul aug sep sept oct nov dec "
    "inc ltd co corp bros dept univ est e.g i.e cf al".split()
)
# Abbreviations that stand before a number: "No. 5", "c. 1550 BC" (circa), "pp. 12-14".
BEFORE_NUMBERS = frozenset({"no", "nos", "c", "ca"})
# What follows such an abbreviation: a number, perhaps after the era ("c. AD 624").
NUMBER_AHEAD = re.compile(r"\s*(?:AD\s+|A\.D\.\s*)?\d")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"“‘’'[":
        word_start -= 1
    word = text[word_start : dot + 1]
    bare = word.rstrip(".").lower()
    if bare in ABBREVIATIONS:
        return True
    if re.fullmatch(r"[A-Z]\.", word):  # an initial: "John F. Kennedy", "Albert C. Read"
        return True
    if bare in BEFORE_NUMBERS:  # "No. 5", "c. AD 624", but "he said no. The talks..." ends a sentence
        return NUMBER_AHEAD.match(text, dot + 1) is not None
    return re.fullmatch(r"(?:[A-Za-z]\.){2,}", word) is not None  # U.S., e.g., U.K.


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end] (a paragraph or a list item), trimmed of spaces."""
    spans, pos = [], start
    for match in SENTENCE_END.finditer(text, start, end):
        stop = match.end()
        if text[match.start()] == "." and match.end() - match.start() == 1 and _is_abbreviation(text, match.start()):
            continue
        spans.append((pos, stop))
        pos = stop
    spans.append((pos, end))
    trimmed = []
    for left, right in spans:
        while left < right and text[left].isspace():
            left += 1
        while right > left and text[right - 1].isspace():
            right -= 1
        if right > left:
            trimmed.append((left, right))
    return trimmed
