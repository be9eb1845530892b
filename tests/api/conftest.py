"""A real uvicorn server on a free port, serving a real index of a temporary corpus: the seed
article plus a document whose text is hostile HTML (the page must show it as text)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import CORPUS, make_settings

HOSTILE_TEXT = """Hostile test document

Markup test

This document mentions <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned=2"> as plain text. The Winter War began in 1939 according to this test document.
"""
TEST_API_KEY = "test-key-0123456789abcdef"


@dataclass
class LiveServer:
    base_url: str
    settings: object
    server: object


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app) -> tuple[object, threading.Thread, int]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, port


@pytest.fixture(scope="session")
def api_settings(tmp_path_factory, embeddings):
    """Settings with an index of seed + hostile document, built once."""
    from ingest.pipeline import ingest_paths

    corpus = tmp_path_factory.mktemp("api-corpus")
    for name in ("000_31241798ea01703b.txt", "000_31241798ea01703b.meta.yaml"):
        shutil.copy(CORPUS / name, corpus / name)
    (corpus / "hostile.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    settings = make_settings(tmp_path_factory.mktemp("api-data"), corpus)
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.failed == [] and summary.added == 2
    return settings


@pytest.fixture(scope="session")
def api_answerer(api_settings, embeddings):
    from rag.chain import load_answerer

    return load_answerer(api_settings, embeddings)


def _serve(settings, answerer) -> Iterator[LiveServer]:
    from api.main import create_app

    server, thread, port = start_server(create_app(settings, answerer=answerer))
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(api_settings, api_answerer) -> Iterator[LiveServer]:
    """No API key."""
    yield from _serve(api_settings, api_answerer)


@pytest.fixture(scope="session")
def live_server_with_key(api_settings, api_answerer) -> Iterator[LiveServer]:
    """QA_API_KEY set to TEST_API_KEY."""
    from pydantic import SecretStr

    yield from _serve(api_settings.model_copy(update={"api_key": SecretStr(TEST_API_KEY)}), api_answerer)
