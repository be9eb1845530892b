"""The index as the answerer sees it: loaded once at start-up from Chroma into memory.

Holds every source's canonical text (what citations quote), the chunks with their vectors and a
BM25 index, and the sentences with the vectors and entities computed at ingest, each with its
terms: content stems plus the country and acronym terms that make different names of one thing
meet (rag/vocabulary.py). Only rows that a source row vouches for are loaded, so a half-finished
ingest is invisible here.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.errors import IndexNotReadyError
from rag.language import SentenceFacts
from rag.lexical import BM25, TermStats, tokens
from rag.places import CAPITALISED_RUN, code_term, countries_in, country_term
from rag.store import IndexReader, IndexVersions, SourceRecord, StoredChunk, StoredSentence
from rag.vocabulary import Vocabulary


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
        terms = vocabulary.enrich(tokens(stored.text), facts.entities)
        # Names the recogniser missed ("Kyiv insists…") are looked up as countries too; a person's
        # or an organisation's name is not ("George Washington").
        named = [(e.start, e.end) for e in facts.entities if not vocabulary.may_be_place(e)]
        terms |= {code_term(code) for code in countries_in(stored.text, skip=named)}
        # One string object per distinct term across the corpus, not one per sentence.
        return cls(**fields, row=row, terms=frozenset(map(sys.intern, terms)), facts=facts)


@dataclass
class IndexSnapshot:
    versions: IndexVersions
    sources: dict[str, SourceRecord]
    chunks: list[StoredChunk]
    sentences: list[SentenceRow]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    # Each section heading's vector (embedded once at start-up by `embed_headings`): a sentence is
    # matched read under its heading too, so "It opened in 1869" meets "When did X open?".
    heading_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    chunk_position: dict[str, int] = field(init=False)
    by_source: dict[str, dict[int, SentenceRow]] = field(init=False)
    bm25: BM25 = field(init=False)
    term_stats: TermStats = field(init=False)

    def __post_init__(self) -> None:
        self.chunk_position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.by_source = {}
        for sentence in self.sentences:
            self.by_source.setdefault(sentence.source_id, {})[sentence.index] = sentence
        self._heading_terms: dict[str, frozenset[str]] = {}
        self.bm25 = BM25(self._chunk_terms(chunk) for chunk in self.chunks)
        self.term_stats = TermStats(s.terms for s in self.sentences)

    def _chunk_terms(self, chunk: StoredChunk) -> list[str]:
        """Section and text stems, plus the alias terms its sentences carry (once each)."""
        terms = tokens(chunk.section) + tokens(chunk.text)
        extra: set[str] = set()
        for sentence in self.sentences_of(chunk):
            extra |= sentence.terms
        return terms + sorted(extra - set(terms))

    def embed_headings(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        """Embed every section heading once (a few dozen short texts)."""
        headings = sorted({s.section for s in self.sentences if s.section})
        if headings:
            self.heading_vectors = dict(zip(headings, encode(headings), strict=True))

    def sentences_of(self, chunk: StoredChunk) -> list[SentenceRow]:
        rows = self.by_source.get(chunk.source_id, {})
        return [rows[i] for i in range(chunk.first_sentence, chunk.last_sentence + 1) if i in rows]

    def heading_terms(self, heading: str) -> frozenset[str]:
        """Terms of a section heading or a document title (memoised: there are few). Headings get
        no entity annotation, so their capitalised names are looked up as countries directly."""
        if heading not in self._heading_terms:
            terms = self.vocabulary.enrich(tokens(heading))
            for name in CAPITALISED_RUN.findall(heading):
                words = name.split()
                parts = [" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
                terms |= {t for part in (name, *parts) if (t := country_term(part)) is not None}
            self._heading_terms[heading] = frozenset(terms)
        return self._heading_terms[heading]

    def title_of(self, source_id: str) -> str:
        source = self.sources.get(source_id)
        return source.title if source else source_id

    def sentence_at(self, source_id: str, index: int) -> SentenceRow | None:
        return self.by_source.get(source_id, {}).get(index)

    def stats(self) -> dict[str, Any]:
        return {
            "documents": len(self.sources),
            "chunks": len(self.chunks),
            "sentences": len(self.sentences),
            "embedder": self.versions.embedder,
            "chunker": self.versions.chunker,
        }


def load_snapshot(reader: IndexReader, embedder_version: str | None = None) -> IndexSnapshot:
    versions = reader.open(embedder_version)
    sources = {record.source_id: record for record in reader.sources()}
    if not sources:
        raise IndexNotReadyError("the index has no documents: add files to the corpus and run `qa ingest`")
    current = {sid: record.content_sha256 for sid, record in sources.items()}

    def vouched(row: StoredChunk | StoredSentence) -> bool:
        return current.get(row.source_id) == row.content_sha256

    dimension = versions.dimension or 0
    chunk_rows = sorted(
        ((c, v) for c, v in reader.chunks_with_vectors() if vouched(c)),
        key=lambda cv: (cv[0].source_id, cv[0].start, cv[0].end),
    )
    vocabulary = Vocabulary.learn(record.text for record in sources.values())
    stored_rows = [(stored, vector) for stored, vector in reader.sentences() if vouched(stored)]
    _check_whole(sources, [c for c, _ in chunk_rows], [s for s, _ in stored_rows])
    facts = [SentenceFacts.from_stored(s.text, s.entities, s.refers_back, s.instruction) for s, _ in stored_rows]
    vocabulary.learn_places(e for found in facts for e in found.entities)
    sentences: list[SentenceRow] = []
    vectors: list[np.ndarray] = []
    for (stored, vector), found in zip(stored_rows, facts, strict=True):
        sentences.append(SentenceRow.of(stored, len(sentences), vocabulary, found))
        vectors.append(vector)
    return IndexSnapshot(
        versions,
        sources,
        [c for c, _ in chunk_rows],
        sentences,
        _matrix(vectors, dimension),
        _matrix([v for _, v in chunk_rows], dimension),
        vocabulary,
    )


def _check_whole(sources: dict[str, SourceRecord], chunks: list[StoredChunk], sentences: list[StoredSentence]) -> None:
    """Every source shows as many chunk and sentence rows as its record counted at ingest. A
    reader that saw fewer (rows not yet visible to it, or lost) would answer from part of a
    document, so the index is not ready: a serving process keeps the snapshot it has and tries
    again at its next check (api/reload.py)."""
    for kind, rows in (("chunks", chunks), ("sentences", sentences)):
        found = Counter(row.source_id for row in rows)
        for source_id, record in sources.items():
            expected = record.metadata.get(f"n_{kind}")
            if expected is not None and found[source_id] != int(expected):
                raise IndexNotReadyError(
                    f"{source_id!r} shows {found[source_id]} of its {expected} {kind} rows: the index "
                    "is being written (or damaged: `qa ingest --rebuild` if this stays)"
                )


def _matrix(vectors: list[np.ndarray], dimension: int) -> np.ndarray:
    return np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), np.float32)
