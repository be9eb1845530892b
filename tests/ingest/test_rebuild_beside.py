"""`qa ingest --rebuild` never empties the index readers use: the new index is built beside the
published one and switched to in one write (ingest/index.py). Real Chroma on disk, the real model,
a real uvicorn server and the real CLI in its own process, killed with SIGKILL where it matters."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import CORPUS, REPO, make_settings
from tests.ingest.test_crash import cli_env, run_ingest_killed_at
from tests.servers import start_server
from tests.store_checks import all_rows, assert_consistent

pytestmark = pytest.mark.integration

QUESTION = "How many American troops are stationed in South Korea?"


@pytest.fixture()
def small_index(tmp_path, embeddings):
    from ingest.pipeline import ingest_paths

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_31241798ea01703b.txt", "000_31241798ea01703b.meta.yaml", "budapest-memorandum.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    settings = make_settings(tmp_path / "data", corpus)
    assert ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False).added == 2
    return settings


def collection_names(settings) -> set[str]:
    from rag.storage import open_client

    return {c if isinstance(c, str) else c.name for c in open_client(settings).list_collections()}


def rebuild(settings, embeddings):
    from ingest.pipeline import ingest_paths

    return ingest_paths(None, settings, rebuild=True, embedder_factory=lambda: embeddings, progress=False)


def test_a_rebuild_is_built_beside_and_published_in_one_switch(small_index, embeddings):
    from rag.errors import IndexNotReadyError
    from rag.factory import load_answerer

    before = all_rows(small_index)
    serving = load_answerer(small_index, embeddings)
    first = serving.answer(QUESTION)
    assert rebuild(small_index, embeddings).rebuilt_because == "--rebuild was asked for"
    # Readers opening now get the new generation, equal to the old one row for row.
    after = assert_consistent(small_index)
    assert {k: sorted(r["id"] for r in v) for k, v in after.items()} == {
        k: sorted(r["id"] for r in v) for k, v in before.items()
    }
    assert {"qa.g1_chunks", "qa_chunks", "qa_current"} <= collection_names(small_index)
    # The process that opened the old one keeps answering from it, unchanged.
    again = serving.answer(QUESTION)
    assert again.answer == first.answer and again.citations == first.citations
    # A second rebuild drops the first generation: that process is told to restart, clearly.
    rebuild(small_index, embeddings)
    assert "qa_chunks" not in collection_names(small_index) and "qa.g2_chunks" in collection_names(small_index)
    with pytest.raises(IndexNotReadyError, match="restart"):
        serving.answer(QUESTION)
    assert "restart" in (serving.retriever.store_problem() or "")  # what /healthz says then
    assert not load_answerer(small_index, embeddings).answer(QUESTION).abstained


def test_questions_keep_their_answers_while_the_cli_rebuilds(small_index, embeddings):
    from api.main import create_app
    from rag.factory import load_answerer

    server, thread, port = start_server(create_app(small_index, answerer=load_answerer(small_index, embeddings)))
    statuses: list[int] = []
    stop = threading.Event()

    def ask_until_stopped() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while not stop.is_set():
                statuses.append(client.post("/v1/ask", json={"question": QUESTION}).status_code)

    asker = threading.Thread(target=ask_until_stopped)
    asker.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", "--rebuild", "--quiet"],
            cwd=REPO,
            env=cli_env(small_index),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        time.sleep(0.5)
    finally:
        stop.set()
        asker.join(timeout=60)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        server.should_exit = True
        thread.join(timeout=10)
    assert len(statuses) >= 5 and set(statuses) == {200}, statuses
    assert health.status_code == 200
    assert "qa.g1_sources" in collection_names(small_index)


def test_a_rebuild_killed_before_it_publishes_leaves_the_old_index_whole(small_index, embeddings, tmp_path):
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    before = all_rows(small_index)
    # SIGKILL when the second source's rows start going into the new generation.
    run_ingest_killed_at(small_index, tmp_path, "replace_source", nth=2, cli_args=("--rebuild", "--quiet"))
    assert "qa.g1_sources" in collection_names(small_index)  # half a rebuild, beside, unpublished
    assert all_rows(small_index) == before  # readers open the old index, whole
    assert not load_answerer(small_index, embeddings).answer(QUESTION).abstained
    # The next ingest clears what the killed one left; nothing is re-embedded.
    summary = ingest_paths(None, small_index, embedder_factory=lambda: embeddings, progress=False)
    assert summary.added == summary.updated == 0
    assert not any(name.startswith("qa.g") for name in collection_names(small_index))
    assert all_rows(small_index) == before
