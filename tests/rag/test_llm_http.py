"""QA_LLM_TIMEOUT_S bounds the whole call, however the server spaces its bytes (rag/llm_http.py).

The server is our own (stdlib http.server, one thread per connection), scripted byte by byte, and
it is the witness: it notes each piece it sends and the moment it sees the client hang up. A byte
just before the deadline must not buy the call another read timeout; so the client must hang up
before the piece the script sends half a deadline after the deadline, whether the pause falls in
the response's headers or in its body. What is asserted is the order of what the server saw, not a
duration measured by the test.
"""

from __future__ import annotations

import json
import selectors
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.integration

DEADLINE_S = 2.0
JUST_BEFORE = 0.8 * DEADLINE_S  # a byte that restarts a per-read timeout
WELL_AFTER = 1.5 * DEADLINE_S  # a byte the client must not be there to receive
QUESTION = "How many American troops are stationed in South Korea?"


def event(content: str) -> bytes:
    chunk = {
        "id": "late",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "late",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


EVENTS = event("About 28,000.") + b"data: [DONE]\n\n"
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
# (seconds after the request arrived, bytes, what the server notes when it has sent them)
SCRIPTS = {
    "body": [
        (0.0, STREAM_HEAD, "head"),
        (JUST_BEFORE, chunked(b": keep-alive\n\n"), "just before"),
        (WELL_AFTER, chunked(EVENTS) + b"0\r\n\r\n", "well after"),
    ],
    "headers": [
        (0.0, b"HTTP/1.1 200 OK\r\n", "status line"),
        (JUST_BEFORE, b"Content-Type: text/event-stream\r\n", "just before"),
        (WELL_AFTER, b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(EVENTS) + EVENTS, "well after"),
    ],
}


@dataclass
class Witness:
    script: list[tuple[float, bytes, str]]
    seen: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        witness, arrived = self.server.witness, time.monotonic()
        try:
            for at, data, note in witness.script:
                if self.hung_up_before(arrived + at):
                    witness.seen.append("client hung up")
                    return
                self.wfile.write(data)
                witness.seen.append(note)
        except ConnectionError:
            witness.seen.append("client hung up")
        finally:
            self.close_connection = True
            witness.done.set()

    def hung_up_before(self, when: float) -> bool:
        """Waits until `when`; True as soon as the client closes its end (it sends nothing else)."""
        # A selector, not select.select: in the whole suite this process has more than 1024 files
        # open, and select() refuses a descriptor past that.
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            while (left := when - time.monotonic()) > 0:
                if selector.select(left):
                    try:
                        if self.connection.recv(4096) == b"":
                            return True
                    except ConnectionError:
                        return True
        return False

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test's output is its assertions


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, witness: Witness) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.witness = witness


@pytest.fixture(params=sorted(SCRIPTS))
def scripted(request) -> Iterator[tuple[str, Witness]]:
    witness = Witness(SCRIPTS[request.param])
    server = ScriptedServer(witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", witness
    finally:
        server.shutdown()
        server.server_close()


def test_a_byte_just_before_the_deadline_does_not_extend_it(scripted, api_settings, embeddings):
    from rag.factory import load_answerer

    url, witness = scripted
    update = {"answerer": "llm", "llm_base_url": url, "llm_model": "late", "llm_timeout_s": DEADLINE_S}
    answer = load_answerer(api_settings.model_copy(update=update), embeddings).answer(QUESTION)
    assert witness.done.wait(timeout=60), "the scripted server never finished"
    assert witness.seen[1:] == ["just before", "client hung up"]
    assert answer.fallback == "extractive" and answer.mode == "llm"
    assert any(f"QA_LLM_TIMEOUT_S ({DEADLINE_S:g} s)" in note for note in answer.notes)
