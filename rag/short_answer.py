"""The short answer that leads a quoted answer: for a question that asks for a year, a number, a
name or a place, the one span of the best quote that is that answer ("2023" in "In 2023, the
country joined NATO.").

It is an exact span of the source, inside the first citation's quote, found by the entity
recogniser at ingest (rag/language.py) with the labels the question wants (rag/question.py); a
name or place must also stand as the answer in the sentence's parse. There is none when the best
sentence holds no such entity, or two different ones (which is meant is then the reader's call:
the quote stays the answer), or when the question asks why, compares sides or wants several
things, or is a yes-or-no question. `qa eval` reports how many short answers were given and the share that is a required
fact ("short", "short right").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from rag.answer_type import AGENT_LABELS, NUMBER_LABELS, PLACE_ANSWER_LABELS, TIME_LABELS
from rag.citations import Citation
from rag.evidence import MAX_LIST_ITEMS, ScoredSentence
from rag.features import answering_entities
from rag.language import Entity
from rag.lexical import tokens
from rag.question import QuestionShape
from rag.snapshot import SentenceRow

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

SHORT_LABELS = NUMBER_LABELS | TIME_LABELS | AGENT_LABELS | PLACE_ANSWER_LABELS
NAME_ANSWER_LABELS = AGENT_LABELS | PLACE_ANSWER_LABELS
# Dependency labels (spaCy's English scheme, from ClearNLP) of a word that only qualifies another
# noun: "the Gjøa voyage" speaks of a voyage, not of Gjøa.
MODIFIER_DEPS = frozenset({"compound", "amod", "nmod", "npadvmod"})
# Prepositions that place a name in space or time ("at Holtenau", "during the war"): a name
# there is where or when something happened, not who did it. English closed-class words.
SETTING_PREPOSITIONS = frozenset(
    {"at", "in", "on", "near", "into", "onto", "across", "through", "during", "after", "before", "since",
     "until", "under", "over", "around", "along", "within", "inside", "outside", "beyond", "toward", "towards"}
)  # fmt: skip


# What joins the names of a list: a comma, "and" or "or", or a comma and one of them.
LIST_JOINER = re.compile(r"\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+")


class ShortAnswer(BaseModel):
    text: str = Field(description="exactly source_text[start:end], inside citation n's quote")
    n: int = Field(ge=1, description="the citation whose quote holds it")
    start: int = Field(ge=0)
    end: int = Field(ge=0)


def _counts(sentence: SentenceRow, entity: Entity, counted: str | None) -> bool:
    """For "how many X": the number stands right before X ("nineteen Siberian ponies")."""
    return counted is not None and counted in tokens(sentence.text[entity.end : entity.end + 40])[:3]


def _eligible(best: ScoredSentence, shape: QuestionShape, several: bool = False) -> bool:
    """A date, number, name or place question (asking for one thing, or with `several` for more
    than one: "Which countries ..."), about one subject, whose best sentence uses its
    main word (and the adjective "how" asks about: "How long can ships be?" is not answered by
    "they save about 460 kilometres") and is about what the question names: it names all of it,
    or its window (the sentence before, its heading, its title) does and the sentence names
    nothing else in its place ("About 28,500 US service members are stationed there" under a
    heading about Korea)."""
    if not shape.answer_labels or not shape.answer_labels <= SHORT_LABELS:
        return False
    if shape.wants_explanation or shape.wants_several != several or shape.sides or shape.carried or shape.yes_no:
        return False
    named = all(name.present_in(best.sentence.terms) for name in shape.names)
    if not named and (best.features["names_window"] < 1.0 or best.features["other_subject"] > 0.0):
        return False
    if shape.measure and not any(_measures(term, shape.measure) for term in best.sentence.terms):
        return False
    return not shape.predicate or bool(shape.predicate & best.sentence.terms)


def _measures(term: str, measure: frozenset[str]) -> bool:
    """The term is one of the measure's stems, or the adjective's comparative or superlative
    ("high" -> "higher", "highest"; "big" -> "bigger")."""
    if term in measure:
        return True
    for stem in measure:
        rest = term[len(stem) :] if term.startswith(stem) else None
        if rest is not None and (
            rest in ("er", "est", "r", "st") or (rest[:1] == stem[-1:] and rest[1:] in ("er", "est"))
        ):
            return True
    return False


def whole_name(text: str, entity: Entity) -> bool:
    """False for a name the recogniser cut short: one that goes on in capitals, directly or
    after "of", "and", "for" or "on" ("the Conference on Security" of "the Conference on
    Security and Co-operation in Europe"), or that is hyphenated on."""
    rest = text[entity.end : entity.end + 40]
    if rest[:1] in ("-", "'") or rest[:1].isalnum():
        return False
    words = rest.split()
    if words and words[0][:1].isupper():
        return False
    return not (len(words) > 1 and words[0] in ("of", "and", "for", "on", "de", "du") and words[1][:1].isupper())


def _joined_to_next(text: str, entity: Entity, names: list[Entity]) -> bool:
    """The name is followed by a comma, "and" or "or", then by another of the names."""
    joiner = LIST_JOINER.match(text, entity.end)
    return joiner is not None and any(other.start == joiner.end() for other in names)


def _stands_as_answer(doc: Doc, entity: Entity, shape: QuestionShape) -> bool:
    """A name answers when it refers on its own: not a modifier of another noun, and, for
    "who", not the place or time of what happened ("at Holtenau")."""
    span = doc.char_span(entity.start, entity.end, alignment_mode="expand")
    if span is None or span.root.dep_ in MODIFIER_DEPS:
        return False
    asks_who = not shape.answer_labels <= PLACE_ANSWER_LABELS
    return not (asks_who and span.root.dep_ == "pobj" and span.root.head.lower_ in SETTING_PREPOSITIONS)


def _short_form(text: str, entity: Entity, names: list[Entity]) -> bool:
    """The entity is another's short form in brackets right after it: "The Maritime Safety Board
    (MSB)" is one name."""
    opened = text[: entity.start].rstrip().endswith("(") and text[entity.end :].lstrip().startswith(")")
    return opened and any(0 <= entity.start - other.end <= 2 for other in names if other is not entity)


def _answering(sentence: SentenceRow, shape: QuestionShape, nlp: Language | None) -> list[Entity] | None:
    """The entities of `sentence` that may answer, in their order. Names need the sentence's
    parse; without it, or when the recogniser cut a name short (its "Kaiser Wilhelm" of "Kaiser
    Wilhelm I" would leave only "Holtenau"), None: what answers cannot be told."""
    found = answering_entities(sentence, shape)
    names = [e for e in found if e.label in NAME_ANSWER_LABELS]
    if names:
        # A nationality word goes on in capitals as a rule ("Finnish President"): not cut short.
        # Nor is a name that goes on into the next name of a list ("Denmark and Portugal").
        cut = [e for e in names if e.label != "NORP" and not whole_name(sentence.text, e)]
        if nlp is None or any(not _joined_to_next(sentence.text, e, names) for e in cut):
            return None
        doc = nlp(sentence.text)
        found = [
            e
            for e in found
            if e not in names or (_stands_as_answer(doc, e, shape) and not _short_form(sentence.text, e, names))
        ]
    return found


def _the_entity(best: SentenceRow, shape: QuestionShape, nlp: Language | None) -> Entity | None:
    """The one entity of `best` that answers (for "how many X", the number before X)."""
    found = _answering(best, shape, nlp)
    if found is None:
        return None
    if shape.counted and len(found) > 1:
        found = [e for e in found if _counts(best, e, shape.counted)] or found
    return found[0] if len({e.text.lower() for e in found}) == 1 else None


def short_answer(
    scored: ScoredSentence,
    groups: Sequence[Sequence[SentenceRow]],
    citations: Sequence[Citation],
    shape: QuestionShape,
    nlp: Language | None = None,
) -> ShortAnswer | None:
    """The span of `best` (the sentence that scored highest) that answers the question, or None.

    Only when the sentence is about what the question names and uses its main word: a bold
    figure from a sentence about something else (Sweden's date for a question about Finland)
    would be worse than the quote alone. A name or place needs `nlp`, the question's spaCy
    pipeline, to parse the sentence (only then, a few milliseconds): the recogniser's names alone
    were wrong too often (a truncated "the Conference on Security" for who signed a memorandum)."""
    best = scored.sentence
    entity = _the_entity(best, shape, nlp) if _eligible(scored, shape) else None
    n = _group_number(best, groups)
    if entity is None or n is None:
        return None
    return _span(best, entity, citations[n - 1])


def _group_number(sentence: SentenceRow, groups: Sequence[Sequence[SentenceRow]]) -> int | None:
    """The number of the group (and so of the citation) that quotes the sentence."""
    return next((n for n, group in enumerate(groups, start=1) if sentence in group), None)


def short_list(
    scored: ScoredSentence,
    groups: Sequence[Sequence[SentenceRow]],
    citations: Sequence[Citation],
    shape: QuestionShape,
    nlp: Language | None = None,
) -> list[ShortAnswer]:
    """For a question that asks for several names, places, dates or numbers ("Which countries
    ..."): each one that the best sentence holds, or the list it introduces, in the order of the
    text, once each. Empty unless there are at least two (as many as the question counts, when it
    counts them), and when any name cannot be told whole: a list with a wrong or missing item
    would be worse than the quote alone."""
    best = scored.sentence
    n = _group_number(best, groups)
    if n is None or not _eligible(scored, shape, several=True):
        return []
    group = list(groups[n - 1])
    after = group[group.index(best) + 1 :]
    # The best sentence, and the list it introduces: not the sentences around it.
    scope = [best, *itertools.takewhile(lambda s: s.is_list_item, after)] if not best.is_list_item else [best]
    items: list[ShortAnswer] = []
    seen: set[str] = set()
    for sentence in scope:
        found = _answering(sentence, shape, nlp)
        if found is None:
            return []
        for entity in found:
            if entity.text.lower() in seen:
                continue
            span = _span(sentence, entity, citations[n - 1])
            if span is None:
                return []
            seen.add(entity.text.lower())
            items.append(span)
    if shape.listed is not None and len(items) != shape.listed:
        return []  # "Which three countries ...": three, or the quote is left to say it
    return items if 2 <= len(items) <= MAX_LIST_ITEMS else []


def _span(sentence: SentenceRow, entity: Entity, citation: Citation) -> ShortAnswer | None:
    """The entity as a span of the source inside the citation's quote; None when the sentence's
    own offsets do not agree with the source (then nothing is said)."""
    text = entity.text.rstrip(",;:")  # the recogniser's "1975," of "(1975, 1981)"
    start = sentence.start + entity.start
    end = start + len(text)
    inside = citation.start <= start < end <= citation.end
    if not text or not inside or citation.quote[start - citation.start : end - citation.start] != text:
        return None
    return ShortAnswer(text=text, n=citation.n, start=start, end=end)
