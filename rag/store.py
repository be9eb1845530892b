"""The store that ingest writes and answering reads: three Chroma collections that stay consistent.

Layout, for collection prefix P:
  P_chunks     one row per chunk: embedding of section + text, span metadata
  P_sentences  one row per sentence: its embedding, computed at ingest so questions never re-embed it
  P_sources    one row per document: cleaned canonical text (what offsets index) and metadata

Consistency without transactions across collections: a source's row is written LAST, after its
chunks and sentences, and carries the content hash they were made from. Readers trust only
chunk and sentence rows whose (source_id, content_sha256) matches a source row, and every ingest
sweeps away the rest (ingest/index.py writes).

This module owns what both sides share: the client factory, the layout's version stamp, the
typed rows with `to_metadata`/`from_stored`, and reading. It hands readers typed rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import IndexNotReadyError

if TYPE_CHECKING:  # chromadb is imported where a client is made, not when this module is
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

SCHEMA = "qa-index/2"  # 2: row ids carry the content version
KINDS = ("chunks", "sentences", "sources")
VERSION_KEYS = ("schema", "embedder", "chunker", "dimension")


@dataclass(frozen=True)
class IndexVersions:
    """What an index was built with; an index is only read or extended by the same versions."""

    embedder: str
    chunker: str
    dimension: int | None  # of the vectors; None until the first vectors are written

    def as_metadata(self) -> dict[str, Any]:
        stamp = {"schema": SCHEMA, "embedder": self.embedder, "chunker": self.chunker, "dimension": self.dimension}
        return clean_metadata(stamp)

    def compatible_with(self, stamp: Mapping[str, Any]) -> bool:
        """Can an index with this stamp be read or extended with these versions? The embedder
        fingerprint and the chunker decide; a known dimension must also agree."""
        mine = self.as_metadata()
        if any(stamp.get(key) != mine.get(key) for key in ("schema", "embedder", "chunker")):
            return False
        return stamp.get("dimension") is None or self.dimension is None or stamp["dimension"] == self.dimension


def clean_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Chroma takes str/int/float/bool values only: drop None, JSON-encode the rest."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value, ensure_ascii=False)
    return out


def row_id(stable_id: str, sha: str) -> str:
    """Chroma row id: the stable content id plus the version it belongs to, so a new version's
    rows can be written before the old ones are deleted."""
    return f"{stable_id}@{sha[:16]}"


def _page(value: Any) -> int | None:
    return None if value is None else int(value)


# ---- typed rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredChunk:
    """One chunk: an exact span of its source's canonical text, inside one section."""

    chunk_id: str
    source_id: str
    content_sha256: str
    section: str
    start: int
    end: int
    text: str
    first_sentence: int  # index of the source's first sentence in the chunk
    last_sentence: int  # inclusive
    chunk_index: int
    title: str
    page: int | None

    @property
    def row_id(self) -> str:
        return row_id(self.chunk_id, self.content_sha256)

    def to_metadata(self) -> dict[str, Any]:
        return clean_metadata(
            {
                "chunk_id": self.chunk_id,
                "source_id": self.source_id,
                "content_sha256": self.content_sha256,
                "title": self.title,
                "section": self.section,
                "start": self.start,
                "end": self.end,
                "first_sentence": self.first_sentence,
                "last_sentence": self.last_sentence,
                "chunk_index": self.chunk_index,
                "page": self.page,
            }
        )

    @classmethod
    def from_stored(cls, document: str, meta: Mapping[str, Any]) -> StoredChunk:
        return cls(
            chunk_id=str(meta["chunk_id"]),
            source_id=str(meta["source_id"]),
            content_sha256=str(meta["content_sha256"]),
            section=str(meta.get("section", "")),
            start=int(meta["start"]),
            end=int(meta["end"]),
            text=document,
            first_sentence=int(meta["first_sentence"]),
            last_sentence=int(meta["last_sentence"]),
            chunk_index=int(meta.get("chunk_index", 0)),
            title=str(meta.get("title", "")),
            page=_page(meta.get("page")),
        )


@dataclass(frozen=True)
class StoredSentence:
    """One sentence (or list item) of a source, with its place in the document."""

    sentence_id: str
    source_id: str
    content_sha256: str
    index: int  # position inside its source
    section: str
    start: int
    end: int
    text: str
    paragraph: int
    is_list_item: bool
    page: int | None
    entities: str = "[]"  # JSON [[start, end, label], ...] relative to the sentence (rag/language.py)
    refers_back: bool = False  # opens by pointing at what came before ("It ...", "However, ...")
    instruction: bool = False  # addressed to an assistant: never evidence (rag/language.py)

    @property
    def row_id(self) -> str:
        return row_id(self.sentence_id, self.content_sha256)

    def to_metadata(self) -> dict[str, Any]:
        return clean_metadata(
            {
                "entities": self.entities,
                "refers_back": self.refers_back,
                "instruction": self.instruction,
                "sentence_id": self.sentence_id,
                "source_id": self.source_id,
                "content_sha256": self.content_sha256,
                "section": self.section,
                "start": self.start,
                "end": self.end,
                "index": self.index,
                "paragraph": self.paragraph,
                "is_list_item": self.is_list_item,
                "page": self.page,
            }
        )

    @classmethod
    def from_stored(cls, document: str, meta: Mapping[str, Any]) -> StoredSentence:
        return cls(
            sentence_id=str(meta["sentence_id"]),
            source_id=str(meta["source_id"]),
            content_sha256=str(meta["content_sha256"]),
            index=int(meta["index"]),
            section=str(meta.get("section", "")),
            start=int(meta["start"]),
            end=int(meta["end"]),
            text=document,
            paragraph=int(meta.get("paragraph", 0)),
            is_list_item=bool(meta.get("is_list_item", False)),
            page=_page(meta.get("page")),
            entities=str(meta.get("entities", "[]")),
            refers_back=bool(meta.get("refers_back", False)),
            instruction=bool(meta.get("instruction", False)),
        )


@dataclass(frozen=True)
class SourceRecord:
    """One document: its canonical text and its metadata (title, author, ... as loaded, plus
    content_sha256, path, n_chunks, n_sentences and the JSON list of sections)."""

    source_id: str
    text: str
    metadata: dict[str, Any]

    @property
    def content_sha256(self) -> str | None:
        value = self.metadata.get("content_sha256")
        return None if value is None else str(value)

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source_id)

    @property
    def sections(self) -> list[str]:
        try:
            return list(json.loads(self.metadata.get("sections", "[]")))
        except (TypeError, ValueError):
            return []

    def to_metadata(self) -> dict[str, Any]:
        return clean_metadata(self.metadata)

    @classmethod
    def from_stored(cls, source_id: str, document: str | None, meta: Mapping[str, Any] | None) -> SourceRecord:
        return cls(source_id, document or "", dict(meta or {}))


# ---- the collections ---------------------------------------------------------------------------

POINTER = "current"  # P_current: a collection with no rows, whose metadata names the published generation


@dataclass(frozen=True)
class Publication:
    generation: str = ""
    previous: str = ""
    serial: int = 0


class StoreCollections:
    """The three collections of one prefix and generation, as the reader and the writer both see
    them. A rebuild writes a new generation beside the published one and then publishes it with one
    write to the pointer collection P_current (see `published`); the first generation, from before
    any rebuild, is "" and has the plain names P_chunks, P_sentences, P_sources; generation gN has
    P.gN_chunks and so on."""

    def __init__(self, client: ClientAPI, prefix: str, generation: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self.generation = generation
        self._collections: dict[str, Collection] = {}
        self.batch_size = max(1, min(int(client.get_max_batch_size()), 2000))

    def name(self, kind: str, generation: str | None = None) -> str:
        generation = self.generation if generation is None else generation
        # "." cannot occur in a prefix (Settings.collection), so no prefix's names meet another's.
        return f"{self.prefix}.{generation}_{kind}" if generation else f"{self.prefix}_{kind}"

    @property
    def pointer_name(self) -> str:
        return f"{self.prefix}_{POINTER}"

    def published(self) -> Publication:
        """Which generation readers open, the one before it (kept for readers still on it), and
        the serial number of the last one made."""
        from chromadb.errors import NotFoundError

        try:
            metadata = self.client.get_collection(self.pointer_name, embedding_function=None).metadata or {}
        except NotFoundError:
            return Publication()
        return Publication(
            str(metadata.get("generation", "")), str(metadata.get("previous", "")), int(metadata.get("serial", 0))
        )

    def collection(self, kind: str) -> Collection:
        if kind not in self._collections:
            raise IndexNotReadyError(f"index collection {self.name(kind)!r} is not open")
        return self._collections[kind]

    def existing_versions(self) -> dict[str, Any] | None:
        """The version stamp of the index there is, None when there is none, and
        {"schema": "incomplete"} when a crash left only some of its collections."""
        names = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        found = [self.name(kind) in names for kind in KINDS]
        if not any(found):
            return None
        if not all(found):
            return {"schema": "incomplete"}
        metadata = self.client.get_collection(self.name("sources"), embedding_function=None).metadata or {}
        return {key: metadata.get(key) for key in VERSION_KEYS}

    def delete_collection(self, name: str) -> None:
        from chromadb.errors import NotFoundError

        with contextlib.suppress(NotFoundError):
            self.client.delete_collection(name)

    def _pages(self, kind: str, include: Any) -> Iterator[Any]:
        """Every row of one collection in pages, fetched by id: a page asked for by offset costs
        Chroma a walk past every row before it (measured at 500k rows: 0.18 s for the first page
        of 2,000, 1.4 s for the last), so reading a large collection that way grows with its
        square. The ids alone come in one call, in the collection's order."""
        collection = self.collection(kind)
        ids = collection.get(include=[])["ids"]
        for start in range(0, len(ids), self.batch_size):
            yield collection.get(ids=ids[start : start + self.batch_size], include=include)

    def iter_metadata(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for got in self._pages(kind, ["metadatas"]):
            yield from zip(got["ids"], (dict(m or {}) for m in got["metadatas"] or []), strict=True)

    def read_all(self, kind: str, with_embeddings: bool = False) -> Iterator[dict[str, Any]]:
        """Every row of one collection, in pages, as dicts with id, document, metadata (and
        embedding)."""
        include: Any = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        for got in self._pages(kind, include):
            documents, metadatas = got["documents"] or [], got["metadatas"] or []
            embeddings = got.get("embeddings") if with_embeddings else None
            for position, found_id in enumerate(got["ids"]):
                yield {
                    "id": found_id,
                    "document": documents[position],
                    "metadata": metadatas[position] or {},
                    "embedding": None if embeddings is None else np.asarray(embeddings[position], dtype=np.float32),
                }


class IndexReader(StoreCollections):
    """Opens an existing index and reads it as typed rows."""

    def open(self, embedder_version: str | None = None) -> IndexVersions:
        """Open the published generation's collections; a missing or foreign index is a clear error."""
        self.generation = self.published().generation
        existing = self.existing_versions()
        if not existing:
            raise IndexNotReadyError(f"no index named {self.prefix!r} yet: run `qa ingest` first")
        if existing.get("schema") != SCHEMA:
            raise IndexNotReadyError(
                f"the index {self.prefix!r} is incomplete or from another version: run `qa ingest`"
            )
        if embedder_version and existing.get("embedder") != embedder_version:
            raise IndexNotReadyError(
                f"the index was built with {existing.get('embedder')}, but this process embeds with "
                f"{embedder_version}: run `qa ingest` to rebuild it"
            )
        for kind in KINDS:
            self._collections[kind] = self.client.get_collection(self.name(kind), embedding_function=None)
        dimension = existing.get("dimension")
        return IndexVersions(
            str(existing["embedder"]), str(existing["chunker"]), None if dimension is None else int(dimension)
        )

    def sources(self) -> list[SourceRecord]:
        return [
            SourceRecord.from_stored(row["id"], row["document"], row["metadata"]) for row in self.read_all("sources")
        ]

    def chunks(self) -> Iterator[StoredChunk]:
        for row in self.read_all("chunks"):
            yield StoredChunk.from_stored(row["document"], row["metadata"])

    def chunks_with_vectors(self) -> Iterator[tuple[StoredChunk, np.ndarray]]:
        """Each chunk with its embedding (section and text, embedded at ingest)."""
        for row in self.read_all("chunks", with_embeddings=True):
            yield StoredChunk.from_stored(row["document"], row["metadata"]), row["embedding"]

    def sentences(self) -> Iterator[tuple[StoredSentence, np.ndarray]]:
        """Each sentence with the embedding ingest computed for it."""
        for row in self.read_all("sentences", with_embeddings=True):
            yield StoredSentence.from_stored(row["document"], row["metadata"]), row["embedding"]
