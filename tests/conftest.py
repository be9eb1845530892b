"""Shared fixtures: the real embedding model and a real Chroma index, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embeddings():
    from rag.embeddings import MiniLMEmbeddings

    return MiniLMEmbeddings()


def make_settings(data_dir: Path, corpus_dir: Path = CORPUS, **overrides):
    from rag.settings import Settings

    return Settings(data_dir=data_dir, corpus_dir=corpus_dir, **overrides)


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
    from rag.chain import load_answerer

    return load_answerer(corpus_settings, embeddings)
