"""An answer cut into the sentences that the support test judges, each with the [n] citation
markers that apply to it. The grounding guard, the faithfulness metric and the citation metrics
all read an answer through `split_answer_sentences`, so they agree on what was claimed where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.sentences import LIST_MARKER, split_sentences

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_DOCUMENT_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def neutralise_markers(text: str) -> str:
    """A document's own "[2]" written with full-width brackets ("［2］"): it reads the same, but no
    reader, metric or page takes it for one of the answerer's citation markers, so a planted
    claim cannot pose as attributed to a real source."""
    return _DOCUMENT_MARKER.sub(lambda m: f"［{m.group(1)}］", text)


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # without [n] markers or a list bullet
    markers: list[int] = field(default_factory=list)  # citation numbers that apply to it, sorted


def clean_sentence(sentence: str) -> str:
    """Without [n] markers and a leading list bullet, whitespace collapsed."""
    text = MARKER.sub("", sentence).strip()
    bullet = LIST_MARKER.match(text)
    if bullet:
        text = text[bullet.end() :]
    return " ".join(text.split())


def _marked_units(text: str, whole: bool) -> list[tuple[str, list[int], bool]]:
    """(sentence, markers, closes) for a run of prose (or one list item when `whole`). A marker
    belongs to the sentence it sits in or directly follows; `closes` says it ends that sentence."""
    pieces, spots, position, length = [], [], 0, 0
    for match in MARKER.finditer(text):
        pieces.append(text[position : match.start()])
        length += len(pieces[-1])
        spots.append((length, [int(n) for n in re.split(r"\s*,\s*", match.group(1))]))
        position = match.end()
    pieces.append(text[position:])
    plain = "".join(pieces)
    spans = [(0, len(plain))] if whole else (split_sentences(plain, 0, len(plain)) or [(0, len(plain))])
    marks: list[list[int]] = [[] for _ in spans]
    closes = [False] * len(spans)
    for spot, numbers in spots:
        index = next((i for i, (a, b) in enumerate(spans) if a < spot <= b), None)
        if index is None:  # in the space between two sentences: it follows the earlier one
            index = max([i for i, (a, b) in enumerate(spans) if b <= spot] or [0])
        marks[index] += numbers
        closes[index] = closes[index] or not plain[spot : spans[index][1]].strip(" .!?…’”\"')")
    return [(plain[a:b], m, c) for (a, b), m, c in zip(spans, marks, closes, strict=True) if plain[a:b].strip()]


def _paragraph_units(paragraph: str) -> list[tuple[str, list[int], bool]]:
    units: list[tuple[str, list[int], bool]] = []
    prose: list[str] = []
    for line in paragraph.splitlines():
        line = line.strip()
        bullet = LIST_MARKER.match(line) if line else None
        if bullet:
            units += _marked_units(" ".join(prose), whole=False) if prose else []
            prose.clear()
            units += _marked_units(line[bullet.end() :], whole=True)
        elif line:
            prose.append(line)
    units += _marked_units(" ".join(prose), whole=False) if prose else []
    return units


def split_answer_sentences(answer: str) -> list[AnswerSentence]:
    """The answer's sentences, in order, with the citation markers that apply to each.

    A marker applies to the sentence it sits in or directly follows. A marker that ends a
    sentence also closes the group before it: every unmarked sentence since the previous marked
    one, in the same paragraph, shares it. So "S1. S2. [1]" marks both sentences with [1], and
    in "Intro:\\n- a\\n- b [1]" the intro line and both items get [1], which is how the
    extractive answerer writes one citation for a run of consecutive source sentences. List
    items ("- ", "• ", "1. ") count as one sentence each. Sentences after the last marker of
    their paragraph keep no markers (and so no support)."""
    out: list[AnswerSentence] = []
    for paragraph in re.split(r"\n[ \t]*\n", answer):
        block: list[tuple[str, list[int]]] = []
        pending: list[int] = []
        for text, numbers, closes in _paragraph_units(paragraph):
            text = clean_sentence(text)
            if not text:
                continue
            markers = sorted(set(numbers))
            if markers:
                if closes:
                    for index in pending:
                        block[index] = (block[index][0], markers)
                pending.clear()
            else:
                pending.append(len(block))
            block.append((text, markers))
        out += [AnswerSentence(text, markers) for text, markers in block]
    return out
