"""Adding one document to the corpus folder and removing one, each followed by the incremental
ingest that `qa ingest` runs (ingest/pipeline.py), under its lock: what the API's upload and
delete routes do.

An upload arrives as a hidden `.upload-*.part` file in the corpus folder (discovery skips hidden
files, so no ingest reads it half-written). Here, with the lock held, it is renamed to its name
in one step and the corpus is ingested as usual, so the crash-safety is the ingest's own: a crash
after the rename leaves a whole file that the next `qa ingest` indexes; a crash after a delete, a
source whose rows the next `qa ingest` removes. The lock is never waited for: a second upload
while any ingest runs is a ConflictError at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.files import shown
from ingest.load import find_sidecar, source_id_for
from ingest.pipeline import IngestSummary, ingest_lock, ingest_paths
from rag.embeddings import MiniLMEmbeddings
from rag.errors import ConflictError, LoadError, UnknownSourceError
from rag.settings import Settings
from rag.storage import open_client
from rag.store import IndexReader

EmbedderFactory = Callable[[], MiniLMEmbeddings] | None
SKIPPED = "the corpus folder's .qaignore leaves this name out"


@dataclass(frozen=True)
class DocumentChange:
    """What one upload or delete did: the source it concerned and the ingest's summary."""

    source_id: str
    summary: IngestSummary


def indexed_sources(settings: Settings) -> dict[str, dict[str, Any]]:
    """The published sources' metadata by id; empty for a store nothing was published to."""
    from chromadb.errors import NotFoundError

    client = open_client(settings)
    reader = IndexReader(client, settings.collection)
    try:
        collection = client.get_collection(reader.name("sources", reader.published().generation))
    except NotFoundError:
        return {}
    found = collection.get(include=["metadatas"])
    return {sid: dict(meta or {}) for sid, meta in zip(found["ids"], found["metadatas"] or [], strict=True)}


def add_document(
    settings: Settings, upload: Path, name: str, embedder_factory: EmbedderFactory = None
) -> DocumentChange:
    """Move the received file `upload` to `name` in the corpus folder and ingest. A file that
    cannot be ingested (unreadable, or skipped by the folder's rules) is taken out again and
    LoadError says why, so the corpus keeps only what the index holds."""
    target = settings.corpus_dir / name
    source_id = source_id_for(target, settings.corpus_dir)
    with ingest_lock(settings, wait=False):
        _check_free(settings, target, source_id)
        upload.replace(target)  # one rename in one folder: the file appears whole or not at all
        try:
            summary = ingest_paths(None, settings, embedder_factory=embedder_factory, progress=False)
        except BaseException:
            # The client is told it failed, so the file must not turn up in a later ingest.
            target.unlink(missing_ok=True)
            raise
        reason = next((why for path, why in summary.failed if path == shown(target)), None)
        if reason is not None or source_id not in indexed_sources(settings):
            target.unlink(missing_ok=True)
            raise LoadError(f"{name}: {reason or SKIPPED}")
    return DocumentChange(source_id, summary)


def _check_free(settings: Settings, target: Path, source_id: str) -> None:
    """Refuse an upload that would replace a file or share a source id with another document:
    replacing is a delete first, on purpose, so no upload overwrites a document by accident."""
    if target.exists() or target.is_symlink():
        raise ConflictError(f"{target.name} is in the corpus already; delete it first to replace it")
    record = indexed_sources(settings).get(source_id)
    if record is not None:
        raise ConflictError(
            f"the document {record.get('path') or source_id!r} has the same source id {source_id!r}; "
            "rename the file or delete that document first"
        )


def remove_document(settings: Settings, source_id: str, embedder_factory: EmbedderFactory = None) -> DocumentChange:
    """Delete a source's file (and its metadata sidecar) from the corpus folder and ingest, which
    removes its rows. Only files inside the corpus folder are deleted from here."""
    with ingest_lock(settings, wait=False):
        record = indexed_sources(settings).get(source_id)
        if record is None:
            raise UnknownSourceError(f"no document {source_id!r} in the index; GET /v1/sources lists them")
        path = _corpus_file(settings, source_id, str(record.get("path", "")))
        sidecar = find_sidecar(path)
        path.unlink(missing_ok=True)
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)
        summary = ingest_paths(None, settings, embedder_factory=embedder_factory, progress=False)
    return DocumentChange(source_id, summary)


def _corpus_file(settings: Settings, source_id: str, recorded: str) -> Path:
    """The corpus file a source record names. A source ingested from elsewhere (`qa ingest
    /some/file.pdf` records an absolute path) is not the corpus folder's to delete."""
    relative = PurePosixPath(recorded)
    if not recorded or relative.is_absolute() or ".." in relative.parts:
        raise ConflictError(
            f"{source_id!r} was ingested from outside the corpus folder ({recorded or 'no path recorded'}); "
            "it is not deleted from here"
        )
    return settings.corpus_dir.joinpath(*relative.parts)
