"""Bad requests get the right status and one JSON error envelope, never a 500 or a traceback; the
API key guards everything but the page, the health check and the docs, and is never echoed."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from api.routes.page import STATIC_DIR
from tests.api.conftest import TEST_API_KEY, start_server

pytestmark = pytest.mark.integration

TROOPS = "How many American troops are stationed in South Korea?"


def assert_envelope(response: httpx.Response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "status"}
    assert body["error"]["status"] == status and body["error"]["type"]
    for fragment in fragments:
        assert fragment in body["error"]["message"], body
    assert "Traceback" not in response.text
    return body


def raw_request(base_url: str, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send bytes exactly as written: httpx would normalise '..' out of a path before sending."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def post(server, path: str, payload, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.base_url}{path}", json=payload, timeout=30, **kwargs)


def test_ask_healthy(live_server):
    assert post(live_server, "/v1/ask", {"question": TROOPS}).status_code == 200


@pytest.mark.parametrize(
    "payload, status, fragment",
    [
        ({"question": ""}, 400, "question is empty"),
        ({"question": " \n\t "}, 400, "question is empty"),
        ({"question": "why " * 1000}, 400, "the limit is 2000"),
        ({"question": "Why?", "history": [{"role": "user", "content": "hi"}] * 21}, 400, "the limit is 20"),
        ({"question": "Why?", "filters": {"section": "No such section"}}, 404, "no section 'No such section'"),
        ({"question": "Why?", "filters": {"source_id": "nope"}}, 404, "no source id 'nope'"),
        ({"question": "Why?", "filters": {"colour": "red"}}, 422, "filters.colour"),
        ({"question": 42}, 422, "question: Input should be a valid string"),
        ({"question": ["Why?"]}, 422, "question"),
        ({"question": "Why?", "history": "earlier"}, 422, "history"),
        ({"question": "Why?", "history": [{"role": "system", "content": "obey"}]}, 422, "history.0.role"),
        ({"question": "Why?", "top_k": 0}, 422, "top_k"),
        ({"question": "Why?", "top_k": 51}, 422, "top_k"),
        ({"question": "Why?", "top_k": "5"}, 422, "top_k"),
        ({"question": "Why?", "top_k": 5.5}, 422, "top_k"),
        ({"question": "Why?", "top_k": True}, 422, "top_k"),
        ({"question": "Why?", "topk": 5}, 422, "topk"),
        ({}, 422, "question: Field required"),
        ([TROOPS], 422, "JSON object"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask/stream"])
def test_bad_questions_get_a_status_and_a_message(live_server, path, payload, status, fragment):
    assert_envelope(post(live_server, path, payload), status, fragment)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"question": "Why?"',
        b"question=Why",
        b"\xff\xfe{}",
        b'{"question": "a",}',
        b"[" * 20000 + b"]" * 20000,
        b'{"question": "a", "top_k": 1' + b"0" * 5000 + b"}",
    ],
)
def test_malformed_json_is_400(live_server, raw):
    response = httpx.post(
        f"{live_server.base_url}/v1/ask", content=raw, timeout=30, headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 400, "malformed JSON")


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b'{"question": "\\ud800 troops?"}', "question: text contains an unpaired surrogate"),
        (b'{"question": "Why?", "history": [{"role": "user", "content": "\\udfff"}]}', "history.0.content"),
    ],
)
def test_unencodable_text_is_refused_not_a_crash(live_server, raw, fragment):
    # A lone surrogate escape is valid JSON but no tokenizer can encode it.
    for path in ("/v1/ask", "/v1/ask/stream"):
        response = httpx.post(
            f"{live_server.base_url}{path}", content=raw, timeout=30, headers={"Content-Type": "application/json"}
        )
        assert_envelope(response, 422, fragment)
    chat = httpx.post(
        f"{live_server.base_url}/v1/chat/completions",
        timeout=30,
        content=b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(chat, 422, "messages.0.content: text contains an unpaired surrogate")


def test_missing_body_and_wrong_content_type(live_server):
    assert_envelope(httpx.post(f"{live_server.base_url}/v1/ask", timeout=30), 422, "JSON request body is required")
    response = httpx.post(
        f"{live_server.base_url}/v1/ask",
        content=json.dumps({"question": "Why?"}),
        timeout=30,
        headers={"Content-Type": "text/plain"},
    )
    assert_envelope(response, 422, "Content-Type: application/json")


def test_body_over_the_limit_is_413_by_length_and_by_count(live_server):
    limit = live_server.settings.max_body_bytes
    big = json.dumps({"question": "x" * (limit + 100)}).encode()
    assert_envelope(
        httpx.post(
            f"{live_server.base_url}/v1/ask", content=big, timeout=30, headers={"Content-Type": "application/json"}
        ),
        413,
        f"the limit is {limit} bytes",
    )

    def chunked(data: bytes, size: int = 8192):
        yield from (data[i : i + size] for i in range(0, len(data), size))

    # A generator body goes out chunked, with no Content-Length: the server has to count.
    response = httpx.post(
        f"{live_server.base_url}/v1/ask", content=chunked(big), timeout=30, headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, f"more than {limit} bytes")
    # A chunked body within the limit is read and answered as usual.
    small = json.dumps({"question": TROOPS}).encode()
    response = httpx.post(
        f"{live_server.base_url}/v1/ask",
        content=chunked(small, 7),
        timeout=30,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200 and "28,000" in response.json()["answer"]


@pytest.mark.parametrize("source_id", ["nope", "000_31241798ea01703b.txt", "hostile/", "%2e%2e%2fhostile"])
def test_unknown_source_is_404(live_server, source_id):
    response = httpx.get(f"{live_server.base_url}/v1/sources/{source_id}", timeout=30)
    assert_envelope(response, 404, "no source")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sources/../../etc/passwd",
        "/v1/sources/..%2F..%2Fetc%2Fpasswd",
        "/v1/sources/%2e%2e/%2e%2e/etc/passwd",
        "/v1/sources//etc/passwd",
        "/v1/sources/%2Fetc%2Fpasswd",
        "/v1/sources/hostile/../000_31241798ea01703b",
        "/v1/sources/C:%5Cwindows%5Cwin.ini",
    ],
)
def test_traversal_attempts_are_404_json(live_server, path):
    status, body = raw_request(live_server.base_url, f"GET {path} HTTP/1.1\nHost: x\nConnection: close\n")
    assert status == 404 and body["error"]["status"] == 404
    assert "root:" not in json.dumps(body)


def test_unknown_route_and_wrong_method(live_server):
    assert_envelope(httpx.get(f"{live_server.base_url}/v1/nothing", timeout=30), 404, "no such endpoint")
    assert_envelope(httpx.get(f"{live_server.base_url}/static/nothing.js", timeout=30), 404)
    response = httpx.get(f"{live_server.base_url}/v1/ask", timeout=30)
    assert_envelope(response, 405, "GET")
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize(
    "payload, status, fragment",
    [
        ({"model": "m", "messages": []}, 422, "messages"),
        ({"model": "m", "messages": [{"role": "system", "content": "hi"}]}, 400, "role 'user'"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, 422, "messages.0.role"),
        ({"model": "m", "messages": [{"role": "user", "content": ""}]}, 400, "question is empty"),
        # A long conversation is trimmed to its recent turns (tests/api/test_openai.py), but one
        # question over the limit is still refused.
        ({"model": "m", "messages": [{"role": "user", "content": "a " * 5000}]}, 400, "characters long; the limit"),
        ({"model": "m", "messages": "Why?"}, 422, "messages"),
    ],
)
def test_chat_completions_bad_requests(live_server, payload, status, fragment):
    assert_envelope(post(live_server, "/v1/chat/completions", payload), status, fragment)


def test_server_still_answers_after_all_the_bad_requests(live_server):
    body = post(live_server, "/v1/ask", {"question": TROOPS}).json()
    assert body["abstained"] is False and "28,000" in body["answer"]


# ---------------------------------------------------------------- the API key


def test_key_is_required_and_checked(live_server_with_key):
    base = live_server_with_key.base_url
    responses = [
        httpx.post(f"{base}/v1/ask", json={"question": TROOPS}, timeout=30),
        httpx.post(
            f"{base}/v1/ask",
            json={"question": TROOPS},
            timeout=30,
            headers={"Authorization": f"Bearer {TEST_API_KEY}x"},
        ),
        httpx.post(
            f"{base}/v1/ask",
            json={"question": TROOPS},
            timeout=30,
            headers={"Authorization": f"Bearer {TEST_API_KEY[:-1]}"},
        ),
        httpx.post(
            f"{base}/v1/ask", json={"question": TROOPS}, timeout=30, headers={"Authorization": f"Basic {TEST_API_KEY}"}
        ),
        httpx.post(f"{base}/v1/ask", json={"question": TROOPS}, timeout=30, headers={"X-API-Key": TEST_API_KEY}),
        httpx.get(f"{base}/v1/sources", timeout=30),
        httpx.get(f"{base}/v1/models", timeout=30),
        httpx.post(f"{base}/v1/chat/completions", timeout=30, json={"messages": [{"role": "user", "content": "x"}]}),
        httpx.post(f"{base}/v1/ask/stream", json={"question": TROOPS}, timeout=30),
        httpx.post(f"{base}/v1/ask", content=b"{not json", timeout=30),  # no parsing before the key check
        httpx.get(f"{base}/v1/no-such-route", timeout=30),
    ]
    for response in responses:
        assert_envelope(response, 401, "Authorization: Bearer")
        assert response.headers["www-authenticate"] == "Bearer"
        assert TEST_API_KEY not in response.text and TEST_API_KEY[:-1] not in response.text
    authorized = httpx.post(
        f"{base}/v1/ask", json={"question": TROOPS}, timeout=30, headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )
    assert authorized.status_code == 200 and "28,000" in authorized.json()["answer"]
    assert TEST_API_KEY not in authorized.text


def test_open_paths_need_no_key(live_server_with_key):
    base = live_server_with_key.base_url
    assert httpx.get(f"{base}/healthz", timeout=30).json()["status"] == "ok"
    assert httpx.get(f"{base}/", timeout=30).status_code == 200
    assert httpx.get(f"{base}/openapi.json", timeout=30).status_code == 200
    assets = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
    assert assets, "the page has no static assets"
    assert httpx.get(f"{base}/static/{assets[0]}", timeout=30).status_code == 200


def test_bad_input_with_the_key_still_gets_its_own_status(live_server_with_key):
    response = httpx.post(
        f"{live_server_with_key.base_url}/v1/ask",
        json={"question": ""},
        timeout=30,
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
    )
    assert_envelope(response, 400, "question is empty")
    assert TEST_API_KEY not in response.text


# ---------------------------------------------------------------- server-side failures


class BrokenAnswerer:
    """Stands in for an answerer with a bug: raises with internals in the message."""

    snapshot = None

    mode = "extractive"

    def answer(self, question, history=None, top_k=None, filters=None):
        raise RuntimeError("internal detail /srv/secret/path token=abc123")

    def stream_answer(self, question, history=None, top_k=None, filters=None):
        return iter([self.answer(question)])


def test_unexpected_errors_are_a_generic_500(api_settings):
    from api.main import create_app

    server, thread, port = start_server(create_app(api_settings, answerer=BrokenAnswerer()))
    try:
        base = f"http://127.0.0.1:{port}"
        for path in ("/v1/ask", "/v1/ask/stream"):
            response = httpx.post(f"{base}{path}", json={"question": TROOPS}, timeout=30)
            body = assert_envelope(response, 500, "internal server error")
            assert "secret" not in response.text and "abc123" not in response.text
            assert body["error"]["type"] == "server_error"
        chat = httpx.post(
            f"{base}/v1/chat/completions", timeout=30, json={"messages": [{"role": "user", "content": TROOPS}]}
        )
        assert_envelope(chat, 500, "internal server error")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class CorruptAnswerer:
    """Stands in for an answerer whose answer breaks only when serialised, i.e. mid-stream."""

    snapshot = None

    def answer(self, question, history=None, top_k=None, filters=None):
        from rag.answer import Answer

        return Answer.model_construct(
            answer="Three word answer.",
            abstained=False,
            citations=[object()],
            timings_ms={},
            retrieval_query=question,
            mode="extractive",
        )

    mode = "extractive"

    def stream_answer(self, question, history=None, top_k=None, filters=None):
        answer = self.answer(question)
        return iter(["Three ", "word ", "answer.", answer])


def test_a_failure_mid_stream_is_an_error_event(api_settings):
    from api.main import create_app

    server, thread, port = start_server(create_app(api_settings, answerer=CorruptAnswerer()))
    try:
        base = f"http://127.0.0.1:{port}"
        response = httpx.post(f"{base}/v1/ask/stream", json={"question": TROOPS}, timeout=30)
        assert response.status_code == 200  # the stream had started: the failure is an event in it
        assert response.text.startswith("event: delta\n")
        assert response.text.endswith(
            'event: error\ndata: {"error": {"message": "internal server error; the '
            'request was not answered", "type": "server_error", "status": 500}}\n\n'
        )
        # The chat stream of an extractive answerer sends its content whole once the Answer is
        # there (led by its short answer), so it fails with an error chunk after its opening
        # chunk, sends none of the text, and still ends the protocol with [DONE].
        chat = httpx.post(
            f"{base}/v1/chat/completions",
            timeout=30,
            json={"stream": True, "messages": [{"role": "user", "content": TROOPS}]},
        )
        assert chat.status_code == 200
        assert chat.text.startswith("data: ") and '"role": "assistant"' in chat.text.split("\n\n")[0]
        assert "Three" not in chat.text
        assert chat.text.endswith(
            'data: {"error": {"message": "internal server error; the request was not '
            'answered", "type": "server_error", "status": 500}}\n\ndata: [DONE]\n\n'
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_missing_index_is_503_not_a_crash(tmp_path, api_settings):
    from api.main import create_app

    settings = api_settings.model_copy(update={"data_dir": tmp_path / "empty"})
    server, thread, port = start_server(create_app(settings))  # the lifespan loads (and finds nothing)
    try:
        base = f"http://127.0.0.1:{port}"
        assert_envelope(httpx.get(f"{base}/healthz", timeout=30), 503, "the index is not ready", "qa ingest")
        assert_envelope(httpx.post(f"{base}/v1/ask", json={"question": TROOPS}, timeout=30), 503, "qa ingest")
        assert_envelope(httpx.post(f"{base}/v1/ask", json={"question": ""}, timeout=30), 503)
        assert httpx.get(f"{base}/", timeout=30).status_code == 200  # the page can still say what is wrong
    finally:
        server.should_exit = True
        thread.join(timeout=10)
