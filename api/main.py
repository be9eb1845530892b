"""The app factory. `create_app(settings, answerer)` wires routes, error handlers and the guards;
its lifespan loads the model and the index once, at start-up, when no answerer is passed in.

Nothing happens at import: `uvicorn` (through `qa serve`) or a test calls `create_app()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.errors import install_error_handlers
from api.logs import RequestLogMiddleware
from api.metrics import Metrics
from api.middleware import BearerKeyMiddleware, BodyLimitMiddleware
from api.ratelimit import RateLimitMiddleware
from api.reload import current_signature, watch_index, watches
from api.routes import ask, chat, documents, health, page, responses, sources
from rag.chain import Answerer
from rag.errors import IndexNotReadyError
from rag.request import HISTORY_TURN_FACTOR
from rag.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The signature is read before the load: an ingest that lands during it is loaded again.
    loaded = current_signature(app) if watches(app) else None
    if app.state.answerer is None:
        from rag.factory import load_answerer

        try:
            app.state.answerer = load_answerer(app.state.settings, defer_torch=True)  # until an upload
        except IndexNotReadyError as error:
            # Serve anyway: the page and /healthz can then say what is wrong (503) instead of
            # the server failing to start with a traceback.
            app.state.not_ready = str(error)
            logger.warning("index not ready: %s", error)
    watcher = asyncio.create_task(watch_index(app, loaded)) if watches(app) else None
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()


def create_app(settings: Settings | None = None, answerer: Answerer | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Document-grounded Q&A",
        summary="Answers quoted word for word from the sources, with exact-span citations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.answerer = answerer
    app.state.not_ready = None

    app.openapi = lambda: openapi_with_limits(app, settings)  # type: ignore[method-assign]
    install_error_handlers(app)
    for module in (health, ask, chat, responses, sources, page):
        app.include_router(module.router)
    documents.install(app)
    page.mount_static(app)

    # add_middleware wraps: the last added runs first. Order on the way in:
    # request log -> CORS (answers preflights, which carry no key) -> key -> rate limit -> body size
    # -> routes.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, streamed=frozenset({documents.UPLOAD_PATH})
    )
    if settings.rate_limit_per_minute is not None:  # after the key check: a refused key costs nothing
        app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute)
    if settings.api_key is not None:
        app.add_middleware(BearerKeyMiddleware, api_key=settings.api_key.get_secret_value())
    if settings.cors_origins:  # closed unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-ID"],
        )
    # Outermost: every request is logged, counted and gets its id, refused ones included.
    metrics = Metrics(lambda: app.state.answerer.snapshot.stats() if app.state.answerer is not None else None)
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text format (api/metrics.py); behind the API key like every other path."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestLogMiddleware, log_questions=settings.log_questions, metrics=metrics)
    return app


def openapi_with_limits(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The generated schema with this server's own limits in it (QA_MAX_QUESTION_CHARS,
    QA_MAX_HISTORY_TURNS and the length of a turn they imply), so that what it states valid is what
    it accepts."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
            openapi_version=app.openapi_version,
        )
        ask = schema.get("components", {}).get("schemas", {}).get("AskRequest", {}).get("properties", {})
        if "question" in ask:
            ask["question"]["maxLength"] = settings.max_question_chars
        for option in ask.get("history", {}).get("anyOf", []):
            if option.get("type") == "array":
                option["maxItems"] = settings.max_history_turns
        turn = schema.get("components", {}).get("schemas", {}).get("Turn", {}).get("properties", {})
        if "content" in turn:
            turn["content"]["maxLength"] = settings.max_question_chars * HISTORY_TURN_FACTOR
        app.openapi_schema = schema
    return app.openapi_schema
