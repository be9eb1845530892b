"""`POST /v1/responses`: the OpenAI Responses API, non-streaming, for clients that keep citations
only from it. LangChain's `ChatOpenAI(use_responses_api=True)` turns the output text's
`url_citation` annotations into the message's content block annotations, where from a chat
completion it keeps only the text.

The answer, its content and its annotations are the chat completion's (routes/chat.py): one
`output_text` with the same text and a `url_citation` per [n] marker; `citations` and
`abstained` ride along as extra top-level fields.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from openai.types.responses import ResponseOutputMessage, ResponseOutputText, ResponseUsage
from openai.types.responses.response_output_text import AnnotationURLCitation
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from api.deps import AnswererDep, SettingsDep
from api.logs import note_answer
from api.routes.chat import extra_fields, message_content, rough_tokens, split_conversation, url_citations
from api.schemas import ResponsesRequest, ResponseWithCitations, error_responses
from rag.errors import InputError

router = APIRouter(prefix="/v1", tags=["openai"], responses=error_responses(400, 401, 413, 422, 429, 503))


@router.post("/responses", response_model=ResponseWithCitations, response_model_exclude_none=True)
async def create_response(
    body: ResponsesRequest, answerer: AnswererDep, settings: SettingsDep, request: Request
) -> ResponseWithCitations:
    """OpenAI Responses API, without streaming, tools or stored conversations: `input` is the
    question or the conversation (its last user message is the question). Extra fields:
    `citations`, `abstained`."""
    if body.stream:
        raise InputError("stream is not supported on /v1/responses; /v1/chat/completions streams")
    messages = body.messages()
    question, history = split_conversation(messages, settings.max_history_turns)
    answer = await run_in_threadpool(answerer.answer, question, history=history)
    note_answer(request.state, answer, question)
    content = message_content(answer)
    annotations = [
        AnnotationURLCitation(type="url_citation", **a.url_citation.model_dump())
        for a in url_citations(content, answer, str(request.base_url))
    ]
    text = ResponseOutputText(type="output_text", text=content, annotations=list(annotations))
    output = ResponseOutputMessage(
        id=f"msg_{uuid.uuid4().hex}", type="message", role="assistant", status="completed", content=[text]
    )
    used = sum(rough_tokens(m.text()) for m in messages)
    produced = rough_tokens(content)
    return ResponseWithCitations(
        id=f"resp_{uuid.uuid4().hex}",
        created_at=time.time(),
        model=settings.model_name,
        object="response",
        status="completed",
        output=[output],
        parallel_tool_calls=False,
        tool_choice="none",
        tools=[],
        usage=ResponseUsage(
            input_tokens=used,
            output_tokens=produced,
            total_tokens=used + produced,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        ),
        **extra_fields(answer),
    )
