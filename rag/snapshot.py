"""The index as the answerer sees it: loaded once at start-up from Chroma into memory.

Holds every source's canonical text (what citations quote), the chunk records with a BM25
index, and the sentence embeddings computed at ingest. Only rows that a source record vouches
for are loaded, so a half-finished ingest is invisible here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.errors import IndexNotReadyError
from rag.lexical import BM25, TermStats, tokens
from rag.store import IndexReader, IndexVersions, SourceRecord, StoredChunk, StoredSentence


@dataclass(frozen=True)
class SentenceRow(StoredSentence):
    """A stored sentence as the answerer scores it: its row in the embedding matrix and its
    content-word stems."""

    row: int
    terms: frozenset[str]

    @classmethod
    def of(cls, stored: StoredSentence, row: int) -> SentenceRow:
        fields = {name: getattr(stored, name) for name in StoredSentence.__dataclass_fields__}
        return cls(**fields, row=row, terms=frozenset(tokens(stored.text)))


@dataclass
class IndexSnapshot:
    versions: IndexVersions
    sources: dict[str, SourceRecord]
    chunks: list[StoredChunk]
    sentences: list[SentenceRow]
    sentence_vectors: np.ndarray
    chunk_position: dict[str, int] = field(init=False)
    by_source: dict[str, dict[int, SentenceRow]] = field(init=False)
    bm25: BM25 = field(init=False)
    term_stats: TermStats = field(init=False)

    def __post_init__(self) -> None:
        self.chunk_position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.by_source = {}
        for sentence in self.sentences:
            self.by_source.setdefault(sentence.source_id, {})[sentence.index] = sentence
        self._paragraph_terms: dict[tuple[str, int], frozenset[str]] = {}
        grouped: dict[tuple[str, int], set[str]] = {}
        for sentence in self.sentences:
            grouped.setdefault((sentence.source_id, sentence.paragraph), set()).update(sentence.terms)
        self._paragraph_terms = {key: frozenset(terms) for key, terms in grouped.items()}
        self._section_terms: dict[str, frozenset[str]] = {}
        self.corpus_terms = frozenset(self.term_stats_terms())
        bigrams: set[tuple[str, str]] = set()
        for text in [s.text for s in self.sentences] + [c.section for c in self.chunks]:
            stems = tokens(text)
            bigrams.update(itertools.pairwise(stems))
        self.corpus_bigrams = frozenset(bigrams)
        self.bm25 = BM25(f"{c.section}\n{c.text}" for c in self.chunks)
        self.term_stats = TermStats(s.text for s in self.sentences)

    def sentences_of(self, chunk: StoredChunk) -> list[SentenceRow]:
        rows = self.by_source.get(chunk.source_id, {})
        return [rows[i] for i in range(chunk.first_sentence, chunk.last_sentence + 1) if i in rows]

    def term_stats_terms(self) -> set[str]:
        terms: set[str] = set()
        for sentence in self.sentences:
            terms |= sentence.terms
        for chunk in self.chunks:
            terms |= set(tokens(chunk.section))
        return terms

    def paragraph_terms(self, sentence: SentenceRow) -> frozenset[str]:
        return self._paragraph_terms.get((sentence.source_id, sentence.paragraph), frozenset())

    def section_terms(self, section: str) -> frozenset[str]:
        if section not in self._section_terms:
            self._section_terms[section] = frozenset(tokens(section))
        return self._section_terms[section]

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

    chunks = sorted((c for c in reader.chunks() if vouched(c)), key=lambda c: (c.source_id, c.start, c.end))
    sentences: list[SentenceRow] = []
    vectors: list[np.ndarray] = []
    for stored, vector in reader.sentences():
        if vouched(stored):
            sentences.append(SentenceRow.of(stored, len(sentences)))
            vectors.append(vector)
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, versions.dimension or 0), np.float32)
    return IndexSnapshot(versions, sources, chunks, sentences, matrix)
