"""`POST /v1/ask` (one JSON answer) and `POST /v1/ask/stream` (the same answer as events)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import AnswererDep
from api.errors import GENERIC_500, error_body
from api.schemas import AskRequest, AskResponse
from api.sse import SSE_HEADERS, event, word_pieces
from rag.answer import Answer

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["ask"])

STREAM_DOC = """`text/event-stream`: `delta` events (`{"text": ...}`, joined they are the answer), then
`citations` (`{"citations": [...], "abstained": bool}`), then `done` (`{"timings_ms": {...}}`).
A failure after the stream started is an `error` event (`{"error": {...}}`)."""


async def answer_request(answerer: AnswererDep, body: AskRequest) -> Answer:
    # The answerer is synchronous and CPU-bound: keep it off the event loop.
    return await run_in_threadpool(answerer.answer, **body.answerer_args())


@router.post("/ask", response_model=AskResponse)
async def ask(body: AskRequest, answerer: AnswererDep) -> AskResponse:
    """Answer one question with exact-span citations (the object `qa ask --json` prints)."""
    answer = await answer_request(answerer, body)
    return AskResponse.model_validate(answer.model_dump(include=set(AskResponse.model_fields)))


@router.post("/ask/stream", description=STREAM_DOC,
             responses={200: {"content": {"text/event-stream": {}}, "description": "events"}})
async def ask_stream(body: AskRequest, answerer: AnswererDep) -> StreamingResponse:
    answer = await answer_request(answerer, body)  # input errors surface here, before any event
    return StreamingResponse(_events(answer), media_type="text/event-stream", headers=SSE_HEADERS)


async def _events(answer: Answer) -> AsyncIterator[str]:
    try:
        for piece in word_pieces(answer.answer):
            yield event("delta", {"text": piece})
        citations = [c.model_dump() for c in answer.citations]
        yield event("citations", {"citations": citations, "abstained": answer.abstained})
        yield event("done", {"timings_ms": answer.timings_ms})
    except Exception:
        logger.exception("the answer stream failed")
        yield event("error", error_body(500, GENERIC_500))
