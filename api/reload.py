"""Serving the index another process has just ingested, without a restart.

With a Chroma server (QA_CHROMA_URL), every QA_INDEX_CHECK_S seconds a serving process reads the
index's signature (rag/freshness.py: the published generation and every source's content hash);
when it differs from the one its answerer was loaded at, it loads a new answerer in a worker
thread, reusing the embedding model, and swaps it in with one assignment. Requests already running
finish on the answerer they started with; a new one gets the new answerer only once it is whole,
so no request sees a half-loaded lexical index. The writer publishes each source whole (its rows,
then its source record), and a reader keeps only rows whose source record vouches for them, so a
check in the middle of another process's ingest loads the sources finished so far.

On disk (no QA_CHROMA_URL) there is no watcher: Chroma's embedded client keeps its vector index
in the memory of the process that opened it and does not see another process's writes, so a
server on disk is restarted after an ingest (README, "Scaling out").
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from rag.errors import IndexNotReadyError, QAError

logger = logging.getLogger(__name__)


def watches(app: FastAPI) -> bool:
    settings = app.state.settings
    return bool(settings.chroma_url) and settings.index_check_s > 0


def store_errors() -> tuple[type[BaseException], ...]:
    """What a Chroma server that is down, hung or half-written raises through its client."""
    import httpx
    from chromadb.errors import ChromaError

    return (QAError, OSError, ValueError, KeyError, ChromaError, httpx.HTTPError)


def current_signature(app: FastAPI) -> str | None:
    """The store's signature now, or None when it cannot be read (the server is down: /healthz
    says so; the next check tries again)."""
    from rag.freshness import index_signature

    try:
        return index_signature(app.state.settings)
    except store_errors() as error:
        logger.warning("index check failed: %s", type(error).__name__)
        return None


def load_fresh(app: FastAPI) -> None:
    """Load the answerer for the index as it is now and swap it in (in a worker thread)."""
    from rag.factory import load_answerer

    current = app.state.answerer
    embeddings = current.embeddings if current is not None else None
    fresh = load_answerer(app.state.settings, embeddings)
    app.state.answerer = fresh
    app.state.not_ready = None


def reload_now(app: FastAPI) -> None:
    """After an upload or delete in this process: load and swap in at once (on disk no watcher
    would; with a server this one need not wait for it). An index left empty (the last document
    deleted) is 'not ready' until a document is added, as at start-up."""
    try:
        load_fresh(app)
    except IndexNotReadyError as error:
        app.state.answerer = None
        app.state.not_ready = str(error)


async def watch_index(app: FastAPI, loaded: str | None) -> None:
    """Check the signature every QA_INDEX_CHECK_S seconds; load and swap when it moved."""
    while True:
        await asyncio.sleep(app.state.settings.index_check_s)
        now = await run_in_threadpool(current_signature, app)
        if now is None or now == loaded:
            continue
        try:
            await run_in_threadpool(load_fresh, app)
        except store_errors() as error:  # a store that went away mid-load: keep serving the old one
            logger.warning("reloading the index failed, still serving the previous one: %s", type(error).__name__)
            continue
        loaded = now
        logger.info("loaded the index another process published")
