"""The whole llm-mode request is bounded by QA_LLM_TIMEOUT_S, not only each read: against a real
OpenAI-compatible server of our own that streams one token every 0.4 s (a scripted slow model,
served by uvicorn and read by LangChain's ChatOpenAI; no HTTP is mocked)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.api.conftest import start_server

pytestmark = pytest.mark.integration

TOKEN_SECONDS = 0.4
TOKENS = 40  # 16 s in all, far past the deadline below
SENT: list[int] = []  # tokens the slow model got out, per request


def slow_llm_reads_left() -> int:
    """Tokens the last request never got to send: the client hung up before reading them."""
    return TOKENS - SENT[-1]


def slow_model_app():
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions() -> StreamingResponse:
        async def chunks():
            SENT.append(0)
            for n in range(TOKENS):
                await asyncio.sleep(TOKEN_SECONDS)
                chunk = {
                    "id": "slow",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "slow",
                    "choices": [{"index": 0, "delta": {"content": f"word{n} "}, "finish_reason": None}],
                }
                yield f"data: {json.dumps(chunk)}\n\n"
                SENT[-1] += 1
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def slow_llm():
    server, thread, port = start_server(slow_model_app())
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_slow_model_ends_at_the_deadline_with_the_extractive_answer(slow_llm, api_settings, embeddings):
    from rag.factory import load_answerer

    settings = api_settings.model_copy(
        update={"answerer": "llm", "llm_base_url": slow_llm, "llm_model": "slow", "llm_timeout_s": 2.0}
    )
    answerer = load_answerer(settings, embeddings)
    streamed = list(answerer.stream_answer("How many American troops are stationed in South Korea?"))
    answer = streamed[-1]
    tokens = streamed[:-1]
    # Each read came within the per-read timeout, so only the whole-request deadline stops it:
    # about 2 s of tokens (five), not all forty; and the connection is closed, not read to its end.
    assert 1 <= len(tokens) < TOKENS // 2
    assert slow_llm_reads_left() > 0
    assert answer.fallback == "extractive" and answer.mode == "llm"
    assert "28,000" in answer.answer and answer.citations
    assert any("QA_LLM_TIMEOUT_S (2 s)" in note for note in answer.notes)
