"""Every sentence of the index, held in columns, each row made when it is asked for.

A worker keeps every sentence of the index in memory: about five for each chunk, so half a
million at 100k chunks. Held as one `SentenceRow` each (a dataclass, a frozenset of terms, the
entities as objects, the text as a string of its own), they took more of a worker's memory than
anything else but the vectors (about 9 KB per chunk, measured with tracemalloc on an index built
by evals/bench/scale.py). Here a sentence is a few numbers in typed arrays; its terms are ids
into one list of the corpus's distinct terms; its text is a slice of its source's canonical text,
which the snapshot holds anyway (a stored text that is not that slice is kept as it is). A row is
made again from those columns, with the same values, when code asks for it, and the most
recently used rows stay made (`BUILT_ROWS`): one question reads the same few hundred rows many
times, and a small corpus ends up with all of its rows made.
"""

from __future__ import annotations

import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from rag.answer_type import NUMBER_LABELS, stated_measures
from rag.language import SentenceFacts
from rag.lexical import tokens
from rag.places import code_term, countries_in
from rag.store import SourceRecord, StoredSentence
from rag.vocabulary import Vocabulary

# How many made rows are kept: 65,536 rows of about 2 KB each, some 130 MB at most, is all the
# sentences of an index of about 13k chunks, and far more than the few hundred one question reads.
BUILT_ROWS = 1 << 16

_LIST_ITEM, _REFERS_BACK, _INSTRUCTION = 1, 2, 4
_NO_PAGE = -1


@dataclass(frozen=True, kw_only=True)
class SentenceRow(StoredSentence):
    """A stored sentence as the answerer scores it: its row in the embedding matrix, its terms
    and what ingest found in it."""

    row: int
    terms: frozenset[str]
    facts: SentenceFacts

    @classmethod
    def of(
        cls, stored: StoredSentence, row: int, vocabulary: Vocabulary, facts: SentenceFacts | None = None
    ) -> SentenceRow:
        fields = {name: getattr(stored, name) for name in StoredSentence.__dataclass_fields__}
        if facts is None:
            facts = SentenceFacts.from_stored(stored.text, stored.entities, stored.refers_back, stored.instruction)
        return cls(**fields, row=row, terms=sentence_terms(stored.text, facts, vocabulary), facts=facts)


def sentence_terms(text: str, facts: SentenceFacts, vocabulary: Vocabulary) -> frozenset[str]:
    """A sentence's terms: content stems plus the country and acronym terms that make different
    names of one thing meet (rag/vocabulary.py)."""
    terms = vocabulary.enrich(tokens(text), facts.entities)
    numbers = [(e.start, e.end) for e in facts.entities if e.label in NUMBER_LABELS]
    terms |= set(tokens(" ".join(stated_measures(text, numbers))))
    # Names the recogniser missed ("Kyiv insists…") are looked up as countries too; a person's
    # or an organisation's name is not ("George Washington").
    named = [(e.start, e.end) for e in facts.entities if not vocabulary.may_be_place(e)]
    terms |= {code_term(code) for code in countries_in(text, skip=named)}
    # One string object per distinct term across the corpus, not one per sentence.
    return frozenset(map(sys.intern, terms))


class SentenceTable(Sequence[SentenceRow]):
    """The sentences in load order (row n is row n of the sentence vectors). Filled with
    `append`, then `freeze` makes it readable; safe to read from several threads."""

    def __init__(self, sources: Mapping[str, SourceRecord]) -> None:
        self._sources = sources
        self._source_ids: list[str] = []
        self._source_number: dict[str, int] = {}
        self._sections: list[str] = []
        self._section_number: dict[str, int] = {}
        self._term_list: list[str] = []
        self._term_number: dict[str, int] = {}
        # source, index, start, end, paragraph, page, flags and section, per row
        self._numbers = {name: array("q") for name in ("source", "index", "start", "end", "paragraph", "page")}
        self._flags = array("B")
        self._section = array("l")
        self._term_ids = array("l")
        self._term_ends = array("q")
        # Ids and entity lists as UTF-8 in one buffer each, not a str per row: small strings kept
        # from a load pin the allocator's pages that the load's passing objects shared with them,
        # and a worker stayed at the size of its load's peak.
        self._strings = {name: bytearray() for name in ("id", "entities")}
        self._string_ends = {name: array("q") for name in ("id", "entities")}
        self._rows = 0
        self._own_text: dict[int, str] = {}  # rows whose stored text is not their source's slice
        self._source_sha: list[str] = []  # the content version of each source's first row
        self._own_sha: dict[int, str] = {}  # rows of another version than their source's first
        self._by_source: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._built: OrderedDict[int, SentenceRow] = OrderedDict()
        self._lock = threading.Lock()

    def append(self, stored: StoredSentence, terms: frozenset[str]) -> None:
        row = self._rows
        source = self._source_number.setdefault(stored.source_id, len(self._source_number))
        if source == len(self._source_ids):
            self._source_ids.append(stored.source_id)
            self._source_sha.append(stored.content_sha256)
        if stored.content_sha256 != self._source_sha[source]:
            self._own_sha[row] = stored.content_sha256
        section = self._section_number.setdefault(stored.section, len(self._section_number))
        if section == len(self._sections):
            self._sections.append(sys.intern(stored.section))
        values = (source, stored.index, stored.start, stored.end, stored.paragraph)
        for name, value in zip(("source", "index", "start", "end", "paragraph"), values, strict=True):
            self._numbers[name].append(value)
        self._numbers["page"].append(_NO_PAGE if stored.page is None else stored.page)
        self._flags.append(
            (_LIST_ITEM if stored.is_list_item else 0)
            | (_REFERS_BACK if stored.refers_back else 0)
            | (_INSTRUCTION if stored.instruction else 0)
        )
        self._section.append(section)
        for term in sorted(terms):
            self._term_ids.append(self._term_number.setdefault(term, len(self._term_number)))
            if self._term_ids[-1] == len(self._term_list):
                self._term_list.append(sys.intern(term))
        self._term_ends.append(len(self._term_ids))
        for name, string in (("id", stored.sentence_id), ("entities", stored.entities)):
            self._strings[name] += string.encode("utf-8")
            self._string_ends[name].append(len(self._strings[name]))
        self._rows += 1
        source_text = self._sources[stored.source_id].text if stored.source_id in self._sources else None
        if source_text is None or source_text[stored.start : stored.end] != stored.text:
            self._own_text[row] = stored.text

    def freeze(self) -> SentenceTable:
        """Index the rows by source and sentence number (a sorted array per source)."""
        sources = np.frombuffer(self._numbers["source"], dtype=np.int64) if self._rows else np.zeros(0, np.int64)
        indexes = np.frombuffer(self._numbers["index"], dtype=np.int64) if self._rows else np.zeros(0, np.int64)
        order = np.lexsort((indexes, sources))
        bounds = np.searchsorted(sources[order], np.arange(len(self._source_ids) + 1))
        self._by_source = {
            source_id: (indexes[order[bounds[n] : bounds[n + 1]]], order[bounds[n] : bounds[n + 1]])
            for n, source_id in enumerate(self._source_ids)
        }
        return self

    def __len__(self) -> int:
        return self._rows

    def sections(self) -> list[str]:
        """The distinct section headings of the sentences."""
        return list(self._sections)

    def term_sets(self) -> Iterator[frozenset[str]]:
        """Each row's terms, in row order, without making the rows."""
        first = 0
        for end in self._term_ends:
            yield frozenset(self._term_list[i] for i in self._term_ids[first:end])
            first = end

    def terms_of_source(self, source_id: str, first: int, last: int, section: str | None = None) -> set[str]:
        """The terms of a source's sentences numbered first..last (only those under `section`,
        when given), without making the rows."""
        found = self._by_source.get(source_id)
        if found is None:
            return set()
        indexes, rows = found
        low, high = np.searchsorted(indexes, [first, last + 1])
        number = self._section_number.get(section) if section is not None else None
        chosen = [row for row in rows[low:high] if section is None or self._section[row] == number]
        terms: set[str] = set()
        for row in chosen:
            start = self._term_ends[row - 1] if row else 0
            terms.update(self._term_list[i] for i in self._term_ids[start : self._term_ends[row]])
        return terms

    @overload
    def __getitem__(self, position: int) -> SentenceRow: ...

    @overload
    def __getitem__(self, position: slice) -> list[SentenceRow]: ...

    def __getitem__(self, position: int | slice) -> SentenceRow | list[SentenceRow]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(position)
        with self._lock:
            built = self._built.get(position)
            if built is not None:
                self._built.move_to_end(position)
                return built
        built = self._make(position)
        with self._lock:
            self._built[position] = built
            if len(self._built) > BUILT_ROWS:
                self._built.popitem(last=False)
        return built

    def __iter__(self) -> Iterator[SentenceRow]:
        return (self[i] for i in range(len(self)))

    def at(self, source_id: str, index: int) -> SentenceRow | None:
        """Sentence number `index` of a source, if the index holds it."""
        found = self._by_source.get(source_id)
        if found is None:
            return None
        indexes, rows = found
        where = int(np.searchsorted(indexes, index))
        return self[int(rows[where])] if where < len(indexes) and indexes[where] == index else None

    def of_source(self, source_id: str, first: int, last: int) -> list[SentenceRow]:
        """The sentences numbered first..last of a source that the index holds, in order."""
        found = self._by_source.get(source_id)
        if found is None:
            return []
        indexes, rows = found
        low, high = np.searchsorted(indexes, [first, last + 1])
        return [self[int(row)] for row in rows[low:high]]

    def _string(self, name: str, row: int) -> str:
        ends = self._string_ends[name]
        return self._strings[name][ends[row - 1] if row else 0 : ends[row]].decode("utf-8")

    def _make(self, row: int) -> SentenceRow:
        numbers = {name: column[row] for name, column in self._numbers.items()}
        source_id = self._source_ids[numbers["source"]]
        start, end, flags = numbers["start"], numbers["end"], self._flags[row]
        text = self._own_text.get(row)
        if text is None:
            text = self._sources[source_id].text[start:end]
        entities = self._string("entities", row)
        facts = SentenceFacts.from_stored(text, entities, bool(flags & _REFERS_BACK), bool(flags & _INSTRUCTION))
        first_term = self._term_ends[row - 1] if row else 0
        return SentenceRow(
            sentence_id=self._string("id", row),
            source_id=source_id,
            content_sha256=self._own_sha.get(row, self._source_sha[numbers["source"]]),
            index=numbers["index"],
            section=self._sections[self._section[row]],
            start=start,
            end=end,
            text=text,
            paragraph=numbers["paragraph"],
            is_list_item=bool(flags & _LIST_ITEM),
            page=None if numbers["page"] == _NO_PAGE else numbers["page"],
            entities=entities,
            refers_back=bool(flags & _REFERS_BACK),
            instruction=bool(flags & _INSTRUCTION),
            row=row,
            terms=frozenset(self._term_list[i] for i in self._term_ids[first_term : self._term_ends[row]]),
            facts=facts,
        )
