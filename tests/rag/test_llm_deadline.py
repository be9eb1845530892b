"""The whole llm-mode request is bounded by QA_LLM_TIMEOUT_S, not only each read: against a real
OpenAI-compatible server of our own that streams one token every 0.4 s (a scripted slow model,
served by uvicorn and read by LangChain's ChatOpenAI; no HTTP is mocked)."""

from __future__ import annotations

import asyncio
import json
import re
import socketserver
import threading

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
