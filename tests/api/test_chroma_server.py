"""QA_CHROMA_URL against a real Chroma server (`chroma run`, shipped with chromadb) on a free port:
ingest into it, ask through the API, then kill the server, stop it (a hung one), and bring it
back. While it is gone or hung, questions and /healthz answer 503 with a JSON message within the
timeout instead of hanging; afterwards they recover by themselves, and no data was lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, make_settings
from tests.servers import free_port, start_server

pytestmark = pytest.mark.integration

QUESTION = "How many American troops are stationed in South Korea?"


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("chroma run did not come up")


def test_ask_through_a_chroma_server_that_dies_hangs_and_comes_back(tmp_path, embeddings):
    from api.main import create_app
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_31241798ea01703b.txt", "000_31241798ea01703b.meta.yaml", "budapest-memorandum.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    port = free_port()
    chroma = start_chroma(tmp_path / "chroma-db", port)
    settings = make_settings(tmp_path / "data", corpus, chroma_url=f"http://127.0.0.1:{port}", chroma_timeout_s=2.0)
    server = thread = None
    try:
        assert ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False).added == 2
        assert not (tmp_path / "data" / "chroma").exists()  # nothing went to the local disk
        server, thread, api_port = start_server(create_app(settings, answerer=load_answerer(settings, embeddings)))
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
        before = api.post("/v1/ask", json={"question": QUESTION}).json()
        assert "28,000" in before["answer"] and api.get("/healthz").status_code == 200

        chroma.kill()
        chroma.wait(timeout=30)
        gone = api.post("/v1/ask", json={"question": QUESTION})
        assert gone.status_code == 503 and "Chroma server does not answer" in gone.json()["error"]["message"]
        assert api.get("/healthz").status_code == 503

        chroma = start_chroma(tmp_path / "chroma-db", port)
        os.kill(chroma.pid, signal.SIGSTOP)  # up but not answering: the timeout, not a hang
        try:
            started = time.monotonic()
            hung = api.post("/v1/ask", json={"question": QUESTION})
            waited = time.monotonic() - started
            assert hung.status_code == 503, hung.text
            assert api.get("/healthz").status_code == 503
        finally:
            os.kill(chroma.pid, signal.SIGCONT)
        print(f"\na hung Chroma server: 503 after {waited:.1f} s (QA_CHROMA_TIMEOUT_S=2)")

        after = api.post("/v1/ask", json={"question": QUESTION})
        assert after.status_code == 200 and after.json()["answer"] == before["answer"]
        health = api.get("/healthz").json()
        assert health["status"] == "ok" and health["index"]["documents"] == 2
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        chroma.kill()
        chroma.wait(timeout=30)
