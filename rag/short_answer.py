"""The short answer that leads a quoted answer: for a question that asks for a year, a number, a
name or a place, the one span of the best quote that is that answer ("2023" in "In 2023, the
country joined NATO.").

It is an exact span of the source, inside the first citation's quote, found by the entity
recogniser at ingest (rag/language.py) with the labels the question wants (rag/question.py). There
is none when the best sentence holds no such entity, or two different ones (which is meant is then
the reader's call: the quote stays the answer), or when the question asks why, compares sides or
wants several things.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from rag.citations import Citation
from rag.evidence import ScoredSentence
from rag.features import answering_entities
from rag.language import Entity
from rag.lexical import tokens
from rag.question import NUMBER_LABELS, TIME_LABELS, QuestionShape
from rag.snapshot import SentenceRow

SHORT_LABELS = NUMBER_LABELS | TIME_LABELS


class ShortAnswer(BaseModel):
    text: str = Field(description="exactly source_text[start:end], inside citation n's quote")
    n: int = Field(ge=1, description="the citation whose quote holds it")
    start: int = Field(ge=0)
    end: int = Field(ge=0)


def _counts(sentence: SentenceRow, entity: Entity, counted: str | None) -> bool:
    """For "how many X": the number stands right before X ("nineteen Siberian ponies")."""
    return counted is not None and counted in tokens(sentence.text[entity.end : entity.end + 40])[:3]


def _eligible(best: ScoredSentence, shape: QuestionShape) -> bool:
    """A date or number question, asked of one thing, whose best sentence uses its main word and
    is about what the question names: it names all of it, or its window (the sentence before,
    its heading, its title) does and the sentence names nothing else in its place ("About 28,500
    US service members are stationed there" under a heading about Korea)."""
    if not shape.answer_labels or not shape.answer_labels <= SHORT_LABELS:
        return False
    if shape.wants_explanation or shape.wants_several or shape.sides or shape.carried:
        return False
    named = all(name.present_in(best.sentence.terms) for name in shape.names)
    if not named and (best.features["names_window"] < 1.0 or best.features["other_subject"] > 0.0):
        return False
    return not shape.predicate or bool(shape.predicate & best.sentence.terms)


def _the_entity(best: SentenceRow, shape: QuestionShape) -> Entity | None:
    """The one entity of `best` that answers (for "how many X", the number before X)."""
    found = answering_entities(best, shape)
    if shape.counted and len(found) > 1:
        found = [e for e in found if _counts(best, e, shape.counted)] or found
    return found[0] if len({e.text.lower() for e in found}) == 1 else None


def short_answer(
    scored: ScoredSentence,
    groups: Sequence[Sequence[SentenceRow]],
    citations: Sequence[Citation],
    shape: QuestionShape,
) -> ShortAnswer | None:
    """The span of `best` (the sentence that scored highest) that answers the question, or None.

    Only for dates and numbers, and only when the sentence is about what the question names and
    uses its main word: a bold figure from a sentence about something else (Sweden's
    date for a question about Finland) would be worse than the quote alone. Who and where are
    left to the quote: the entity recogniser's people, organisations and places were wrong too
    often (a truncated "the Conference on Security" for who signed a memorandum)."""
    best = scored.sentence
    entity = _the_entity(best, shape) if _eligible(scored, shape) else None
    n = next((i for i, group in enumerate(groups, start=1) if best in group), None)
    if entity is None or n is None:
        return None
    citation = citations[n - 1]
    start, end = best.start + entity.start, best.start + entity.end
    inside = citation.start <= start < end <= citation.end
    # The sentence's own offsets must agree with the source, or nothing is said.
    if not inside or citation.quote[start - citation.start : end - citation.start] != entity.text:
        return None
    return ShortAnswer(text=entity.text, n=n, start=start, end=end)
