"""Server-sent events for the two streaming endpoints.

Answerers stream text deltas then the final Answer (`stream_answer`): the llm mode passes the
model's tokens through as they come; the extractive mode, which has no partial output, sends its
finished answer in word-sized pieces. The first item is taken before the response starts, so a
bad request (or an unreachable LLM) is still an ordinary JSON error with a status code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from rag.answer import Answer

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def start_stream(answerer, **kwargs) -> tuple[Any, Iterator[Any]]:
    """Run the answerer up to its first item in the threadpool; errors raise here, before any
    byte of the response."""
    iterator = await run_in_threadpool(lambda: iter(answerer.stream_answer(**kwargs)))
    first = await run_in_threadpool(next, iterator, None)
    return first, iterator


async def rest_of(
    first: Any, iterator: Iterator[Any], on_answer: Callable[[Answer], None] | None = None
) -> AsyncIterator[Any]:
    """The first item, then the rest, each pulled in the threadpool (generation is blocking);
    `on_answer` hears of the final Answer as it passes."""
    async for item in _items(first, iterator):
        if on_answer is not None and isinstance(item, Answer):
            on_answer(item)
        yield item


async def _items(first: Any, iterator: Iterator[Any]) -> AsyncIterator[Any]:
    if first is not None:
        yield first
    async for item in iterate_in_threadpool(iterator):
        yield item


def event(name: str, data: Any) -> str:
    """One named event (`event:` + `data:`); JSON has no raw newlines, so one data line suffices."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def data_only(data: Any) -> str:
    """One unnamed event, as OpenAI streams chunks."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"
