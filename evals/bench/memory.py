"""What one answering process keeps in memory per chunk of the index, measured at several sizes.

  python -m evals.bench.memory [--chunks 1000 10000 100000] [--out FILE]

Every serving process holds an in-memory snapshot of the index (rag/snapshot.py): the sentence
and chunk vectors, each sentence's terms and entities, the BM25 table and the term statistics.
This builds that snapshot the way `load_snapshot` does (`SentenceRow.of`, `IndexSnapshot`), from
the rows ingest would store for the benchmark text of `evals.bench.ingest` (cleaned, structured
and chunked for real; each copy of the document a source of its own, its strings copies, so none
is shared), with random unit vectors of the model's dimension in place of embeddings and no
entities (spaCy's annotation is left out: it would take minutes per size). Chroma is not
involved: this is the reader's footprint, not the store's. Reports the bytes Python allocated
for the snapshot (tracemalloc) per chunk at each size; a footprint that grows linearly shows a
flat per-chunk figure, so each row sets a size's KB per chunk against the smallest size's (flat:
1.0). Running time on 2 cores, under a load average of 3 to 4 from other work: 9 minutes at
1k, 10k and 100k chunks (`make bench`), 80 s at 1k and 10k (`--quick`).
"""

from __future__ import annotations

import gc
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench import BenchPart, BenchRow, finish, parser

DIMENSION = 384  # all-MiniLM-L6-v2's vectors


def document_rows(megabytes: float) -> tuple[Any, list[Any], list[Any]]:
    """One prepared benchmark document and its stored rows (no entities)."""
    from evals.bench.ingest import build_text
    from ingest.pipeline import prepare_document, stored_rows
    from rag.embeddings import MiniLMEmbeddings
    from rag.language import SentenceFacts
    from rag.settings import get_settings

    settings = get_settings()
    counter = MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size).token_counter()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        path = Path(tmp, "large.txt")
        path.write_text(build_text(megabytes), encoding="utf-8")
        document = prepare_document(path, path.parent, settings.model_copy(update={"max_file_bytes": 10**9}), counter)
    facts = [SentenceFacts() for _ in document.chunked.sentences]
    chunks, sentences = stored_rows("doc", "sha", document, facts)
    return document, chunks, sentences


def _copy(text: str) -> str:
    return (" " + text)[1:]  # a new string object, not a reference to the same one


def snapshot_of(n_chunks: int, document: Any, chunks: list[Any], sentences: list[Any]) -> Any:
    """A snapshot of `n_chunks` chunks: copies of the document, each its own source."""
    from dataclasses import replace

    from rag.snapshot import IndexSnapshot, SentenceRow
    from rag.store import IndexVersions, SourceRecord
    from rag.vocabulary import Vocabulary

    rng = np.random.default_rng(0)
    copies = -(-n_chunks // len(chunks))
    all_chunks: list[Any] = []
    rows: list[Any] = []
    sources: dict[str, Any] = {}
    vocabulary = Vocabulary()
    for copy in range(copies):
        source_id = f"doc-{copy}"
        sources[source_id] = SourceRecord(source_id, _copy(document.text), {"content_sha256": "sha", "title": "t"})
        all_chunks += [replace(c, source_id=source_id, text=_copy(c.text)) for c in chunks]
        rows += [
            SentenceRow.of(replace(s, source_id=source_id, text=_copy(s.text)), len(rows) + i, vocabulary)
            for i, s in enumerate(sentences)
        ]
    all_chunks = all_chunks[:n_chunks]
    last = {(c.source_id, c.last_sentence) for c in all_chunks}
    keep = max(i for i, r in enumerate(rows) if (r.source_id, r.index) in last) + 1
    rows = rows[:keep]

    def unit(count: int) -> np.ndarray:
        matrix = rng.standard_normal((count, DIMENSION)).astype(np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    return IndexSnapshot(
        IndexVersions("bench", "bench", DIMENSION),
        sources,
        all_chunks,
        rows,
        unit(len(rows)),
        unit(len(all_chunks)),
        vocabulary,
    )


def measure(sizes: list[int]) -> list[tuple[int, int, float, float]]:
    """(chunks, sentences, MB allocated for the snapshot, KB per chunk) at each size."""
    document, chunks, sentences = document_rows(1.0)
    out = []
    for size in sizes:
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        snapshot = snapshot_of(size, document, chunks, sentences)
        seconds = time.perf_counter() - started
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append((len(snapshot.chunks), len(snapshot.sentences), current / 1e6, current / 1e3 / len(snapshot.chunks)))
        print(f"  {size} chunks built in {seconds:.1f} s", flush=True)
        del snapshot
    return out


def rows(sizes: list[tuple[int, int, float, float]]) -> list[BenchRow]:
    """Each size's KB per chunk against the smallest size's."""
    smallest, _, _, base = sizes[0]
    return [
        BenchRow(f"snapshot KB per chunk at {chunks} chunks vs at {smallest} (flat: 1.0)", per_chunk, base, "KB")
        for chunks, _, _, per_chunk in sizes[1:]
    ]


def run(sizes: tuple[int, ...] = (1000, 10000, 100000)) -> BenchPart:
    measured = measure(sorted(sizes))
    setup = "snapshot of " + ", ".join(
        f"{chunks} chunks ({sentences} sentences): {megabytes:.1f} MB, {per_chunk:.2f} KB a chunk"
        for chunks, sentences, megabytes, per_chunk in measured
    )
    return BenchPart("memory", setup, rows(measured))


def main(argv: list[str] | None = None) -> int:
    cli = parser("memory", __doc__ or "")
    cli.add_argument("--chunks", type=int, nargs="+", default=[1000, 10000, 100000])
    args = cli.parse_args(argv)
    if any(size < 1 for size in args.chunks):
        cli.error(f"--chunks must be positive, got {args.chunks}")
    command = f"python -m evals.bench.memory --chunks {' '.join(map(str, args.chunks))}"
    return finish(args, command, lambda: run(tuple(args.chunks)))


if __name__ == "__main__":
    raise SystemExit(main())
