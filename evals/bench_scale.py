"""Scale benchmark: ingest, a new worker's start-up and memory, and query latency at 1k, 10k
and 100k chunks, each against a baseline measured in the same run.

  python -m evals.bench_scale [--chunks 1000 10000 100000] [--out evals/bench_scale_results.md]

The index grows by copies of one benchmark file (`evals.bench_ingest.build_text`: the
repository's own corpus texts, with a paragraph dense in abbreviations), each copy a file, so a
source, of its own. Everything `qa ingest` does runs for every copy (load, clean, structure,
chunk, write to Chroma with its HNSW insert, publish), except the model work: spaCy's annotation
and MiniLM's encoding run for real on the first copy, and the other copies, whose texts are the
same, reuse those results text for text. Encoding 60 MB takes hours on 2 cores; what it costs
per chunk is what `evals.bench_ingest` measures against the bare encoder. So the ingest row here
shows how the rest of ingest holds up as the index grows (a linear ingest keeps its chunks/s).

At each size, a fresh process does what a new API worker does, then asks:
- start-up: `load_answerer` (read the store, build the in-memory snapshot and BM25), in seconds,
  and the resident memory it adds (VmRSS after it, less VmRSS before it, the models and
  libraries being loaded already); per chunk, what each size adds over the size before it (the
  smallest carries the fixed part: Chroma's caches, the ONNX session's buffers);
- query: the shipped subject's eval questions, each asked once (first-time questions), a full
  cited answer against the baseline `langchain_chroma.Chroma.similarity_search(k=4)` on the same
  chunk collection with the same model run by sentence-transformers, the two taking turns.

Writes the table, with a line that describes the machine, to `--out`. It reports; it does not
judge (no thresholds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench_query import WARM_UP, percentile

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "evals" / "bench_scale_results.md"
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
    import langchain_chroma  # loaded before the memory is read, like the models

    from rag.embeddings import MiniLMEmbeddings
    from rag.factory import load_answerer, query_encoder
    from rag.settings import get_settings
    from rag.storage import open_client
    from rag.store import IndexReader

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
    reader = IndexReader(open_client(settings, for_reading=True), settings.collection)
    reader.open()
    store = langchain_chroma.Chroma(
        collection_name=reader.name("chunks"),
        embedding_function=bare_model,
        client=reader.client,
        create_collection_if_not_exists=False,
    )
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
    from evals.bench_ingest import build_text
    from evals.bench_query import shipped_questions
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
            rows.append({"chunks": total, "copies": copies, "ingest_rate": written / seconds, **result})
            print(f"  {total} chunks: start-up {result['startup_s']:.1f} s", flush=True)
    return rows


def run_worker(data_dir: Path, corpus_dir: Path, questions_file: Path) -> dict[str, Any]:
    """`worker` in a fresh process, as a new API worker would start."""
    command = [sys.executable, "-m", "evals.bench_scale", "--worker", str(data_dir), str(corpus_dir)]
    done = subprocess.run(
        [*command, str(questions_file)], cwd=REPO, capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if done.returncode != 0:
        raise RuntimeError(f"the worker failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def render(rows: list[dict[str, Any]], count: int) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "# Scale benchmark",
        "",
        f"`python -m evals.bench_scale` on {time.strftime('%Y-%m-%d')}; {machine}; "
        f"{count} first-time questions at each size.",
        "Ingest: copies of one file, model work reused after the first (see the module's docstring).",
        "",
        "| chunks | ingest chunks/s (no model work) | worker start-up s | worker memory MB | KB per chunk added "
        "| answer p50 / p95 ms | bare search p50 / p95 ms | ratio p50 / p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    previous: dict[str, Any] | None = None
    for row in rows:
        ours, bare = row["timings"]["ours"], row["timings"]["baseline"]
        o50, o95 = statistics.median(ours), percentile(ours, 0.95)
        b50, b95 = statistics.median(bare), percentile(bare, 0.95)
        # What each further chunk costs: the growth since the previous size (the first size
        # carries the fixed part, Chroma's caches and the like).
        grown = row["added_bytes"] - previous["added_bytes"] if previous else row["added_bytes"]
        more = row["chunks"] - previous["chunks"] if previous else row["chunks"]
        lines.append(
            f"| {row['chunks']} | {row['ingest_rate']:.0f} | {row['startup_s']:.1f} | {row['added_bytes'] / 1e6:.0f} "
            f"| {grown / 1e3 / more:.1f} | {o50:.1f} / {o95:.1f} | {b50:.1f} / {b95:.1f} "
            f"| {o50 / b50:.2f} / {o95 / b95:.2f} |"
        )
        previous = row
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.bench_scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the table")
    parser.add_argument("--worker", nargs=3, metavar=("DATA", "CORPUS", "QUESTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        data, corpus, questions = (Path(p) for p in args.worker)
        print(json.dumps(worker(data, corpus, json.loads(questions.read_text(encoding="utf-8")))))
        return 0
    if any(size < 1 for size in args.chunks):
        parser.error("--chunks must be positive")
    rows = measure(sorted(args.chunks))
    report = render(rows, len(rows[0]["timings"]["ours"]) if rows else 0)
    print(report)
    args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
