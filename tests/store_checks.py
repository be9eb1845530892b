"""Reading the Chroma store in tests, and the consistency check that every ingest must leave
behind (shared by the pipeline and the kill -9 tests)."""

from __future__ import annotations

from collections import Counter


def open_store(settings):
    from rag.storage import open_client
    from rag.store import IndexReader

    store = IndexReader(open_client(settings), settings.collection)
    store.open()
    return store


def all_rows(settings) -> dict[str, list[dict]]:
    store = open_store(settings)
    return {kind: list(store.read_all(kind)) for kind in ("chunks", "sentences", "sources")}


def assert_consistent(settings) -> dict[str, list[dict]]:
    """Every chunk and sentence row is vouched by its source record (same content hash), ids are
    unique, spans index the stored canonical text, and record counts match the rows."""
    got = all_rows(settings)
    sources = {r["id"]: r for r in got["sources"]}
    for kind, count_key in (("chunks", "n_chunks"), ("sentences", "n_sentences")):
        ids = [r["id"] for r in got[kind]]
        assert len(ids) == len(set(ids)), f"duplicate {kind} ids"
        per_source: Counter[str] = Counter()
        for row in got[kind]:
            meta = row["metadata"]
            source = sources.get(meta["source_id"])
            assert source is not None, f"{kind} row {row['id']} of unknown source {meta['source_id']}"
            assert meta["content_sha256"] == source["metadata"]["content_sha256"], f"stale {kind} row {row['id']}"
            assert source["document"][meta["start"] : meta["end"]] == row["document"]
            per_source[meta["source_id"]] += 1
        assert dict(per_source) == {sid: s["metadata"][count_key] for sid, s in sources.items()}
    return got
