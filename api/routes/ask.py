"""`POST /v1/ask` (one JSON answer) and `POST /v1/ask/stream` (the same answer as events)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import AnswererDep
from api.errors import GENERIC_500, error_body
from api.logs import note_answer
from api.schemas import AskRequest, AskResponse, error_responses
from api.sse import SSE_HEADERS, event, rest_of, start_stream
from rag.answer import Answer
from rag.errors import LLMUnavailableError, QAError

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["ask"], responses=error_responses(400, 401, 404, 413, 422, 429, 503))

STREAM_DOC = """`text/event-stream`: `delta` events (`{"text": ...}`, joined they are the answer), then
`citations` (`{"citations": [...], "abstained": bool}`, with `short_answer` or `short_list` when there is one), then
`done` (`{"timings_ms": {...}}`).
A failure after the stream started is an `error` event (`{"error": {...}}`)."""


async def answer_request(answerer: AnswererDep, body: AskRequest) -> Answer:
    # The answerer is synchronous and CPU-bound: keep it off the event loop.
    return await run_in_threadpool(answerer.answer, **body.answerer_args())


# exclude_unset: the llm mode's fields appear only when that mode answered.
@router.post("/ask", response_model=AskResponse, response_model_exclude_unset=True)
async def ask(body: AskRequest, answerer: AnswererDep, request: Request) -> AskResponse:
    """Answer one question with exact-span citations (the object `qa ask --json` prints)."""
    answer = await answer_request(answerer, body)
    note_answer(request.state, answer, body.question)
    return AskResponse.model_validate(answer.model_dump(include=answer.public_fields()))


@router.post(
    "/ask/stream",
    description=STREAM_DOC,
    responses={200: {"content": {"text/event-stream": {}}, "description": "events"}},
)
async def ask_stream(body: AskRequest, answerer: AnswererDep, request: Request) -> StreamingResponse:
    first, rest = await start_stream(answerer, **body.answerer_args())  # input errors surface here
    on_answer = partial(note_answer, request.state, question=body.question)
    return StreamingResponse(_events(first, rest, on_answer), media_type="text/event-stream", headers=SSE_HEADERS)


async def _events(first, rest, on_answer) -> AsyncIterator[str]:
    try:
        async for item in rest_of(first, rest, on_answer):
            if isinstance(item, Answer):
                citations = [c.model_dump() for c in item.citations]
                final = {"citations": citations, "abstained": item.abstained}
                if item.short_answer is not None:
                    final["short_answer"] = item.short_answer.model_dump()
                if item.short_list:
                    final["short_list"] = [span.model_dump() for span in item.short_list]
                if item.mode != "extractive":
                    # Tokens went out as generated; this is the checked answer that replaces them.
                    final.update(
                        answer=item.answer,
                        mode=item.mode,
                        fallback=item.fallback,
                        guard=item.guard.model_dump() if item.guard else None,
                    )
                yield event("citations", final)
                yield event("done", {"timings_ms": item.timings_ms})
            else:
                yield event("delta", {"text": item})
    except QAError as error:
        yield event("error", error_body(503 if isinstance(error, LLMUnavailableError) else 500, str(error)))
    except Exception:
        logger.exception("the answer stream failed")
        yield event("error", error_body(500, GENERIC_500))
