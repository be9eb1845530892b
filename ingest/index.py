"""The store: three Chroma collections (chunks, sentences, sources) that stay consistent.

Layout, for collection prefix P:
  P_chunks     one record per chunk: embedding of section + text, span metadata
  P_sentences  one record per sentence: its embedding, computed here so questions never re-embed it
  P_sources    one record per document: cleaned canonical text (what offsets index) and metadata

Consistency without transactions across collections: a source's record is written LAST, after
its chunks and sentences, and carries the content hash they were made from. Readers trust only
chunks and sentences whose (source_id, content_sha256) matches a source record, and every ingest
sweeps away the rest. An ingest killed at any moment therefore leaves either the old version or
an unfinished one that nobody reads, and the next ingest finishes or removes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.errors import ConfigError, IndexNotReadyError
from rag.settings import Settings

SCHEMA = "qa-index/2"  # 2: row ids carry the content version
KINDS = ("chunks", "sentences", "sources")


@dataclass(frozen=True)
class IndexVersions:
    embedder: str
    chunker: str
    dimension: int

    def as_metadata(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "embedder": self.embedder, "chunker": self.chunker, "dimension": self.dimension}


def open_client(settings: Settings):
    """A Chroma client: on disk under QA_DATA_DIR, or a server at QA_CHROMA_URL."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(f"QA_CHROMA_URL has no host: {settings.chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 80),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Chroma takes str/int/float/bool values only: drop None, JSON-encode the rest."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value, ensure_ascii=False)
    return out


class IndexStore:
    """The three collections, opened for one embedder/chunker version."""

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._collections: dict[str, Any] = {}
        self.batch_size = max(1, min(int(client.get_max_batch_size()), 2000))

    def name(self, kind: str) -> str:
        return f"{self.prefix}_{kind}"

    def collection(self, kind: str):
        if kind not in self._collections:
            raise IndexNotReadyError(f"index collection {self.name(kind)!r} is not open")
        return self._collections[kind]

    # ---- opening -----------------------------------------------------------------------

    def open_for_writing(self, versions: IndexVersions, rebuild: bool) -> str | None:
        """Create or open the collections. Returns why a rebuild happened, or None.
        A store built by another embedder or chunker is rebuilt, never mixed."""
        reason = None
        existing = self._existing_versions()
        if rebuild and existing:
            reason = "--rebuild was asked for"
        elif existing and existing != versions.as_metadata():
            reason = f"the index was built with {_describe(existing)}, this run uses {_describe(versions.as_metadata())}"
        if reason:
            # Sources first: without their records, any chunk left by a crash here is unread.
            for kind in ("sources", "sentences", "chunks"):
                self._delete_collection(self.name(kind))
        for kind in KINDS:
            self._collections[kind] = self.client.get_or_create_collection(
                self.name(kind),
                metadata=versions.as_metadata(),
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        return reason

    def open_for_reading(self, embedder_version: str | None = None) -> IndexVersions:
        """Open existing collections; a missing or foreign index is a clear error."""
        existing = self._existing_versions()
        if not existing:
            raise IndexNotReadyError(f"no index named {self.prefix!r} yet: run `qa ingest` first")
        if existing.get("schema") != SCHEMA:
            raise IndexNotReadyError(f"the index {self.prefix!r} is incomplete or from another version: run `qa ingest`")
        if embedder_version and existing.get("embedder") != embedder_version:
            raise IndexNotReadyError(
                f"the index was built with {existing.get('embedder')}, but this process embeds with "
                f"{embedder_version}: run `qa ingest` to rebuild it"
            )
        for kind in KINDS:
            self._collections[kind] = self.client.get_collection(self.name(kind), embedding_function=None)
        return IndexVersions(str(existing["embedder"]), str(existing["chunker"]), int(existing["dimension"]))

    def _existing_versions(self) -> dict[str, Any] | None:
        names = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        found = [self.name(kind) in names for kind in KINDS]
        if not any(found):
            return None
        if not all(found):
            # A crash between creating collections: treat it as foreign so it is rebuilt.
            return {"schema": "incomplete"}
        metadata = self.client.get_collection(self.name("sources"), embedding_function=None).metadata or {}
        return {k: metadata.get(k) for k in ("schema", "embedder", "chunker", "dimension")}

    def _delete_collection(self, name: str) -> None:
        try:
            self.client.delete_collection(name)
        except Exception as error:  # chromadb raises NotFoundError or ValueError by version
            if "does not exist" not in str(error).lower() and "not found" not in str(error).lower():
                raise

    # ---- writing -----------------------------------------------------------------------

    def source_records(self) -> dict[str, dict[str, Any]]:
        got = self.collection("sources").get(include=["metadatas"])
        return {sid: dict(meta or {}) for sid, meta in zip(got["ids"], got["metadatas"])}

    def replace_source(
        self,
        source_id: str,
        text: str,
        source_metadata: dict[str, Any],
        chunk_rows: list[tuple[str, str, dict[str, Any]]],
        chunk_vectors: np.ndarray,
        sentence_rows: list[tuple[str, str, dict[str, Any]]],
        sentence_vectors: np.ndarray,
    ) -> None:
        """Swap in a new version of one source. Row ids carry the content hash, so the new rows
        go in beside the old ones; the source record then switches readers over in one write;
        only after that do the old rows go. A kill anywhere leaves a version that readers see."""
        sha = str(source_metadata["content_sha256"])
        self._add("chunks", chunk_rows, chunk_vectors)
        self._add("sentences", sentence_rows, sentence_vectors)
        document_vector = chunk_vectors.mean(axis=0) if len(chunk_vectors) else np.zeros(chunk_vectors.shape[1])
        norm = float(np.linalg.norm(document_vector)) or 1.0
        self.collection("sources").upsert(
            ids=[source_id],
            documents=[text],
            embeddings=[(document_vector / norm).tolist()],
            metadatas=[clean_metadata(source_metadata)],
        )
        for kind in ("chunks", "sentences"):
            self.collection(kind).delete(
                where={"$and": [{"source_id": source_id}, {"content_sha256": {"$ne": sha}}]}
            )

    def remove_source(self, source_id: str) -> None:
        # Record first: from then on no reader trusts the rows, whatever happens next.
        self.collection("sources").delete(ids=[source_id])
        for kind in ("chunks", "sentences"):
            self.collection(kind).delete(where={"source_id": source_id})

    def _add(self, kind: str, rows: list[tuple[str, str, dict[str, Any]]], vectors: np.ndarray) -> None:
        for offset in range(0, len(rows), self.batch_size):
            batch = rows[offset : offset + self.batch_size]
            self.collection(kind).upsert(
                ids=[row[0] for row in batch],
                documents=[row[1] for row in batch],
                metadatas=[clean_metadata(row[2]) for row in batch],
                embeddings=vectors[offset : offset + len(batch)].tolist(),
            )

    def sweep_orphans(self) -> int:
        """Delete chunk and sentence rows that no source record vouches for (left by a crash, or
        by a source removed halfway). Returns how many rows went."""
        current = {sid: meta.get("content_sha256") for sid, meta in self.source_records().items()}
        removed = 0
        for kind in ("chunks", "sentences"):
            stale = [
                row_id
                for row_id, meta in self._iter_metadata(kind)
                if current.get(meta.get("source_id")) != meta.get("content_sha256")
            ]
            for offset in range(0, len(stale), self.batch_size):
                self.collection(kind).delete(ids=stale[offset : offset + self.batch_size])
            removed += len(stale)
        return removed

    def _iter_metadata(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        collection = self.collection(kind)
        total = collection.count()
        for offset in range(0, total, self.batch_size):
            got = collection.get(include=["metadatas"], limit=self.batch_size, offset=offset)
            yield from zip(got["ids"], (m or {} for m in got["metadatas"]))

    # ---- reading -----------------------------------------------------------------------

    def read_all(self, kind: str, with_embeddings: bool = False) -> Iterable[dict[str, Any]]:
        """Every row of one collection, in pages, as dicts with id, document, metadata (and
        embedding)."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        collection = self.collection(kind)
        total = collection.count()
        for offset in range(0, total, self.batch_size):
            got = collection.get(include=include, limit=self.batch_size, offset=offset)
            embeddings = got.get("embeddings") if with_embeddings else None
            for position, row_id in enumerate(got["ids"]):
                yield {
                    "id": row_id,
                    "document": got["documents"][position],
                    "metadata": got["metadatas"][position] or {},
                    "embedding": None if embeddings is None else np.asarray(embeddings[position], dtype=np.float32),
                }


def _describe(metadata: dict[str, Any]) -> str:
    return (f"layout {metadata.get('schema')}, embedder {metadata.get('embedder')} "
            f"and chunker {metadata.get('chunker')}")
