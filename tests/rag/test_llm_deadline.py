"""The whole llm-mode request is bounded by QA_LLM_TIMEOUT_S, not only each read: against a real
OpenAI-compatible server of our own (served by uvicorn and read by LangChain's ChatOpenAI; no HTTP
is mocked) whose model name picks what it does: stream one token every 0.4 s, stream chunks with
no text or SSE keep-alive comments every 0.5 s, say nothing, or rewrite a follow-up one space of
its JSON body at a time."""

from __future__ import annotations

import asyncio
import json
import re
import socketserver
import threading
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from tests.api.conftest import start_server

pytestmark = pytest.mark.integration

TOKEN_SECONDS = 0.4
TOKENS = 40  # 16 s in all, far past the deadline below
SENT: list[int] = []  # tokens the slow model got out, per request
TRICKLE_SECONDS = 0.5
TRICKLES = 20  # 10 s of bytes that are not an answer: five times the deadline below
DEADLINE_S = 2.0


def slow_llm_reads_left() -> int:
    """Tokens the last request never got to send: the client hung up before reading them."""
    return TOKENS - SENT[-1]


def chunk_event(model: str, content: str) -> str:
    chunk = {
        "id": model,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


async def slow_tokens():
    SENT.append(0)
    for n in range(TOKENS):
        await asyncio.sleep(TOKEN_SECONDS)
        yield chunk_event("slow", f"word{n} ")
        SENT[-1] += 1
    yield "data: [DONE]\n\n"


async def trickle(every: str, then: str):
    """`every` each TRICKLE_SECONDS for 10 s, then `then`: bytes that keep each read short."""
    for _ in range(TRICKLES):
        await asyncio.sleep(TRICKLE_SECONDS)
        yield every
    yield then


REWRITE = {
    "id": "rewrite",
    "object": "chat.completion",
    "created": 0,
    "model": "rewrite",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "How many troops?"}, "finish_reason": "stop"}],
}


def scripted_model_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> StreamingResponse:
        body = await request.json()
        model, events = body["model"], "text/event-stream"
        if not body.get("stream"):  # the follow-up rewrite: JSON whitespace, then the answer
            return StreamingResponse(trickle(" ", json.dumps(REWRITE)), media_type="application/json")
        if model == "empty":
            done = chunk_event(model, "About 28,000.") + "data: [DONE]\n\n"
            return StreamingResponse(trickle(chunk_event(model, ""), done), media_type=events)
        if model == "keepalive":
            return StreamingResponse(trickle(": keep-alive\n\n", "data: [DONE]\n\n"), media_type=events)
        if model == "silent":
            await asyncio.sleep(TRICKLES * TRICKLE_SECONDS)
        return StreamingResponse(slow_tokens(), media_type=events)

    return app


@pytest.fixture(scope="module")
def slow_llm():
    server, thread, port = start_server(scripted_model_app())
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_slow_model_ends_at_the_deadline_with_the_extractive_answer(slow_llm, api_settings, embeddings):
    from rag.factory import load_answerer

    settings = api_settings.model_copy(
        update={"answerer": "llm", "llm_base_url": slow_llm, "llm_model": "slow", "llm_timeout_s": DEADLINE_S}
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


def assert_overtime_answer(answer, took: float) -> None:
    """The answer the deadline gives (the extractive one, said to be one), in time: the bound is
    the deadline plus room for retrieval and the extractive answer, not a speed target."""
    assert took < DEADLINE_S + 3, f"held for {took:.1f} s with a {DEADLINE_S:g} s deadline"
    assert answer.fallback == "extractive" and answer.mode == "llm"
    assert "28,000" in answer.answer and answer.citations
    assert any(f"QA_LLM_TIMEOUT_S ({DEADLINE_S:g} s)" in note for note in answer.notes)


@pytest.mark.parametrize(
    "model",
    [
        "empty",  # a chunk with no text every 0.5 s: no read waits long, no text arrives
        "keepalive",  # an SSE comment every 0.5 s, which the openai client never shows as a chunk
        "silent",  # nothing at all for 10 s: the client's read timeout must be the time left
    ],
)
def test_a_model_that_sends_no_text_ends_at_the_deadline(slow_llm, api_settings, embeddings, model):
    from rag.factory import load_answerer

    settings = api_settings.model_copy(
        update={"answerer": "llm", "llm_base_url": slow_llm, "llm_model": model, "llm_timeout_s": DEADLINE_S}
    )
    answerer = load_answerer(settings, embeddings)
    start = time.monotonic()
    answer = answerer.answer("How many American troops are stationed in South Korea?")
    assert_overtime_answer(answer, time.monotonic() - start)


def test_a_hung_rewrite_of_a_follow_up_ends_at_the_deadline(slow_llm, api_settings, embeddings):
    # The rewrite is a plain (not streamed) completion whose body comes one space every 0.5 s.
    from rag.factory import load_answerer

    settings = api_settings.model_copy(
        update={"answerer": "llm", "llm_base_url": slow_llm, "llm_model": "slow", "llm_timeout_s": DEADLINE_S}
    )
    answerer = load_answerer(settings, embeddings)
    history = [
        {"role": "user", "content": "Where are American troops stationed?"},
        {"role": "assistant", "content": "In South Korea."},
    ]
    start = time.monotonic()
    answer = answerer.answer("How many American troops are stationed in South Korea?", history=history)
    assert_overtime_answer(answer, time.monotonic() - start)


# ---- a server that hangs up in the middle of its stream: a raw socket, no HTTP library on its side

CUT_CHUNK = (
    b'data: {"id": "cut", "object": "chat.completion.chunk", "created": 0, "model": "cut", '
    b'"choices": [{"index": 0, "delta": {"content": "About "}, "finish_reason": null}]}\n\n'
)


def read_request(connection) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: *(\d+)", head, re.IGNORECASE).group(1))
    while len(body) < length:
        body += connection.recv(65536)


class CutStreamHandler(socketserver.BaseRequestHandler):
    """Reads one request, starts a chunked event stream, sends one chunk, and closes the socket."""

    def handle(self) -> None:
        read_request(self.request)
        start = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        self.request.sendall(start + f"{len(CUT_CHUNK):x}\r\n".encode() + CUT_CHUNK + b"\r\n")


class GarbageStreamHandler(socketserver.BaseRequestHandler):
    """Answers with a whole, well-framed event stream whose events are not JSON."""

    def handle(self) -> None:
        read_request(self.request)
        body = b"data: this is not json at all\n\ndata: [DONE]\n\n"
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
        self.request.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.mark.parametrize(("handler", "named"), [(CutStreamHandler, "ProtocolError"), (GarbageStreamHandler, "JSON")])
def test_a_stream_cut_halfway_or_garbage_is_a_clear_error_not_a_traceback(api_settings, embeddings, handler, named):
    from rag.errors import LLMUnavailableError
    from rag.factory import load_answerer

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = api_settings.model_copy(
            update={
                "answerer": "llm",
                "llm_base_url": f"http://127.0.0.1:{server.server_address[1]}/v1",
                "llm_timeout_s": 10.0,
            }
        )
        answerer = load_answerer(settings, embeddings)
        with pytest.raises(LLMUnavailableError, match="did not answer") as raised:
            answerer.answer("How many American troops are stationed in South Korea?")
        assert named in str(raised.value)
    finally:
        server.shutdown()
        server.server_close()
