"""The JSON API against a real uvicorn server on a real index: answers, streams, sources, health."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.api.conftest import start_server

pytestmark = pytest.mark.integration

TROOPS = "How many American troops are stationed in South Korea?"
SEED = "000_31241798ea01703b"


def post(server, path, payload, **kwargs):
    return httpx.post(f"{server.base_url}{path}", json=payload, timeout=30, **kwargs)


def source_text(server, source_id: str) -> str:
    response = httpx.get(f"{server.base_url}/v1/sources/{source_id}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["text"]


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """Parse a text/event-stream body into (event name, JSON data) pairs, as a browser would."""
    events, name, data = [], "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].removeprefix(" "))
    return events


def test_ask_cites_exact_spans_of_the_served_source_text(live_server):
    response = post(live_server, "/v1/ask", {"question": TROOPS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"answer", "abstained", "citations", "timings_ms", "short_answer"}
    assert body["abstained"] is False and "28,000" in body["answer"]
    assert body["citations"] and "total" in body["timings_ms"]
    for citation in body["citations"]:
        assert f"[{citation['n']}]" in body["answer"]
        text = source_text(live_server, citation["source_id"])
        assert text[citation["start"] : citation["end"]] == citation["quote"]
    # The short answer is an exact span of the source, inside the quote of the citation it names.
    short = body["short_answer"]
    cited = body["citations"][short["n"] - 1]
    assert "28,000" in short["text"]
    assert source_text(live_server, cited["source_id"])[short["start"] : short["end"]] == short["text"]
    assert cited["start"] <= short["start"] < short["end"] <= cited["end"]
    assert any("28,000" in c["quote"] and c["section"] == "A South Korean model" for c in body["citations"])


def test_a_question_for_several_countries_leads_with_each_as_an_exact_span(live_server):
    question = "Which countries outside Europe are among the 26 ready to guarantee Ukraine's security?"
    body = post(live_server, "/v1/ask", {"question": question}).json()
    assert "short_answer" not in body and len(body["short_list"]) >= 2
    for span in body["short_list"]:
        cited = body["citations"][span["n"] - 1]
        assert source_text(live_server, cited["source_id"])[span["start"] : span["end"]] == span["text"]
        assert cited["start"] <= span["start"] < span["end"] <= cited["end"]
    assert {"Canada", "Japan", "New Zealand"} <= {span["text"] for span in body["short_list"]}
    with httpx.stream(
        "POST", f"{live_server.base_url}/v1/ask/stream", json={"question": question}, timeout=30
    ) as response:
        events = read_events(response)
    assert events[-2][1]["short_list"] == body["short_list"]


def test_stream_sends_the_same_answer_in_pieces_then_citations_then_done(live_server):
    plain = post(live_server, "/v1/ask", {"question": TROOPS}).json()
    with httpx.stream(
        "POST", f"{live_server.base_url}/v1/ask/stream", json={"question": TROOPS}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"delta"}
    assert len(names) - 2 > 5  # word-sized pieces, not one blob
    assert "".join(data["text"] for name, data in events if name == "delta") == plain["answer"]
    assert events[-2][1] == {"citations": plain["citations"], "abstained": False, "short_answer": plain["short_answer"]}
    assert "total" in events[-1][1]["timings_ms"]


def test_stream_refuses_bad_input_with_a_json_error_before_streaming(live_server):
    response = post(live_server, "/v1/ask/stream", {"question": "   "})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["message"] == "question is empty"


def test_follow_up_uses_the_history(live_server):
    history = [
        {"role": "user", "content": "What is the South Korean model?"},
        {"role": "assistant", "content": "A model of deterrence with US troops."},
    ]
    body = post(live_server, "/v1/ask", {"question": "How many US troops are there?", "history": history}).json()
    assert body["abstained"] is False and "28,000" in body["answer"]


def test_filters_restrict_the_answer_to_one_source(live_server):
    question = {"question": "When did the Winter War begin?", "filters": {"source_id": "hostile"}}
    body = post(live_server, "/v1/ask", question).json()
    assert body["abstained"] is False and "1939" in body["answer"]
    assert {c["source_id"] for c in body["citations"]} == {"hostile"}


def test_off_topic_question_abstains_without_citations(live_server):
    body = post(live_server, "/v1/ask", {"question": "What is the recipe for a good lasagna?"}).json()
    assert body["abstained"] is True and body["citations"] == []


def test_a_side_the_sources_do_not_cover_is_named_in_the_notes(live_server):
    body = httpx.post(
        f"{live_server.base_url}/v1/ask", json={"question": "When did Finland and Narnia join NATO?"}, timeout=60
    ).json()
    assert not body["abstained"] and "2023" in body["answer"]
    assert any("Narnia" in note for note in body["notes"])
    plain = httpx.post(f"{live_server.base_url}/v1/ask", json={"question": TROOPS}, timeout=60).json()
    assert "notes" not in plain  # only when there is something to say


def test_sources_list_and_detail_agree(live_server):
    response = httpx.get(f"{live_server.base_url}/v1/sources", timeout=30)
    assert response.status_code == 200
    listed = {s["source_id"]: s for s in response.json()["sources"]}
    assert set(listed) == {SEED, "hostile"}
    seed = listed[SEED]
    assert seed["title"].startswith("Amid tensions between the U.S. and Europe")
    assert seed["kind"] == "news analysis" and seed["language"] == "en" and seed["author"] is None
    assert "A South Korean model" in seed["sections"]
    detail = httpx.get(f"{live_server.base_url}/v1/sources/{SEED}", timeout=30).json()
    assert {k: v for k, v in detail.items() if k != "text"} == seed
    assert len(detail["text"]) == seed["chars"] and "28,000 American troops" in detail["text"]
    # Hostile markup is data: served back verbatim as JSON text, never interpreted.
    assert "<script>window.__pwned = 1</script>" in source_text(live_server, "hostile")


def test_healthz_describes_the_index(live_server):
    response = httpx.get(f"{live_server.base_url}/healthz", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["index"]["documents"] == 2 and body["index"]["chunks"] >= 2
    assert body["index"]["sentences"] > body["index"]["chunks"]
    assert body["index"]["embedder"] and body["index"]["chunker"]


def test_root_html_docs_and_openapi_are_served(live_server):
    page = httpx.get(f"{live_server.base_url}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    schema = httpx.get(f"{live_server.base_url}/openapi.json", timeout=30).json()
    assert {"/v1/ask", "/v1/ask/stream", "/v1/chat/completions", "/v1/sources", "/healthz"} <= set(schema["paths"])
    assert httpx.get(f"{live_server.base_url}/docs", timeout=30).status_code == 200


def test_openapi_documents_every_error_status_with_the_envelope(live_server):
    # schemathesis and generated clients trust the schema: a 400 or 401 it does not list is a
    # surprise to them.
    schema = httpx.get(f"{live_server.base_url}/openapi.json", timeout=30).json()
    envelope = "#/components/schemas/ErrorEnvelope"
    expected = {
        ("/v1/ask", "post"): {"400", "401", "413", "422", "429", "503"},
        ("/v1/ask/stream", "post"): {"400", "401", "413", "422", "429", "503"},
        ("/v1/chat/completions", "post"): {"400", "401", "413", "422", "429", "503"},
        ("/v1/sources", "get"): {"401", "429", "503"},
        ("/v1/sources/{source_id}", "get"): {"401", "404", "429", "503"},
        ("/healthz", "get"): {"503"},
    }
    # QA_RATE_LIMIT_PER_MINUTE covers every /v1 path, so every /v1 operation can answer 429.
    for path, operations in schema["paths"].items():
        if path.startswith("/v1/"):
            expected.update({(path, method): {"429"} for method in operations if (path, method) not in expected})
    for (path, method), statuses in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert statuses <= set(responses), (path, method, sorted(responses))
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"]["$ref"] == envelope, (path, status)
    assert set(schema["components"]["schemas"]["ErrorEnvelope"]["properties"]) == {"error"}


def test_a_whole_number_written_as_a_float_is_a_valid_top_k(live_server):
    # JSON Schema's "integer" admits 5.0, and schema-driven clients send it.
    body = post(
        live_server, "/v1/ask", {"question": "How many American troops are stationed in South Korea?", "top_k": 5.0}
    )
    assert body.status_code == 200, body.text
    assert not body.json()["abstained"]


def test_every_request_gets_an_id_and_one_json_log_line(live_server, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="qa.requests")
    question = {"question": "How many American troops are stationed in South Korea?"}
    mine = post(live_server, "/v1/ask", question, headers={"X-Request-ID": "client-42"})
    made = post(live_server, "/v1/ask", question, headers={"X-Request-ID": "bad id; " + "x" * 100})
    # The query string's value is no hex: a random request id could hold "abc" by chance.
    missing = httpx.get(f"{live_server.base_url}/v1/sources/nope?token=query-secret", timeout=30)
    assert mine.headers["x-request-id"] == "client-42"
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "client-42"
    # The line is written once the response has gone out, so a client may read the response
    # first: wait for the three lines (a clean-clone run on a busy machine read too early).
    wanted = {"client-42", made.headers["x-request-id"], missing.headers["x-request-id"]}
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qa.requests"]
        by_id = {line["id"]: line for line in lines}
        if wanted <= by_id.keys() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert by_id["client-42"]["status"] == 200 and by_id["client-42"]["path"] == "/v1/ask"
    assert by_id["client-42"]["abstained"] is False and by_id["client-42"]["citations"] >= 1
    assert "question" not in by_id["client-42"]  # questions stay out unless QA_LOG_QUESTIONS=true
    assert by_id[missing.headers["x-request-id"]]["status"] == 404
    assert not any("query-secret" in json.dumps(line) or "?" in line["path"] for line in lines)


def test_questions_are_logged_only_when_asked_for(live_server, api_answerer, caplog):
    import logging

    from api.main import create_app

    caplog.set_level(logging.INFO, logger="qa.requests")
    settings = live_server.settings.model_copy(update={"log_questions": True})
    server, thread, port = start_server(create_app(settings, answerer=api_answerer))
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/ask/stream", json={"question": "When did Finland join NATO?"}, timeout=30
        )
        assert response.status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qa.requests"]
    assert line["question"] == "When did Finland join NATO?"
    assert line["abstained"] is False and line["citations"] >= 1  # noted from the stream's final answer


def test_metrics_count_requests_by_route_answers_and_index_size(live_server, api_answerer):
    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> dict[tuple[str, tuple], float]:
        text = httpx.get(f"{live_server.base_url}/metrics", timeout=30).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    before = scrape()
    post(live_server, "/v1/ask", {"question": "How many American troops are stationed in South Korea?"})
    post(live_server, "/v1/ask", {"question": "What is the boiling point of mercury on Venus?"})
    for n in range(3):  # random paths must not become labels
        httpx.get(f"{live_server.base_url}/no/such/path/{n}", timeout=30)
    after = scrape()

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("qa_requests_total", method="POST", route="/v1/ask", status="200") == 2
    assert grew("qa_request_seconds_count", route="/v1/ask") == 2
    assert grew("qa_answers_total", abstained="false") == 1 and grew("qa_answers_total", abstained="true") == 1
    assert grew("qa_requests_total", method="GET", route="unmatched", status="404") == 3
    assert not any("no/such" in str(labels) for _, labels in after)
    stats = api_answerer.snapshot.stats()
    assert after[("qa_index_documents", ())] == stats["documents"] > 0
    assert after[("qa_index_chunks", ())] == stats["chunks"]


def test_the_rate_limit_is_off_by_default_and_answers_429_per_client_when_set(live_server, api_answerer):
    from api.main import create_app

    question = {"question": "When did Finland join NATO?"}
    assert all(post(live_server, "/v1/ask", question).status_code == 200 for _ in range(8))  # off by default
    settings = live_server.settings.model_copy(update={"rate_limit_per_minute": 3})
    server, thread, port = start_server(create_app(settings, answerer=api_answerer))
    base = f"http://127.0.0.1:{port}"
    try:
        statuses = [httpx.post(f"{base}/v1/ask", json=question, timeout=30).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = httpx.post(f"{base}/v1/ask", json=question, timeout=30)
        assert refused.json()["error"]["type"] == "rate_limit_exceeded"
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        # Without QA_API_KEY no key is valid, so a made-up one, new each time, is no new budget:
        # the client is its address. The health check is never limited.
        for n in range(3):
            made_up = {"Authorization": f"Bearer made-up-{n}"}
            assert httpx.post(f"{base}/v1/ask", json=question, headers=made_up, timeout=30).status_code == 429
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_cors_is_closed_by_default_and_open_to_configured_origins(live_server, api_answerer):
    preflight = {
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    closed = httpx.options(f"{live_server.base_url}/v1/ask", headers=preflight, timeout=30)
    assert "access-control-allow-origin" not in closed.headers

    from api.main import create_app

    settings = live_server.settings.model_copy(update={"cors_origins": ["https://example.org"]})
    server, thread, port = start_server(create_app(settings, answerer=api_answerer))
    try:
        opened = httpx.options(f"http://127.0.0.1:{port}/v1/ask", headers=preflight, timeout=30)
        assert opened.status_code == 200
        assert opened.headers["access-control-allow-origin"] == "https://example.org"
        other = httpx.options(
            f"http://127.0.0.1:{port}/v1/ask", timeout=30, headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_concurrent_requests_all_succeed_with_identical_answers(live_server):
    questions = [TROOPS, "When did Finland join NATO?", "What is Finlandization?", "When did the Winter War begin?"]
    results: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        with httpx.Client(base_url=live_server.base_url, timeout=60) as http:
            for i in range(25):
                question = questions[(offset + i) % len(questions)]
                response = http.post("/v1/ask", json={"question": question})
                with lock:
                    results.append((question, response.status_code, response.text))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 200
    assert Counter(status for _, status, _ in results) == Counter({200: 200})
    answers: dict[str, set[str]] = {}
    for question, _, text in results:
        body = json.loads(text)
        answers.setdefault(question, set()).add(json.dumps([body["answer"], body["citations"]]))
    assert all(len(variants) == 1 for variants in answers.values()), answers
