"""The names a question (or an answer it follows) mentions, read from spaCy's entities and runs of
proper nouns, and the terms that show each name in a text: its stems as the corpus writes them,
a country's code, an acronym the corpus defines, a person's family name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer_type import TIME_LABELS
from rag.language import Entity
from rag.lexical import tokens
from rag.vocabulary import UNLABELLED, Vocabulary

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

# Entities that are names a question can take for granted (not quantities or times).
NAME_LABELS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})
# English titles of address before a person's name: "Lord Carnarvon", unlabelled by the small
# recogniser, is a person, whom texts then call "Carnarvon" alone.
TITLES_OF_ADDRESS = frozenset({
    "mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "king", "queen",
    "prince", "princess", "duke", "duchess", "earl", "count", "countess", "baron", "baroness", "emperor",
    "empress", "tsar", "czar", "pope", "saint", "st", "president", "chancellor", "senator", "governor",
    "captain", "capt", "colonel", "col", "general", "gen", "admiral", "major", "lieutenant", "lt",
    "sergeant", "bishop", "archbishop", "cardinal", "father", "reverend", "rev", "rabbi", "imam", "sheikh",
})  # fmt: skip
# The possessive ending a taken-out name leaves behind ("the Hindenburg's top speed").
POSSESSIVE_LEFT = re.compile(r"\s+['’]s\b")


@dataclass(frozen=True)
class Name:
    """A name the question mentions, and the terms any of which shows it in a text."""

    text: str
    stems: tuple[str, ...]
    aliases: frozenset[str] = frozenset()  # a country term or an acronym standing for the whole name
    # A person's full name: after the first mention, texts call a person by the family name alone
    # ("Charles Lindbergh" ... "Lindbergh landed"), so that word alone shows the person. A
    # relative of the same name shows too; the sentence's other names tell them apart.
    person: bool = False

    def present_in(self, terms: set[str] | frozenset[str]) -> bool:
        if self.aliases & terms:
            return True
        if self.person and len(self.stems) > 1 and self.stems[-1] in terms:
            return True
        return bool(self.stems) and all(stem in terms for stem in self.stems)

    @property
    def terms(self) -> set[str]:
        return set(self.aliases) or set(self.stems)


def name_spans(doc: Doc, vocabulary: Vocabulary, english: frozenset[str] = frozenset()) -> list[tuple[Span, Name]]:
    """Entities that are names, then runs of proper nouns no entity covers; one per name text.
    `english`: the English words the pipeline knows (rag.language.english_words)."""
    spans: list[Span] = [e for e in doc.ents if e.label_ in NAME_LABELS]
    # A proper noun inside a date or time ("April 2010", "on Monday") names no subject.
    covered = {t.i for span in doc.ents if span.label_ in NAME_LABELS | TIME_LABELS for t in span}
    run: list[Token] = []
    for token in [*doc, None]:
        # A proper noun is written with a capital; the small tagger calls some common nouns of a
        # short question proper ("How did the earl die?").
        proper = token is not None and token.pos_ == "PROPN" and (bool(run) or token.text[:1].isupper())
        if proper and token is not None and token.i not in covered:
            run.append(token)
            continue
        # "Group of Seven": one function word between proper nouns keeps the run going.
        joins = token is not None and run and token.pos_ in ("ADP", "DET") and token.i + 1 < len(doc)
        if joins and token is not None and doc[token.i + 1].pos_ == "PROPN" and doc[token.i + 1].i not in covered:
            run.append(token)
            continue
        if run:
            spans.append(doc[run[0].i : run[-1].i + 1])
            run = []
    found: dict[str, tuple[Span, Name]] = {}
    for span, label in _joined(doc, spans):
        stems = tuple(tokens(span.text))
        if not stems or span.text in found:
            continue
        entity = Entity(0, len(span.text), label or UNLABELLED, span.text)
        aliases = vocabulary.enrich(stems, [entity]) - set(stems)
        # "NYC", where the corpus only writes "New York City": the name is its long form.
        stems = vocabulary.expansion(span.text) or stems if not aliases else stems
        person = label == "PERSON" or (len(span) > 1 and span[0].lower_.rstrip(".") in TITLES_OF_ADDRESS)
        if not aliases and not person:
            stems = _as_the_corpus_writes(span, stems, vocabulary, english)
        found[span.text] = (span, Name(span.text, stems, frozenset(aliases), person))
    return list(found.values())


def _as_the_corpus_writes(
    span: Span, stems: tuple[str, ...], vocabulary: Vocabulary, english: frozenset[str]
) -> tuple[str, ...]:
    """A name's stems without its common English words that the corpus never uses, when the rest
    of the name is all words the corpus does use: "Mount Everest" in a corpus that writes
    "Everest" and "Mt. Everest" is shown by "Everest". A word the corpus never uses that is no
    English word ("Zhaozhou Bridge") is the name itself: it stays, and the name stays absent."""
    if not vocabulary.used or len(stems) < 2 or list(stems) != tokens(span.text):
        return stems
    dropped = set()
    for token in span:
        words = tokens(token.text)
        if len(words) == 1 and words[0] not in vocabulary.used and token.lemma_.lower() in english:
            dropped.add(words[0])
    kept = tuple(stem for stem in stems if stem not in dropped)
    return kept if dropped and kept and all(stem in vocabulary.used for stem in kept) else stems


def _joined(doc: Doc, spans: list[Span]) -> list[tuple[Span, str]]:
    """The spans in order with their labels, where two make one name: the recogniser may label
    only part of a name, so a span joins the one it touches ("Alexei" + "Leonov", but not across
    a possessive: "Douglass's Eddystone"), and one that the parser hangs on the next across an
    "and" ("the Stockton and Darlington Railway": "Stockton" modifies "Railway")."""
    joined: list[tuple[Span, str]] = []
    for span in sorted(spans, key=lambda s: s.start):
        before, label = joined[-1] if joined else (None, "")
        touching = before is not None and before.end == span.start and before[-1].tag_ != "POS"
        shared = (
            before is not None
            and before.end + 1 == span.start
            and doc[before.end].lower_ in ("and", "&")
            and span.start <= before[-1].head.i < span.end
        )
        if before is not None and (touching or shared):
            # Two names joined by "and" make no one person, whatever either was labelled.
            joined[-1] = (doc[before.start : span.end], "" if shared else label or span.label_)
        else:
            joined.append((span, span.label_))
    return joined


def without_names(text: str, names: Sequence[Name]) -> str:
    """The question with the names it mentions taken out: what it asks about them ("What was the
    Hindenburg's top speed?" -> "What was the top speed?"). Every sentence of a
    document about a name shares the name, so its vector says little about which of them
    answers; this one compares what is asked (rag/features.py "focus"). The whole text if the
    names are all of it."""
    stripped = text
    for name in sorted({n.text for n in names}, key=len, reverse=True):
        stripped = stripped.replace(name, " ")
    stripped = re.sub(r"\s+", " ", POSSESSIVE_LEFT.sub(" ", stripped)).strip()
    return stripped if tokens(stripped) else text
