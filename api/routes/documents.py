"""`POST /v1/documents` (add one file to the corpus and ingest it), `DELETE
/v1/documents/{source_id}` (remove one and ingest), and `GET /v1/documents/progress` (what the
running one is doing, for the page's progress line).

Both changes run the incremental ingest of `qa ingest` under its lock (ingest/documents.py) and
then load the new index into this process, so the next question is answered from it without a
restart. One change at a time: while this server or any other process ingests, both answer 409
at once rather than queue. Behind the API key like every /v1 path (api/middleware.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import SettingsDep
from api.reload import reload_now
from api.routes.sources import summary
from api.schemas import DocumentAdded, DocumentRemoved, IngestProgress, IngestStage, SourceSummary, error_responses
from api.upload import receive_upload
from rag.errors import ConflictError, IndexNotReadyError
from rag.settings import Settings

if TYPE_CHECKING:
    from ingest.documents import DocumentChange
    from rag.embeddings import MiniLMEmbeddings

router = APIRouter(prefix="/v1", tags=["documents"], responses=error_responses(429))  # the rate limit covers /v1
UPLOAD_PATH = "/v1/documents"  # its body is read as a stream, with the file limit (api/upload.py)
BUSY = "another upload or delete is running on this server; try again when it has finished"


@dataclass
class Desk:
    """This process's one change at a time, and its stage for GET /v1/documents/progress."""

    lock: asyncio.Lock
    stage: IngestStage | None = None
    file: str | None = None
    ingest_embeddings: MiniLMEmbeddings | None = None


def install(app: FastAPI) -> None:
    app.state.documents = Desk(asyncio.Lock())
    app.include_router(router)


def embedder_factory(app: FastAPI, desk: Desk) -> Callable[[], MiniLMEmbeddings]:
    """The torch model ingest embeds with (as `qa ingest` does), loaded on first use and kept:
    the answerer's own when it is that one (tests pass it in), else one more model in memory."""
    from rag.embeddings import MiniLMEmbeddings

    def make() -> MiniLMEmbeddings:
        if desk.ingest_embeddings is None:
            current = app.state.answerer.embeddings if app.state.answerer is not None else None
            settings: Settings = app.state.settings
            desk.ingest_embeddings = (
                current
                if type(current) is MiniLMEmbeddings
                else MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size)
            )
        return desk.ingest_embeddings

    return make


async def check_not_ingesting(settings: Settings) -> None:
    """409 before the body is read when another process's ingest holds the lock (it is taken
    again for the change itself: this is only so a large upload is not sent in vain)."""
    from ingest.pipeline import ingest_lock

    def probe() -> None:
        with ingest_lock(settings, wait=False):
            pass

    await run_in_threadpool(probe)


def listed(app: FastAPI, source_id: str) -> SourceSummary:
    answerer = app.state.answerer
    doc = answerer.snapshot.sources.get(source_id) if answerer is not None else None
    if doc is None:  # ingested, but the reload did not pick it up: say so rather than guess
        raise IndexNotReadyError(f"{source_id!r} was ingested but the index could not be reloaded")
    return SourceSummary(**summary(doc))


# The body is read by hand (api/upload.py), so the schema states it here for /docs and clients.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "txt, md, html or pdf"}},
            }
        }
    },
}


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentAdded,
    responses=error_responses(400, 401, 409, 413, 415, 422, 503),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def add_document(request: Request, settings: SettingsDep) -> DocumentAdded:
    """Upload one file (txt, md, html, pdf; form field `file`, at most QA_MAX_FILE_BYTES) into the
    corpus folder and ingest it. A file of that name must not be there already."""
    from ingest.documents import add_document as add

    desk: Desk = request.app.state.documents
    async with one_change(desk, "receiving", None):
        await check_not_ingesting(settings)
        received = await receive_upload(request, settings.corpus_dir, settings.max_file_bytes)
        desk.stage, desk.file = "indexing", received.name
        try:
            change = await ingest_and_reload(request.app, desk, add, settings, received.path, received.name)
        finally:
            received.path.unlink(missing_ok=True)  # moved into place, or not wanted
    return DocumentAdded(source=listed(request.app, change.source_id), ingest=change.summary.line())


@router.delete(
    "/documents/{source_id:path}", response_model=DocumentRemoved, responses=error_responses(401, 404, 409, 503)
)
async def remove_document(source_id: str, request: Request, settings: SettingsDep) -> DocumentRemoved:
    """Delete a document's file from the corpus folder and its rows from the index."""
    from ingest.documents import remove_document as remove

    desk: Desk = request.app.state.documents
    async with one_change(desk, "removing", source_id):
        change = await ingest_and_reload(request.app, desk, remove, settings, source_id)
    return DocumentRemoved(source_id=change.source_id, ingest=change.summary.line())


@asynccontextmanager
async def one_change(desk: Desk, stage: IngestStage, file: str | None) -> AsyncIterator[None]:
    """This server's one change at a time (409 at once while one runs), its stage shown meanwhile."""
    if desk.lock.locked():
        raise ConflictError(BUSY)
    async with desk.lock:
        desk.stage, desk.file = stage, file
        try:
            yield
        finally:
            desk.stage, desk.file = None, None


async def ingest_and_reload(
    app: FastAPI, desk: Desk, change: Callable[..., DocumentChange], *args: Any
) -> DocumentChange:
    """Run the change (its ingest, with the torch model) on a worker thread, then load the new
    index into this process."""
    done = await run_in_threadpool(change, *args, embedder_factory(app, desk))
    desk.stage = "loading the new index"
    await run_in_threadpool(reload_now, app)
    return done


@router.get("/documents/progress", response_model=IngestProgress, responses=error_responses(401))
async def progress(request: Request) -> IngestProgress:
    desk: Desk = request.app.state.documents
    return IngestProgress(running=desk.stage is not None, stage=desk.stage, file=desk.file)
