"""The writing side of the store (rag/store.py holds the layout, the typed rows and reading).

A source is swapped in crash-safely: its new chunk and sentence rows go in beside the old ones
(row ids carry the content hash), then its source row switches readers over in one write, and only
then do the old rows go. An ingest killed at any moment leaves either the old version or an
unfinished one that nobody reads; `sweep_orphans` removes the latter on the next run.

A rebuild (asked for, or forced by another embedder or chunker) never empties the index readers
use: it fills a new generation beside it and `publish` switches readers over in one write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from rag.errors import ConfigError, IndexNotReadyError
from rag.store import KINDS, IndexVersions, Publication, SourceRecord, StoreCollections, StoredChunk, StoredSentence

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.types import Where


class IndexWriter(StoreCollections):
    """The three collections, opened for writing one embedder/chunker version."""

    def __init__(self, client: ClientAPI, prefix: str) -> None:
        super().__init__(client, prefix)
        self.versions: IndexVersions | None = None  # set by open_for_writing
        self.replacing: Publication | None = None  # while a rebuild is written beside the published index

    def open_for_writing(self, versions: IndexVersions, rebuild: bool) -> str | None:
        """Create or open the collections. Returns why a rebuild happened, or None.
        A store built by another embedder or chunker is rebuilt, never mixed. A rebuild is
        written as a new generation beside the published one, which readers keep using until
        `publish`; an ingest killed before then leaves them the old index whole."""
        reason = None
        publication = self.published()
        self.generation = publication.generation
        existing = self.existing_versions()
        if rebuild and existing:
            reason = "--rebuild was asked for"
        elif existing and not versions.compatible_with(existing):
            reason = (
                f"the index was built with {_describe(existing)}, this run uses {_describe(versions.as_metadata())}"
            )
        if reason:
            self.replacing = publication
            self.generation = f"g{publication.serial + 1}"
            # What a rebuild killed before publishing left under this name (nobody reads it).
            for kind in ("sources", "sentences", "chunks"):
                self.delete_collection(self.name(kind))
        else:
            # What a rebuild killed before publishing left, and generations older than the previous.
            self.drop_generations(keep={publication.generation, publication.previous})
            if existing and versions.dimension is None and existing.get("dimension") is not None:
                versions = replace(versions, dimension=int(existing["dimension"]))
        self.versions = versions
        for kind in KINDS:
            self._collections[kind] = self.client.get_or_create_collection(
                self.name(kind),
                metadata=versions.as_metadata(),
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        return reason

    def publish(self) -> None:
        """Switch readers to a rebuilt generation with one write to the pointer, then drop every
        generation but it and the one before (a server started on that one keeps answering until
        it reopens the index). Nothing to do after an incremental ingest."""
        if self.replacing is None:
            return
        old = self.replacing
        pointer = self.client.get_or_create_collection(self.pointer_name, embedding_function=None)
        pointer.modify(metadata={"generation": self.generation, "previous": old.generation, "serial": old.serial + 1})
        self.drop_generations(keep={self.generation, old.generation})
        self.replacing = None

    def drop_generations(self, keep: set[str]) -> None:
        """Delete the collections of this prefix's generations not in `keep`."""
        kinds = "|".join(KINDS)
        pattern = re.compile(rf"^{re.escape(self.prefix)}(?:\.(g\d+))?_({kinds})$")
        for collection in self.client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            found = pattern.match(name)
            if found and (found.group(1) or "") not in keep:
                self.delete_collection(name)

    def _stamp_dimension(self, dimension: int) -> None:
        """Record the vectors' dimension before the first vectors are written (an index is
        created before the model is loaded, so that an ingest with nothing to embed never
        loads it). The sources collection, which readers take the stamp from, goes last."""
        if self.versions is None:
            raise IndexNotReadyError("the index is not open for writing")
        if self.versions.dimension == dimension:
            return
        if self.versions.dimension is not None:
            raise ConfigError(
                f"the index holds {self.versions.dimension}-dimensional vectors, the model "
                f"makes {dimension}: run `qa ingest --rebuild`"
            )
        self.versions = replace(self.versions, dimension=dimension)
        for kind in ("chunks", "sentences", "sources"):
            self.collection(kind).modify(metadata=self.versions.as_metadata())

    def source_records(self) -> dict[str, dict[str, Any]]:
        got = self.collection("sources").get(include=["metadatas"])
        return {sid: dict(meta or {}) for sid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def replace_source(
        self,
        source: SourceRecord,
        chunks: Sequence[StoredChunk],
        chunk_vectors: np.ndarray,
        sentences: Sequence[StoredSentence],
        sentence_vectors: np.ndarray,
    ) -> None:
        """Swap in a new version of one source (see the module docstring for the order)."""
        sha = str(source.content_sha256)
        self._stamp_dimension(int(chunk_vectors.shape[1]))
        self._add("chunks", [(c.row_id, c.text, c.to_metadata()) for c in chunks], chunk_vectors)
        self._add("sentences", [(s.row_id, s.text, s.to_metadata()) for s in sentences], sentence_vectors)
        document_vector = chunk_vectors.mean(axis=0) if len(chunk_vectors) else np.zeros(chunk_vectors.shape[1])
        norm = float(np.linalg.norm(document_vector)) or 1.0
        self.collection("sources").upsert(
            ids=[source.source_id],
            documents=[source.text],
            embeddings=[(document_vector / norm).tolist()],
            metadatas=[source.to_metadata()],
        )
        for kind in ("chunks", "sentences"):
            # A cast: mypy cannot infer Chroma's literal operator keys through the nested union.
            older = cast("Where", {"$and": [{"source_id": source.source_id}, {"content_sha256": {"$ne": sha}}]})
            self.collection(kind).delete(where=older)

    def remove_source(self, source_id: str) -> None:
        # The source row first: from then on no reader trusts the rows, whatever happens next.
        self.collection("sources").delete(ids=[source_id])
        for kind in ("chunks", "sentences"):
            self.collection(kind).delete(where={"source_id": source_id})

    def _add(self, kind: str, rows: list[tuple[str, str, dict[str, Any]]], vectors: np.ndarray) -> None:
        for offset in range(0, len(rows), self.batch_size):
            batch = rows[offset : offset + self.batch_size]
            self.collection(kind).upsert(
                ids=[row[0] for row in batch],
                documents=[row[1] for row in batch],
                metadatas=[row[2] for row in batch],
                embeddings=vectors[offset : offset + len(batch)].tolist(),
            )

    def sweep_orphans(self) -> int:
        """Delete chunk and sentence rows that no source row vouches for (left by a crash, or
        by a source removed halfway). Returns how many rows went."""
        current = {sid: meta.get("content_sha256") for sid, meta in self.source_records().items()}
        removed = 0
        for kind in ("chunks", "sentences"):
            stale = [
                found_id
                for found_id, meta in self.iter_metadata(kind)
                if current.get(str(meta.get("source_id"))) != meta.get("content_sha256")
            ]
            for offset in range(0, len(stale), self.batch_size):
                self.collection(kind).delete(ids=stale[offset : offset + self.batch_size])
            removed += len(stale)
        return removed


def _describe(metadata: dict[str, Any]) -> str:
    return f"layout {metadata.get('schema')}, embedder {metadata.get('embedder')} and chunker {metadata.get('chunker')}"
