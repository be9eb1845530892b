"""The index as the answerer sees it: loaded once at start-up from Chroma into memory.

Holds every source's canonical text (what citations quote), the chunks with their vectors and a
BM25 index, and the sentences with the vectors and entities computed at ingest, each with its
terms: content stems plus the country and acronym terms that make different names of one thing
meet (rag/vocabulary.py). The sentences are kept in columns (rag/sentence_table.py) and the
vectors in files that every worker on the host maps (rag/vector_files.py), so a worker's memory
grows far more slowly than the index. Only rows that a source row vouches for are loaded, so a
half-finished ingest is invisible here.
"""

from __future__ import annotations

import ctypes
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexNotReadyError
from rag.language import SentenceFacts
from rag.lexical import BM25, TermStats, tokens
from rag.places import CAPITALISED_RUN, country_term
from rag.sentence_table import SentenceRow, SentenceTable, sentence_terms
from rag.store import IndexReader, IndexVersions, SourceRecord, StoredChunk, StoredSentence
from rag.vector_files import mapped
from rag.vocabulary import Vocabulary

__all__ = ["IndexSnapshot", "SentenceRow", "load_snapshot"]


@dataclass
class IndexSnapshot:
    versions: IndexVersions
    sources: dict[str, SourceRecord]
    chunks: list[StoredChunk]
    # Rows (a list, as tests and benchmarks build them) are put into a SentenceTable at init.
    sentences: SentenceTable | list[SentenceRow]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    # Each section heading's vector (embedded once at start-up by `embed_headings`): a sentence is
    # matched read under its heading too, so "It opened in 1869" meets "When did X open?".
    heading_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    chunk_position: dict[str, int] = field(init=False)
    bm25: BM25 = field(init=False)
    term_stats: TermStats = field(init=False)

    def __post_init__(self) -> None:
        self.chunk_position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        if not isinstance(self.sentences, SentenceTable):
            table = SentenceTable(self.sources)
            for row in self.sentences:
                table.append(row, row.terms)
            self.sentences = table.freeze()
        self.table: SentenceTable = self.sentences
        self._heading_terms: dict[str, frozenset[str]] = {}
        self._section_terms: dict[tuple[str, str], frozenset[str]] = {}
        self.bm25 = BM25(self._chunk_terms(chunk) for chunk in self.chunks)
        self.term_stats = TermStats(self.table.term_sets())
        self.vocabulary.used = self.term_stats.vocabulary

    def _chunk_terms(self, chunk: StoredChunk) -> list[str]:
        """Section and text stems, plus the alias terms its sentences carry (once each)."""
        terms = tokens(chunk.section) + tokens(chunk.text)
        extra = self.table.terms_of_source(chunk.source_id, chunk.first_sentence, chunk.last_sentence)
        return terms + sorted(extra - set(terms))

    def embed_headings(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        """Embed every section heading once (a few dozen short texts)."""
        headings = sorted({section for section in self.table.sections() if section})
        if headings:
            self.heading_vectors = dict(zip(headings, encode(headings), strict=True))

    def sentences_of(self, chunk: StoredChunk) -> list[SentenceRow]:
        return self.table.of_source(chunk.source_id, chunk.first_sentence, chunk.last_sentence)

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

    def section_terms(self, source_id: str, section: str) -> frozenset[str]:
        """Terms of every sentence of one section of a source, and of its heading: what the
        passage around a sentence is about. Read from the table's columns (no rows are made), the
        first time a question reaches the section, and kept for the snapshot's life."""
        key = (source_id, section)
        if key not in self._section_terms:
            terms = self.table.terms_of_source(source_id, 0, np.iinfo(np.int64).max - 1, section)
            self._section_terms[key] = self.heading_terms(section) | terms
        return self._section_terms[key]

    def title_of(self, source_id: str) -> str:
        source = self.sources.get(source_id)
        return source.title if source else source_id

    def sentences_of_source(self, source_id: str) -> list[SentenceRow]:
        """Every sentence the index holds of one source, in document order."""
        return self.table.of_source(source_id, 0, np.iinfo(np.int64).max - 1)

    def sentence_at(self, source_id: str, index: int) -> SentenceRow | None:
        return self.table.at(source_id, index)

    def stats(self) -> dict[str, Any]:
        return {
            "documents": len(self.sources),
            "chunks": len(self.chunks),
            "sentences": len(self.sentences),
            "embedder": self.versions.embedder,
            "chunker": self.versions.chunker,
        }


def load_snapshot(
    reader: IndexReader, embedder_version: str | None = None, vector_folder: Path | None = None
) -> IndexSnapshot:
    """The index as answering needs it. With `vector_folder`, the vector matrices are mapped from
    files there that every worker shares (rag/vector_files.py)."""
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
    table = SentenceTable(sources)
    for (stored, _), found in zip(stored_rows, facts, strict=True):
        table.append(stored, sentence_terms(stored.text, found, vocabulary))
    sentence_vectors = mapped(_matrix([vector for _, vector in stored_rows], dimension), vector_folder, "sentences")
    del stored_rows, facts  # the table holds what answering needs, in far less memory
    snapshot = IndexSnapshot(
        versions,
        sources,
        [c for c, _ in chunk_rows],
        table.freeze(),
        sentence_vectors,
        mapped(_matrix([v for _, v in chunk_rows], dimension), vector_folder, "chunks"),
        vocabulary,
    )
    del chunk_rows
    release_freed_memory()
    return snapshot


def release_freed_memory() -> None:
    """Hand the heap pages that loading freed back to the operating system. Loading makes and
    drops a few objects for every row (Chroma's pages, the stored rows); glibc keeps the freed
    pages, so a worker stayed as large as its peak: at 10k chunks `malloc_trim` took 150 to
    230 MB off its resident memory (measured on an index built by evals/bench/scale.py). Only
    glibc has it; elsewhere this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # musl and other C libraries: nothing to call
        return


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
