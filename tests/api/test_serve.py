"""`qa serve` as a user runs it: a real subprocess on a free port, asked one question over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port

pytestmark = pytest.mark.integration

STARTUP_SECONDS = 120
SERVE_KEY = "serve-test-key-fedcba9876543210"


@contextmanager
def served(settings, env: dict[str, str | None] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """`qa serve --port <free>` over `settings`' data and corpus, with SERVE_KEY unless `env`
    says otherwise (a None value unsets a variable); yields (process, base_url); always stops it."""
    port = free_port()
    merged: dict[str, str | None] = {
        **os.environ,
        "QA_DATA_DIR": str(settings.data_dir),
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "QA_API_KEY": SERVE_KEY,
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    environment = {name: value for name, value in merged.items() if value is not None}
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def serve(api_settings):
    with served(api_settings) as running:
        yield running


def wait_healthy(process: subprocess.Popen, base_url: str) -> dict:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"qa serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=5)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("qa serve did not become healthy in time")


def test_qa_serve_prints_the_chat_url_and_answers(serve):
    process, base_url = serve
    health = wait_healthy(process, base_url)
    assert health["index"]["documents"] == 2
    assert process.stdout.readline().strip() == f"Chat page: {base_url}/"
    question = {"question": "How many American troops are stationed in South Korea?"}
    response = httpx.post(
        f"{base_url}/v1/ask", json=question, timeout=30, headers={"Authorization": f"Bearer {SERVE_KEY}"}
    )
    assert response.status_code == 200 and "28,000" in response.json()["answer"]
    wrong = httpx.post(f"{base_url}/v1/ask", json=question, timeout=30, headers={"Authorization": "Bearer guess-1"})
    assert wrong.status_code == 401
    # A key (or anything) put in the query string is not accepted, and not logged either.
    in_url = httpx.get(f"{base_url}/v1/sources?api_key=url-secret-7&q=troops", timeout=30)
    assert in_url.status_code == 401
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down cleanly, then re-raises the signal so the parent sees how it ended.
    assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    out, err = process.stdout.read(), process.stderr.read()
    assert "Finished server process" in err
    # One JSON line per request on stdout: no key (right or wrong), no query string, no question.
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    asked = [line for line in lines if line["path"] == "/v1/ask"]
    assert [line["status"] for line in asked] == [200, 401]
    assert asked[0]["abstained"] is False and asked[0]["citations"] >= 1
    assert all(len(line["id"]) == 32 for line in lines)
    assert [line["status"] for line in lines if line["path"] == "/v1/sources"] == [401]
    assert SERVE_KEY not in out + err and "guess-1" not in out + err
    assert "url-secret-7" not in out + err and "troops" not in out + err and "?" not in out


def statuses(url: str, forwarded_for: list[str]) -> list[int]:
    """GET /v1/sources once per X-Forwarded-For value, as a local client that makes them up."""
    return [
        httpx.get(f"{url}/v1/sources", headers={"X-Forwarded-For": value}, timeout=30).status_code
        for value in forwarded_for
    ]


def test_qa_serve_takes_x_forwarded_for_only_from_trusted_proxies(api_settings):
    """The rate limit keys a client without a key by its address. A local client that makes up a
    new X-Forwarded-For each request is still one client, unless QA_TRUSTED_PROXIES names its
    address as a proxy; then each forwarded address is a client of its own. uvicorn's own
    FORWARDED_ALLOW_IPS does not switch the header back on."""
    limited = {"QA_API_KEY": None, "QA_RATE_LIMIT_PER_MINUTE": "2", "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    behind_proxy = {**limited, "QA_TRUSTED_PROXIES": "127.0.0.1", "FORWARDED_ALLOW_IPS": None}
    with served(api_settings, limited) as (plain, plain_url), served(api_settings, behind_proxy) as (proxied, url):
        wait_healthy(plain, plain_url)
        wait_healthy(proxied, url)
        made_up = [f"203.0.113.{n}" for n in range(1, 5)]
        # 2 a minute: one token back every 30 s, far longer than four requests take.
        assert statuses(plain_url, made_up) == [200, 200, 429, 429]
        assert statuses(url, made_up) == [200, 200, 200, 200]
        assert statuses(url, ["198.51.100.7"] * 3) == [200, 200, 429]
        plain.send_signal(signal.SIGTERM)
        plain.wait(timeout=15)
        assert "FORWARDED_ALLOW_IPS is ignored" in plain.stderr.read()


def test_qa_serve_refuses_a_trusted_proxy_that_is_not_an_address():
    env = {**os.environ, "QA_TRUSTED_PROXIES": "127.0.0.1, proxy.example", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "QA_TRUSTED_PROXIES takes IP addresses or networks" in result.stderr and "'proxy.example'" in result.stderr


def test_qa_serve_without_an_index_says_so_in_one_line(tmp_path):
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
    )
    assert result.returncode == 1
    assert "qa serve:" in result.stderr and "qa ingest" in result.stderr
    assert "Traceback" not in result.stderr and "Chat page" not in result.stdout


def test_qa_serve_rejects_a_bad_port():
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "serve", "--port", "70000"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "--port must be between 1 and 65535, got 70000" in result.stderr


def test_qa_serve_on_a_port_in_use_says_so_in_one_line_before_loading_anything(api_settings):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "QA_DATA_DIR": str(api_settings.data_dir), "HF_HUB_OFFLINE": "1"}
        result = subprocess.run(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"qa serve: cannot listen on 127.0.0.1:{port}: the port is in use (choose another with --port or QA_PORT)"
    )
    assert result.stdout == ""  # neither "Chat page" for the other server's page nor uvicorn's log


def index_of_the_article(tmp_path, embeddings):
    """A corpus folder of the shipped article and an index of their own (tests upload into
    them), with the ONNX export `qa ingest` leaves: the server starts without torch."""
    import shutil

    from ingest.pipeline import ingest_paths
    from rag.onnx_encoder import prepare_export
    from tests.conftest import CORPUS, make_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_31241798ea01703b.txt", "000_31241798ea01703b.meta.yaml"):
        shutil.copy(CORPUS / name, corpus / name)
    settings = make_settings(tmp_path / "data", corpus)
    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert prepare_export(settings.data_dir, None) is not None
    return settings


def test_qa_serve_starts_without_torch_and_loads_it_for_an_upload(tmp_path, embeddings):
    """Torch stays out of the server until an upload needs the model for ingest; the upload
    then works and is answered from. Seen from outside: libtorch in the process's memory map."""
    settings = index_of_the_article(tmp_path, embeddings)
    with served(settings) as (process, base):
        key = {"Authorization": f"Bearer {SERVE_KEY}"}
        wait_healthy(process, base)
        assert not _maps_torch(process.pid)
        text = "Harbour report\n\nThe Kessmouth breakwater was finished in 1911 by the harbour board.\n"
        uploaded = httpx.post(
            f"{base}/v1/documents",
            headers=key,
            files={"file": ("kessmouth.txt", text.encode(), "text/plain")},
            timeout=STARTUP_SECONDS,
        )
        assert uploaded.status_code == 201, uploaded.text
        assert _maps_torch(process.pid)
        question = {"question": "When was the Kessmouth breakwater finished?"}
        answer = httpx.post(f"{base}/v1/ask", headers=key, json=question, timeout=60).json()
        assert not answer["abstained"] and "1911" in answer["answer"]
        assert {c["source_id"] for c in answer["citations"]} == {"kessmouth"}


def _maps_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text(encoding="utf-8", errors="replace")
