"""Shared fixtures: the real embedding model and a real Chroma index, built once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import HOSTILE_TEXT, TEST_API_KEY, LiveServer, start_server

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    """Let the suite hold more than 1,024 open files where the hard limit allows: it keeps many
    real Chroma clients (several files each) and mapped vector files (rag/vector_files.py) open
    at once, past 1,024 in one process, where a soft limit of 1,024 would fail unrelated tests.
    A serving process holds one index at a time."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.fixture(scope="session")
def embeddings():
    from rag.embeddings import MiniLMEmbeddings

    return MiniLMEmbeddings()


def make_settings(data_dir: Path, corpus_dir: Path = CORPUS, **overrides):
    from rag.settings import Settings

    return Settings(data_dir=data_dir, corpus_dir=corpus_dir, **overrides)


def answerer_over(tmp_path_factory, embeddings, documents: dict[str, str]):
    """An answerer over a made-up corpus of `documents` (file name -> text), ingested for real."""
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    corpus = tmp_path_factory.mktemp("made-up-corpus")
    for name, text in documents.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = make_settings(tmp_path_factory.mktemp("made-up-data"), corpus)
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.added == len(documents) and summary.failed == []
    return load_answerer(settings, embeddings)


def first_quote(answerer, question: str) -> str:
    """The first quote of an answer the answerer must give (not abstain from)."""
    answer = answerer.answer(question)
    assert not answer.abstained, question
    return answer.citations[0].quote


def one_brief_corpus(root: Path) -> Path:
    """A corpus folder under `root` holding one shipped brief (the Budapest Memorandum's)."""
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "budapest-memorandum.txt", corpus / "budapest-memorandum.txt")
    return corpus


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, embeddings):
    """Settings whose data dir holds an index of the shipped corpus."""
    from ingest.pipeline import ingest_paths

    settings = make_settings(tmp_path_factory.mktemp("corpus-index"))
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.failed == [] and summary.added >= 1
    return settings


@pytest.fixture(scope="session")
def answerer(corpus_settings, embeddings):
    from rag.factory import load_answerer

    return load_answerer(corpus_settings, embeddings)


# ---- a real uvicorn server over a real index of a temporary corpus: the seed article plus a
# document whose text is hostile HTML (the page must show it as text). Shared by tests/api,
# tests/rag (the llm mode's peer) and tests/evals (batch over HTTP).


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
    from rag.factory import load_answerer

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
