"""Scale benchmark: ingest, a new worker's start-up and memory, and query latency at 1k, 10k
and 100k chunks, each against a baseline measured in the same run.

  python -m evals.bench.scale [--chunks 1000 10000 100000] [--out FILE]

The index grows by copies of one benchmark file (`evals.bench.ingest.build_text`: the
repository's own corpus texts, with a paragraph dense in abbreviations), each copy a file, so a
source, of its own. Everything `qa ingest` does runs for every copy (load, clean, structure,
chunk, write to Chroma with its HNSW insert, publish), except the model work: spaCy's annotation
and MiniLM's encoding run for real on the first copy, and the other copies, whose texts are the
same, reuse those results text for text. Encoding 60 MB takes hours on 2 cores; what it costs
per chunk is what `evals.bench.ingest` measures against the bare encoder. So the ingest row here
shows how the rest of ingest holds up as the index grows (a linear ingest keeps its chunks/s).

At each size, a fresh process does what a new API worker does, then asks:
- start-up: `load_answerer` (read the store, build the in-memory snapshot and BM25), in seconds,
  and the resident memory it adds (VmRSS after it, less VmRSS before it, the models and
  libraries being loaded already); per chunk, what each size adds over the size before it (the
  smallest carries the fixed part: Chroma's caches, the ONNX session's buffers);
- query: the shipped subject's eval questions, each asked once (first-time questions), a full
  cited answer against the baseline `langchain_chroma.Chroma.similarity_search(k=4)` on the same
  chunk collection with the same model run by sentence-transformers, the two taking turns.

Rows: at each size the answer's p50 and p95 against the bare search (target at 100k chunks: p50
under 50 ms); past the smallest size, ingest's chunks/s, the worker's start-up and its memory
against the smallest size's. Running time on 2 cores: 5 to 7 minutes at 1k and 10k chunks
(`--quick`, under load averages of 1.6 to 4.4 from other work); the 100k step alone takes 40
minutes or more (`make bench`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench import AT_100K_P50_MS, BenchPart, BenchRow, finish, parser
from evals.bench.query import WARM_UP, bare_store, percentile

REPO = Path(__file__).resolve().parents[2]
COPY_MEGABYTES = 0.6  # one copy of the benchmark text: about a thousand chunks


def reused_model_work(settings: Any) -> Any:
    """Ingest's model work, done for real once per distinct text and then reused."""
    from ingest.pipeline import LazyEmbedder
    from rag.embeddings import MiniLMEmbeddings

    class ReusedEncoding(MiniLMEmbeddings):
        def __init__(self) -> None:
            super().__init__(settings.embedding_model_path, settings.embed_batch_size)
            self.memo: dict[str, np.ndarray] = {}

        def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
            if missing := [t for t in dict.fromkeys(texts) if t not in self.memo]:
                self.memo.update(zip(missing, super().encode(missing), strict=True))
            return np.vstack([self.memo[t] for t in texts])

    class ReusedModelWork(LazyEmbedder):
        def __init__(self) -> None:
            super().__init__(settings, ReusedEncoding)
            self.facts: dict[str, Any] = {}

        def annotate(self, texts: Sequence[str]) -> list[Any]:
            if missing := [t for t in dict.fromkeys(texts) if t not in self.facts]:
                self.facts.update(zip(missing, super().annotate(missing), strict=True))
            return [self.facts[t] for t in texts]

    return ReusedModelWork()


def grow(settings: Any, model_work: Any) -> tuple[int, int, float]:
    """Ingest what the corpus folder holds that the index lacks, as `qa ingest` does, with the
    model work given. Returns (chunks written, chunks in the index, seconds)."""
    from ingest.index import IndexWriter
    from ingest.load import discover
    from ingest.pipeline import IngestRun, index_versions, ingest_lock
    from rag.storage import open_client

    started = time.perf_counter()
    with ingest_lock(settings):
        writer = IndexWriter(open_client(settings), settings.collection)
        run = IngestRun(settings, writer, model_work, None)
        writer.open_for_writing(index_versions(settings), False)
        for planned in run.plan(discover([settings.corpus_dir], settings.corpus_dir, on_skip=run.fail)):
            run.ingest(planned)
        run.finish([settings.corpus_dir.resolve()])
        writer.publish()
    if run.summary.failed:
        raise RuntimeError(f"ingest failed: {run.summary.failed}")
    return run.summary.chunks_written, run.summary.chunks_total, time.perf_counter() - started


def resident_bytes() -> int:
    """This process's resident memory (VmRSS; Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def worker(data_dir: Path, corpus_dir: Path, questions: list[str]) -> dict[str, Any]:
    """What a new worker costs and how fast it answers, against the bare similarity search."""
    import langchain_chroma  # noqa: F401 - loaded before the memory is read, like the models

    from rag.embeddings import MiniLMEmbeddings
    from rag.factory import load_answerer, query_encoder
    from rag.settings import get_settings

    settings = get_settings().model_copy(
        update={"data_dir": data_dir, "corpus_dir": corpus_dir, "answerer": "extractive"}
    )
    encoder = query_encoder(settings)
    bare_model = MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size)
    before = resident_bytes()
    started = time.perf_counter()
    answerer = load_answerer(settings, embeddings=encoder)
    startup = time.perf_counter() - started
    added = resident_bytes() - before
    store = bare_store(settings, bare_model)
    runs: dict[str, Callable[[str], object]] = {
        "ours": answerer.answer,
        "baseline": lambda q: store.similarity_search(q, k=4),
    }
    for ask in runs.values():
        for question in WARM_UP:
            ask(question)
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for number, question in enumerate(questions):
        for name in sorted(runs, reverse=bool(number % 2)):  # take turns going first
            begin = time.perf_counter()
            runs[name](question)
            timings[name].append((time.perf_counter() - begin) * 1000)
    return {"startup_s": startup, "added_bytes": added, "timings": timings}


def measure(sizes: list[int]) -> list[dict[str, Any]]:
    """One row per size: chunks, ingest chunks/s of the copies added for it, the worker's figures."""
    from evals.bench.ingest import build_text
    from evals.bench.query import shipped_questions
    from rag.settings import get_settings

    questions = shipped_questions()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        text = build_text(COPY_MEGABYTES)
        questions_file = Path(tmp, "questions.json")
        questions_file.write_text(json.dumps(questions), encoding="utf-8")
        base = get_settings()
        # The model work, for real, once: a scratch index of one copy.
        scratch = base.model_copy(update={"corpus_dir": Path(tmp, "scratch"), "data_dir": Path(tmp, "scratch-data")})
        scratch.corpus_dir.mkdir()
        Path(scratch.corpus_dir, "copy.txt").write_text(text, encoding="utf-8")
        model_work = reused_model_work(scratch)
        per_copy, _, model_seconds = grow(scratch, model_work)
        print(f"  one copy: {per_copy} chunks, with the model work, in {model_seconds:.1f} s", flush=True)
        settings = base.model_copy(update={"corpus_dir": Path(tmp, "corpus"), "data_dir": Path(tmp, "data")})
        settings.corpus_dir.mkdir()
        copies = 0
        for size in sizes:
            while copies < max(1, round(size / per_copy)):
                copies += 1
                Path(settings.corpus_dir, f"copy-{copies:04d}.txt").write_text(text, encoding="utf-8")
            written, total, seconds = grow(settings, model_work)
            print(f"  {total} chunks ({copies} copies): {written} written in {seconds:.1f} s", flush=True)
            result = run_worker(settings.data_dir, settings.corpus_dir, questions_file)
            rows.append({"size": size, "chunks": total, "ingest_rate": written / seconds, **result})
            print(f"  {total} chunks: start-up {result['startup_s']:.1f} s", flush=True)
    return rows


def run_worker(data_dir: Path, corpus_dir: Path, questions_file: Path) -> dict[str, Any]:
    """`worker` in a fresh process, as a new API worker would start."""
    command = [sys.executable, "-m", "evals.bench.scale", "--worker", str(data_dir), str(corpus_dir)]
    done = subprocess.run(
        [*command, str(questions_file)], cwd=REPO, capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if done.returncode != 0:
        raise RuntimeError(f"the worker failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def rows(sizes: list[dict[str, Any]]) -> list[BenchRow]:
    """At each size, the answer against the bare search; past the smallest size, how ingest, the
    worker's start-up and its memory grew from the smallest (a linear one grows with the chunks)."""
    first, out = sizes[0], []
    for size in sizes:
        n, ours, bare = size["chunks"], size["timings"]["ours"], size["timings"]["baseline"]
        target = AT_100K_P50_MS if size["size"] >= 100_000 else None
        out += [
            BenchRow(
                f"{n} chunks: answer p50 vs bare search", statistics.median(ours), statistics.median(bare), "ms", target
            ),
            BenchRow(f"{n} chunks: answer p95 vs bare search", percentile(ours, 0.95), percentile(bare, 0.95), "ms"),
        ]
        if size is first:
            continue
        grown = f"vs at {first['chunks']} ({n / first['chunks']:.0f}x the chunks)"
        out += [
            BenchRow(
                f"{n} chunks: ingest without model work {grown}", size["ingest_rate"], first["ingest_rate"], "chunks/s"
            ),
            BenchRow(f"{n} chunks: worker start-up {grown}", size["startup_s"], first["startup_s"], "s"),
            BenchRow(
                f"{n} chunks: worker memory added {grown}", size["added_bytes"] / 1e6, first["added_bytes"] / 1e6, "MB"
            ),
        ]
    return out


def setup(sizes: list[dict[str, Any]]) -> str:
    """The sizes, the questions, the smallest size's figures and what each further chunk added."""
    first = sizes[0]
    further = [
        f"{(b['added_bytes'] - a['added_bytes']) / 1e3 / (b['chunks'] - a['chunks']):.1f} KB "
        f"({a['chunks']} to {b['chunks']})"
        for a, b in itertools.pairwise(sizes)
        if b["chunks"] > a["chunks"]
    ]
    return (
        f"{', '.join(str(s['chunks']) for s in sizes)} chunks (copies of {COPY_MEGABYTES} MB; model work reused after "
        f"the first), {len(first['timings']['ours'])} first-time questions at each; at {first['chunks']}: ingest "
        f"{first['ingest_rate']:.0f} chunks/s, worker start-up {first['startup_s']:.1f} s, memory added "
        f"{first['added_bytes'] / 1e6:.0f} MB" + (f"; memory per further chunk {', '.join(further)}" if further else "")
    )


def run(sizes: tuple[int, ...] = (1000, 10000, 100000)) -> BenchPart:
    measured = measure(sorted(sizes))
    return BenchPart("scale", setup(measured), rows(measured))


def main(argv: list[str] | None = None) -> int:
    cli = parser("scale", __doc__ or "")
    cli.add_argument("--chunks", type=int, nargs="+", default=[1000, 10000, 100000])
    cli.add_argument("--worker", nargs=3, metavar=("DATA", "CORPUS", "QUESTIONS"), help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        data, corpus, questions = (Path(p) for p in args.worker)
        print(json.dumps(worker(data, corpus, json.loads(questions.read_text(encoding="utf-8")))))
        return 0
    if any(size < 1 for size in args.chunks):
        cli.error(f"--chunks must be positive, got {args.chunks}")
    command = f"python -m evals.bench.scale --chunks {' '.join(map(str, args.chunks))}"
    return finish(args, command, lambda: run(tuple(args.chunks)))


if __name__ == "__main__":
    raise SystemExit(main())
