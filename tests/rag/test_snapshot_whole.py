"""A reader loads a source only whole: when fewer of its rows are visible than its source record
counted at ingest (another process still writing, or rows lost), the index is not ready, rather
than answered from part of a document. Real Chroma on disk, real model."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings, one_brief_corpus

pytestmark = pytest.mark.integration


def test_a_source_missing_some_of_its_rows_is_not_loaded(tmp_path, embeddings):
    from ingest.pipeline import ingest_paths
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader

    corpus = one_brief_corpus(tmp_path)
    settings = make_settings(tmp_path / "data", corpus)
    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    client = open_client(settings)
    whole = load_snapshot(IndexReader(client, settings.collection))
    assert whole.stats()["chunks"] == whole.sources["budapest-memorandum"].metadata["n_chunks"]

    for kind in ("sentences", "chunks"):
        reader = IndexReader(client, settings.collection)
        reader.open()
        collection = reader.collection(kind)
        first = collection.get(limit=1, include=["documents", "metadatas", "embeddings"])
        collection.delete(ids=first["ids"])
        with pytest.raises(IndexNotReadyError, match="budapest-memorandum"):
            load_snapshot(IndexReader(client, settings.collection))
        collection.add(
            ids=first["ids"],
            documents=first["documents"],
            metadatas=first["metadatas"],
            embeddings=first["embeddings"],
        )
        assert load_snapshot(IndexReader(client, settings.collection)).stats() == whole.stats()


def test_vectors_mapped_from_files_are_the_stored_ones_and_answer_alike(tmp_path, embeddings):
    """Two readers of one index share the vector files (one file per matrix) and hold the same
    values as a reader that keeps them in its own memory (that every answer stays the same is
    checked on the eval sets)."""
    from ingest.pipeline import ingest_paths
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader
    from rag.vector_files import SUFFIX

    corpus = one_brief_corpus(tmp_path)
    settings = make_settings(tmp_path / "data", corpus)
    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    client = open_client(settings)
    in_memory = load_snapshot(IndexReader(client, settings.collection))
    first, second = (
        load_snapshot(IndexReader(client, settings.collection), vector_folder=settings.vectors_dir) for _ in range(2)
    )
    files = sorted(p.name.split("-")[0] for p in settings.vectors_dir.glob(f"*{SUFFIX}"))
    assert files == ["chunks", "sentences"]
    for mapped in (first, second):
        assert not mapped.sentence_vectors.flags.writeable and not mapped.chunk_vectors.flags.writeable
        assert (mapped.sentence_vectors == in_memory.sentence_vectors).all()
        assert (mapped.chunk_vectors == in_memory.chunk_vectors).all()
    brief = first.sentences_of_source("budapest-memorandum")
    assert len(brief) == int(first.sources["budapest-memorandum"].metadata["n_sentences"])
    assert [s.index for s in brief] == sorted(s.index for s in brief)
