"""The index as the answerer sees it: loaded once at start-up from Chroma into memory.

Holds every source's canonical text (what citations quote), the chunk records with a BM25
index, and the sentence embeddings computed at ingest. Only rows that a source record vouches
for are loaded, so a half-finished ingest is invisible here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.index import IndexStore, IndexVersions
from rag.errors import IndexNotReadyError
from rag.lexical import BM25, TermStats, tokens


@dataclass(frozen=True)
class SourceDoc:
    source_id: str
    text: str
    metadata: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source_id)

    @property
    def sections(self) -> list[str]:
        try:
            return list(json.loads(self.metadata.get("sections", "[]")))
        except (TypeError, ValueError):
            return []


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    source_id: str
    section: str
    start: int
    end: int
    text: str
    first_sentence: int
    last_sentence: int
    page: int | None = None


@dataclass(frozen=True)
class SentenceRow:
    row: int  # position in the embedding matrix
    sentence_id: str
    source_id: str
    index: int  # position inside its source
    section: str
    start: int
    end: int
    text: str
    paragraph: int
    is_list_item: bool
    page: int | None
    terms: frozenset[str]


@dataclass
class IndexSnapshot:
    versions: IndexVersions
    sources: dict[str, SourceDoc]
    chunks: list[ChunkRecord]
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
            bigrams.update(zip(stems, stems[1:]))
        self.corpus_bigrams = frozenset(bigrams)
        self.bm25 = BM25(f"{c.section}\n{c.text}" for c in self.chunks)
        self.term_stats = TermStats(s.text for s in self.sentences)

    def sentences_of(self, chunk: ChunkRecord) -> list[SentenceRow]:
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


def load_snapshot(store: IndexStore, embedder_version: str | None = None) -> IndexSnapshot:
    versions = store.open_for_reading(embedder_version)
    sources = {
        row["id"]: SourceDoc(row["id"], row["document"] or "", dict(row["metadata"]))
        for row in store.read_all("sources")
    }
    if not sources:
        raise IndexNotReadyError("the index has no documents: add files to the corpus and run `qa ingest`")
    current = {sid: doc.metadata.get("content_sha256") for sid, doc in sources.items()}

    def vouched(meta: dict[str, Any]) -> bool:
        return current.get(meta.get("source_id")) == meta.get("content_sha256")

    chunks = []
    for row in store.read_all("chunks"):
        meta = row["metadata"]
        if vouched(meta):
            chunks.append(
                ChunkRecord(str(meta["chunk_id"]), meta["source_id"], str(meta.get("section", "")), int(meta["start"]),
                            int(meta["end"]), row["document"], int(meta["first_sentence"]),
                            int(meta["last_sentence"]), meta.get("page"))
            )
    chunks.sort(key=lambda c: (c.source_id, c.start, c.end))
    sentences, vectors = [], []
    for row in store.read_all("sentences", with_embeddings=True):
        meta = row["metadata"]
        if not vouched(meta):
            continue
        sentences.append(
            SentenceRow(len(sentences), str(meta["sentence_id"]), meta["source_id"], int(meta["index"]),
                        str(meta.get("section", "")), int(meta["start"]), int(meta["end"]), row["document"],
                        int(meta.get("paragraph", 0)), bool(meta.get("is_list_item", False)), meta.get("page"),
                        frozenset(tokens(row["document"]))))
        vectors.append(row["embedding"])
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, versions.dimension), np.float32)
    return IndexSnapshot(versions, sources, chunks, sentences, matrix)
