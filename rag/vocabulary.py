"""Names that mean the same thing, as extra terms on both sides of a match.

Two sources, neither tied to one corpus:
- countries: a place or people named in a text (spaCy's GPE, NORP and LOC entities) adds the
  country's code term (rag/places.py), so "U.S." in a question meets "the United States" in a
  sentence, while "North Korea" never meets "South Korea";
- acronyms the corpus defines itself: "Group of Seven (G7)" or "G7 (Group of Seven)" anywhere in
  the corpus teaches that the long form and the acronym are one name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rag.language import Entity
from rag.lexical import tokens
from rag.places import country_term

# Entity labels that name a country, its people or a region (spaCy's OntoNotes labels).
PLACE_LABELS = frozenset({"GPE", "NORP", "LOC"})
# The label a question's run of proper nouns gets when the entity recogniser left it unlabelled.
UNLABELLED = "PROPN"
# "Long Form Words (LFW)" and "LFW (Long Form Words)": capitalised words joined by lower-case
# function words, then an acronym in brackets, or the other way round. An acronym is 2 to 10
# characters starting with a capital and holding at least one more capital or digit.
_ACRONYM = r"[A-Z](?=[A-Za-z0-9&.\-]*[A-Z0-9])[A-Za-z0-9&.\-]{1,9}"
_LONG = r"[A-Z][\w’'\-]*(?:[ \t]+(?:[a-z]{1,4}[ \t]+){0,2}[A-Z][\w’'\-]*){1,8}"  # within one line
LONG_THEN_SHORT = re.compile(rf"(?P<long>{_LONG})\s*\((?P<short>{_ACRONYM})\)")
# A capitalised word, or a run of them joined by short lower-case function words, within a line
# (wider than rag.places.CAPITALISED_RUN, which joins only by "of" and "the").
NAME_RUN = re.compile(_LONG)
# An acronym as a question writes it: two to six capitals ("NYC", "ROK").
WRITTEN_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")
SHORT_THEN_LONG = re.compile(rf"\b(?P<short>{_ACRONYM})\s*\((?P<long>{_LONG})\)")


@dataclass
class Vocabulary:
    """What the corpus teaches about names: the stems of each long form -> the acronym's term,
    the names its entity recogniser read as places more often than as anything else, and the
    words of the multi-word names it read as people ("George Washington")."""

    acronyms: dict[tuple[str, ...], str] = field(default_factory=dict)
    places: set[str] = field(default_factory=set)
    person_words: set[str] = field(default_factory=set)
    # Initials -> the one multi-word name of the corpus they spell ("nyc" -> new york city), and
    # the acronyms the corpus writes itself: a question's "NYC" stands for the long form only
    # where the corpus never writes "NYC".
    initials: dict[str, str | None] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    # Every stem the corpus's sentences use (set by the index snapshot once its sentences are in).
    used: frozenset[str] = frozenset()

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Vocabulary:
        vocabulary = cls()
        for text in texts:
            for pattern in (LONG_THEN_SHORT, SHORT_THEN_LONG):
                for match in pattern.finditer(text):
                    vocabulary.add(match.group("long"), match.group("short"))
            vocabulary.written.update(m.group(0).lower() for m in WRITTEN_ACRONYM.finditer(text))
            for match in NAME_RUN.finditer(text):
                vocabulary.add_initials(match.group(0))
        return vocabulary

    def add_initials(self, name: str) -> None:
        """Index the multi-word names of a capitalised run by their initials, with and without
        their function words ("Republic of Korea": rk, rok). Initials that two different names
        spell stand for neither."""
        words = name.split()
        starts = [i for i, w in enumerate(words) if w[0].isupper()]
        # Every stretch from one capitalised word to a later one: "Goods went from Buffalo to New
        # York City" holds "New York City" and "New York".
        for first in starts:
            for last in (i for i in starts if first < i < first + 6):
                stretch = words[first : last + 1]
                capitals = "".join(w[0] for w in stretch if w[0].isupper())
                self._index(capitals, stretch)
                self._index("".join(w[0] for w in stretch), stretch)

    def _index(self, letters: str, stretch: list[str]) -> None:
        if not 2 <= len(letters) <= 6:
            return
        key, name = letters.lower(), " ".join(stretch)  # stemmed only when a question needs it
        known = self.initials.setdefault(key, name)
        if known is not None and known.lower() != name.lower():
            self.initials[key] = None

    def expansion(self, acronym: str) -> tuple[str, ...] | None:
        """The stems of the corpus's one name that an acronym the corpus never writes spells."""
        key = acronym.lower()
        if not acronym.isupper() or not acronym.isalpha() or key in self.written:
            return None
        name = self.initials.get(key)
        stems = tuple(tokens(name)) if name else ()
        return stems if len(stems) >= 2 else None

    def add(self, long: str, short: str) -> None:
        """Record `short` as the acronym of the longest tail of `long` whose first word starts with
        the acronym's first letter ("Leaders of the Group of Seven (G7)" -> "Group of Seven")."""
        short_terms = tokens(short)
        if len(short_terms) != 1:
            return
        words = long.split()
        for start, word in enumerate(words):
            if word[0].upper() == short[0].upper():
                long_stems = tuple(tokens(" ".join(words[start:])))
                if len(long_stems) >= 2:
                    self.acronyms.setdefault(long_stems, short_terms[0])
                return

    def learn_places(self, entities: Iterable[Entity]) -> None:
        """Record how the corpus uses names. The small model reads a short question worst ("How
        much did Helsinki pay?" makes Helsinki a PERSON), so the corpus's majority decides."""
        votes: dict[str, int] = {}
        for entity in entities:
            key = entity.text.strip().lower()
            votes[key] = votes.get(key, 0) + (1 if entity.label in PLACE_LABELS else -1)
            if entity.label == "PERSON" and len(key.split()) > 1:
                self.person_words.update(key.split())
        self.places = {key for key, vote in votes.items() if vote > 0}

    def may_be_place(self, entity: Entity) -> bool:
        """Whether an entity may name a country: by its label (a place, or none at all), by the
        corpus's usage, or, for a one-word name the recogniser called a person or an organisation,
        unless the corpus has the word inside a person's full name. The small model calls most
        one-word capitals it has not learned people ("Kyiv"), while "Washington" in a corpus that
        speaks of George Washington stays a person."""
        key = entity.text.strip().lower()
        if entity.label in PLACE_LABELS or entity.label == UNLABELLED or key in self.places:
            return True
        return len(key.split()) == 1 and key not in self.person_words

    def enrich(self, terms: Iterable[str], entities: Iterable[Entity] = ()) -> set[str]:
        """`terms` plus the country terms of the entities that are places (by their label, by the
        corpus's usage, or unlabelled proper nouns) and the acronyms of long forms present."""
        ordered = list(terms)
        out = set(ordered)
        for entity in entities:
            if self.may_be_place(entity):
                term = country_term(entity.text)
                if term:
                    out.add(term)
        if self.acronyms:
            out.update(self.acronyms_in(ordered))
        return out

    def acronyms_in(self, ordered: list[str]) -> set[str]:
        """The acronyms whose long form occurs, word for word, in a sequence of stems."""
        found = set()
        for long_stems, short in self.acronyms.items():
            width = len(long_stems)
            if any(tuple(ordered[i : i + width]) == long_stems for i in range(len(ordered) - width + 1)):
                found.add(short)
        return found
