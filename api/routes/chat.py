"""OpenAI-compatible endpoints, so the `openai` SDK, LangChain's `ChatOpenAI` and other OpenAI
clients can talk to the assistant: `POST /v1/chat/completions` (plain and streamed) and
`GET /v1/models`.

The text content leads with the short answer where there is one, then the quoted evidence with
its [n] markers, then a compact "Sources:" list (title, section, page), so a client that shows only
text still shows where each claim comes from. The schema's own typed place,
`message.annotations`, holds a `url_citation` per [n] marker (in a stream, the last chunk's
`delta.annotations`, indexing the joined content), its `url` the cited passage on this server;
the structured citations (exact spans) also ride along as the extra top-level fields `citations`
and `abstained`.
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
from rag.answer_sentences import neutralise_markers
from rag.citations import Citation
from rag.cli.ask import listed, source_lines
from rag.errors import InputError, LLMUnavailableError, QAError
from rag.short_answer import ShortAnswer

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai"], responses=error_responses(400, 401, 413, 422, 429, 503))

# /v1/models needs a creation time; an arbitrary fixed one keeps the listing the same across restarts.
MODEL_CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z
_TOKEN = re.compile(r"\w+|[^\w\s]")
# One of our markers: "[1]", or a combined "[1, 2]" as an llm may write it.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


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


def lead(answer: Answer) -> str:
    """The short answer, as the CLI prints it, when the answerer found one: "Answer: 2023 [1]"."""
    if answer.short_answer is not None:
        return f"Answer: {answer.short_answer.text} [{answer.short_answer.n}]"
    if answer.short_list:
        return f"Answer: {listed(answer.short_list)}"
    return ""


def without_markers(answer: Answer) -> Answer:
    """The answer with a source's own "[2]" (in a title, a section or a short answer) written with
    full-width brackets, as the quotes already are: every "[n]" in the content is then ours."""

    def plain(span: ShortAnswer) -> ShortAnswer:
        return span.model_copy(update={"text": neutralise_markers(span.text)})

    citations = [
        c.model_copy(update={"title": neutralise_markers(c.title), "section": neutralise_markers(c.section)})
        for c in answer.citations
    ]
    short = plain(answer.short_answer) if answer.short_answer is not None else None
    return answer.model_copy(
        update={"citations": citations, "short_answer": short, "short_list": [plain(s) for s in answer.short_list]}
    )


def content_parts(answer: Answer) -> tuple[str, str, str]:
    """The content in three parts, joined in order: the short answer where there is one, the
    answer text (the quoted evidence with its [n] markers, once), and the notes and a compact
    sources list (short title, section, page). The quotes are not repeated: the structured
    citations and the annotations carry them exactly."""
    if not answer.citations:
        return "", answer.answer, ""
    shown = without_markers(answer)
    top = lead(shown)
    head = top + "\n\n" if top else ""
    sources = [line.strip() for line in source_lines(shown)]
    tail = "".join(f"\n{line}" for line in [*(f"({note})" for note in answer.notes), "", "Sources:", *sources])
    return head, answer.answer, tail


def message_content(answer: Answer) -> str:
    return "".join(content_parts(answer))


def passage_url(base_url: str, citation: Citation) -> str:
    """Where a client opens the cited passage: the sources route with the quote's offsets."""
    where = f"/v1/sources/{quote(citation.source_id)}?start={citation.start}&end={citation.end}"
    return base_url.rstrip("/") + where


def url_citations(content: str, answer: Answer, base_url: str) -> list[Annotation]:
    """The Chat Completions schema's own place for citations: a `url_citation` per [n] marker in
    the content (the short answer's, the evidence's and the sources list's alike), spanning the
    marker itself and pointing at the cited passage on this server. A combined "[1, 2]" gets one
    per number, each spanning the whole bracket."""
    out: list[Annotation] = []
    by_number = {c.n: c for c in answer.citations}
    for match in MARKER.finditer(content):
        for number in re.findall(r"\d+", match.group(1)):
            citation = by_number.get(int(number))
            if citation is None:
                continue
            found = AnnotationURLCitation(
                start_index=match.start(),
                end_index=match.end(),
                title=citation.title,
                url=passage_url(base_url, citation),
            )
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
        live = answerer.mode != "extractive"
        chunks = _chunks(base, first, rest, used, on_answer, str(request.base_url), live)
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
    live: bool = True,
) -> AsyncIterator[str]:
    """The stream: an llm's text as it comes (`live`), then the rest of the content and a last
    chunk with the annotations and the extras. The extractive answerer has no partial output (its
    text deltas replay the finished Answer right behind them), so its content goes out whole at
    the end, led by the short answer that only the Answer holds."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **more: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return data_only({**base, "object": "chat.completion.chunk", "choices": [choice], **more})

    try:
        yield chunk({"role": "assistant", "content": ""})
        streamed: list[str] = []
        async for item in rest_of(first, rest, on_answer):
            if not isinstance(item, Answer):
                if live:
                    streamed.append(item)
                    yield chunk({"content": item})
                continue
            for line in _ending(chunk, item, streamed, base_url):
                yield line
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


def _ending(chunk: Callable[..., str], answer: Answer, streamed: list[str], base_url: str) -> list[str]:
    """The chunks after the streamed text: what of the content has not gone out, then the last
    chunk. ChatCompletionChunk's delta has no typed place for annotations, so they ride in the
    delta as an extra field (the openai SDK keeps it: `delta.model_extra["annotations"]`)."""
    head, body, tail = content_parts(answer)
    content = head + body + tail
    # After an llm's text only the notes and sources list follow; the llm mode's checked answer
    # (in `answer`) may differ from what was streamed.
    out = []
    for piece in word_pieces(tail if streamed else content):
        streamed.append(piece)
        out.append(chunk({"content": piece}))
    # The annotations index the content as streamed: only when that is the final content.
    joined = "".join(streamed)
    notes = url_citations(joined, answer, base_url) if joined == content else []
    last = {"annotations": [a.model_dump(exclude_none=True) for a in notes]} if notes else {}
    out.append(chunk(last, "stop", **extra_fields(answer)))
    return out


@router.get("/models", response_model=ModelList, response_model_exclude_none=True)
async def list_models(settings: SettingsDep) -> ModelList:
    return ModelList(data=[Model(id=settings.model_name, object="model", created=MODEL_CREATED, owned_by="local")])
