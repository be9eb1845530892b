"""Two serving processes on one real Chroma server (`chroma run`) pick up an ingest made by a third
process, with no restart: a uvicorn server in this process and a `qa serve` subprocess, both with
QA_INDEX_CHECK_S=1; the ingest is `qa ingest` in its own process. Before it, neither has the new
document; after it, both list it and give the same cited answer from it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.test_chroma_server import start_chroma
from tests.conftest import CORPUS, make_settings, one_brief_corpus
from tests.ingest.test_crash import cli_env
from tests.servers import free_port, start_server

pytestmark = pytest.mark.integration

QUESTION = "How many American troops are stationed in South Korea?"
SEED = ("000_31241798ea01703b.txt", "000_31241798ea01703b.meta.yaml")
WAIT_S = 90


def qa_env(settings) -> dict[str, str]:
    """What test_crash gives its CLI processes, plus the Chroma server and a one-second check."""
    return {**cli_env(settings), "QA_CHROMA_URL": str(settings.chroma_url), "QA_INDEX_CHECK_S": "1"}


def wait_for(check, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def documents(client: httpx.Client) -> list[str]:
    return [s["source_id"] for s in client.get("/v1/sources").json()["sources"]]


def test_workers_on_one_chroma_server_serve_another_processs_ingest_without_restart(tmp_path):
    from api.main import create_app
    from ingest.pipeline import ingest_paths

    corpus = one_brief_corpus(tmp_path)
    chroma_port = free_port()
    chroma = start_chroma(tmp_path / "chroma-db", chroma_port)
    settings = make_settings(tmp_path / "data", corpus, chroma_url=f"http://127.0.0.1:{chroma_port}", index_check_s=1.0)
    server = thread = worker = None
    try:
        assert ingest_paths(None, settings, progress=False).added == 1
        server, thread, port = start_server(create_app(settings))  # loads the index at start-up
        worker_port = free_port()
        worker = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(worker_port)],
            env=qa_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        one = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        two = httpx.Client(base_url=f"http://127.0.0.1:{worker_port}", timeout=30)
        wait_for(lambda: two.get("/healthz").status_code == 200, "the qa serve worker")
        assert documents(one) == documents(two) == ["budapest-memorandum"]
        assert "28,000" not in one.post("/v1/ask", json={"question": QUESTION}).json()["answer"]

        for name in SEED:
            shutil.copy(CORPUS / name, corpus / name)
        ingested = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", "--quiet"],
            env=qa_env(settings),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ingested.returncode == 0, ingested.stderr
        for client in (one, two):
            wait_for(lambda c=client: len(documents(c)) == 2, "the new document to be served")
        answers = [c.post("/v1/ask", json={"question": QUESTION}).json() for c in (one, two)]
        # What each process serves, shown if an assertion fails (a failure here was seen once in CI).
        served = [
            (c.get("/healthz").json()["index"], a["answer"][:200]) for c, a in zip((one, two), answers, strict=True)
        ]
        assert "28,000" in answers[0]["answer"], served
        assert answers[0]["answer"] == answers[1]["answer"], served
        assert answers[0]["citations"] == answers[1]["citations"]
        assert two.get("/healthz").json()["index"]["documents"] == 2
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        chroma.kill()
        chroma.wait(timeout=30)


def test_the_signature_moves_with_an_ingest_and_only_then(tmp_path, embeddings):
    from ingest.pipeline import ingest_paths
    from rag.freshness import index_signature

    corpus = one_brief_corpus(tmp_path)
    settings = make_settings(tmp_path / "data", corpus)
    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    first = index_signature(settings)
    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)  # nothing changed
    assert index_signature(settings) == first
    path = Path(corpus / "budapest-memorandum.txt")
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA sentence added later.\n", encoding="utf-8")
    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert index_signature(settings) != first
