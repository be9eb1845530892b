"""OpenAI-compatible endpoints, so the `openai` SDK, LangChain's `ChatOpenAI` and other OpenAI
clients can talk to the assistant: `POST /v1/chat/completions` (plain and streamed) and
`GET /v1/models`.

The text content carries the answer with its [n] markers and a short "Sources:" list, so a client
that shows only text still shows where each claim comes from. The schema's own typed place,
`message.annotations`, holds a `url_citation` per marker (in a stream, the last chunk's
`delta.annotations`, indexing the joined content); the structured citations (exact spans)
also ride along as the extra top-level fields `citations` and `abstained`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from openai.types import CompletionUsage, Model
from openai.types.chat import ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_message import Annotation, AnnotationURLCitation

from api.deps import AnswererDep, SettingsDep
from api.errors import GENERIC_500, error_body
from api.logs import note_answer
from api.schemas import ChatCompletionWithCitations, ChatMessage, ChatRequest, ModelList, error_responses
from api.sse import SSE_HEADERS, data_only, rest_of, start_stream
from rag.answer import Answer, word_pieces
from rag.errors import InputError, LLMUnavailableError, QAError

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai"], responses=error_responses(400, 401, 413, 422, 429, 503))

QUOTE_CHARS = 200
# /v1/models needs a creation time; an arbitrary fixed one keeps the listing the same across restarts.
MODEL_CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z
_TOKEN = re.compile(r"\w+|[^\w\s]")


def split_conversation(
    messages: Sequence[ChatMessage], max_turns: int | None = None
) -> tuple[str, list[dict[str, str]]]:
    """The last user message is the question; the user/assistant turns before it are the history,
    the most recent `max_turns` of them: an OpenAI-style client sends the whole conversation
    every time, so a long chat keeps working (as the page does) instead of hitting the limit.

    System (and developer) messages are dropped: the assistant's instructions are fixed, and
    neither a client nor a document gets to change them.
    """
    turns = [{"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")]
    last_user = max((i for i, turn in enumerate(turns) if turn["role"] == "user"), default=None)
    if last_user is None:
        raise InputError("messages must contain at least one message with role 'user'")
    history = turns[:last_user]
    if max_turns is not None:
        history = history[len(history) - max_turns :] if max_turns else []
    return turns[last_user]["content"], history


def shorten(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:") + "…"


def message_content(answer: Answer) -> str:
    if not answer.citations:
        return answer.answer
    lines = [answer.answer, *(f"({note})" for note in answer.notes), "", "Sources:"]
    for c in answer.citations:
        where = f"{c.title} — {c.section}" if c.section else c.title
        lines.append(f"[{c.n}] {where}: “{shorten(c.quote)}”")
    return "\n".join(lines)


def url_citations(content: str, answer: Answer, base_url: str) -> list[Annotation]:
    """The Chat Completions schema's own place for citations: a `url_citation` per [n] marker in
    the content, spanning the paragraph it closes (the quote, as the content shows it) and
    pointing at the source on this server, with the exact span's offsets in the fragment."""
    out: list[Annotation] = []
    by_number = {c.n: c for c in answer.citations}
    body_end = content.find("\n\nSources:")
    body = content if body_end < 0 else content[:body_end]
    for match in re.finditer(r"\[(\d+)\]", body):
        citation = by_number.get(int(match.group(1)))
        if citation is None:
            continue
        start = body.rfind("\n\n", 0, match.start())
        start = 0 if start < 0 else start + 2
        url = f"{base_url.rstrip('/')}/v1/sources/{quote(citation.source_id)}#chars={citation.start}-{citation.end}"
        found = AnnotationURLCitation(start_index=start, end_index=match.end(), title=citation.title, url=url)
        out.append(Annotation(type="url_citation", url_citation=found))
    return out


def rough_tokens(text: str) -> int:
    """Words and punctuation marks: a rough count (no tokenizer is involved in answering)."""
    return len(_TOKEN.findall(text))


def usage(messages: Sequence[ChatMessage], content: str) -> CompletionUsage:
    prompt = sum(rough_tokens(m.text()) for m in messages)
    completion = rough_tokens(content)
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


STREAM_DOC = """With `"stream": true` the answer comes as `text/event-stream`: `data:` lines holding
`chat.completion.chunk` objects (the last one carries `delta.annotations`, `citations` and
`abstained`), then `data: [DONE]`."""


@router.post(
    "/chat/completions",
    response_model=ChatCompletionWithCitations,
    response_model_exclude_unset=True,
    description=STREAM_DOC,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the completion, or its stream"}},
)
async def chat_completions(
    body: ChatRequest, answerer: AnswererDep, settings: SettingsDep, request: Request
) -> ChatCompletionWithCitations | StreamingResponse:
    """OpenAI chat completion. `model` may be any string: there is one model, and refusing a name
    would only break clients configured with their own. Extra fields: `citations`, `abstained`."""
    question, history = split_conversation(body.messages, settings.max_history_turns)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    base = {"id": completion_id, "created": created, "model": settings.model_name}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        first, rest = await start_stream(answerer, question=question, history=history)  # errors before bytes
        on_answer = partial(note_answer, request.state, question=question)
        used = body.messages if include_usage else None
        chunks = _chunks(base, first, rest, used, on_answer, str(request.base_url))
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    answer = await run_in_threadpool(answerer.answer, question, history=history)
    note_answer(request.state, answer, question)
    content = message_content(answer)
    message = ChatCompletionMessage(
        role="assistant", content=content, annotations=url_citations(content, answer, str(request.base_url)) or None
    )
    return ChatCompletionWithCitations(
        id=completion_id,
        created=created,
        model=settings.model_name,
        object="chat.completion",
        choices=[Choice(index=0, message=message, finish_reason="stop", logprobs=None)],
        usage=usage(body.messages, content),
        **extra_fields(answer),
    )


def extra_fields(answer: Answer) -> dict[str, Any]:
    extras: dict[str, Any] = {"citations": [c.model_dump() for c in answer.citations], "abstained": answer.abstained}
    if answer.mode != "extractive":
        extras.update(
            mode=answer.mode,
            fallback=answer.fallback,
            answer=answer.answer,
            guard=answer.guard.model_dump() if answer.guard else None,
        )
    return extras


async def _chunks(
    base: dict[str, Any],
    first: Any,
    rest: Any,
    usage_messages: Sequence[ChatMessage] | None,
    on_answer: Callable[[Answer], None] | None = None,
    base_url: str = "/",
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **more: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return data_only({**base, "object": "chat.completion.chunk", "choices": [choice], **more})

    try:
        yield chunk({"role": "assistant", "content": ""})
        streamed: list[str] = []
        async for item in rest_of(first, rest, on_answer):
            if not isinstance(item, Answer):
                streamed.append(item)
                yield chunk({"content": item})
                continue
            # The text went out as it came; the Sources list follows, then the structured extras
            # (for the llm mode, with the checked answer that replaces what was streamed).
            content = message_content(item)
            for piece in word_pieces(content[len(item.answer) :]):
                streamed.append(piece)
                yield chunk({"content": piece})
            # The annotations index the content as streamed: only when that is the final content
            # (the llm mode's checked answer may differ from what was streamed).
            joined = "".join(streamed)
            notes = url_citations(joined, item, base_url) if joined == content else []
            last = {"annotations": [a.model_dump(exclude_none=True) for a in notes]} if notes else {}
            yield chunk(last, "stop", **extra_fields(item))
            if usage_messages is not None:  # stream_options.include_usage: one more chunk, no choices
                yield data_only(
                    {
                        **base,
                        "object": "chat.completion.chunk",
                        "choices": [],
                        "usage": usage(usage_messages, "".join(streamed)).model_dump(exclude_none=True),
                    }
                )
    except QAError as error:
        yield data_only(error_body(503 if isinstance(error, LLMUnavailableError) else 500, str(error)))
    except Exception:
        logger.exception("the chat completion stream failed")
        yield data_only(error_body(500, GENERIC_500))
    yield data_only("[DONE]")


@router.get("/models", response_model=ModelList, response_model_exclude_none=True)
async def list_models(settings: SettingsDep) -> ModelList:
    return ModelList(data=[Model(id=settings.model_name, object="model", created=MODEL_CREATED, owned_by="local")])
