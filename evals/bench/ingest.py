"""Ingest benchmark against the encoder limit, measured side by side in one run.

  python -m evals.bench.ingest [--megabytes 5] [--out FILE]

Builds one large plain-text file (by default 5 MB) out of the repository's own corpus texts,
each copy under a numbered heading and with a paragraph dense in abbreviations ("Dr.", "U.S.",
"e.g.", "p.m."), so that sentence splitting meets what real documents hold. Then, with the model
and spaCy already loaded (start-up is not what is measured):

- end-to-end ingest (`ingest_paths`: load, clean, structure, chunk, annotate, embed, write) in
  chunks per second, against bare `SentenceTransformer.encode` of the same chunk texts (the
  baseline the scaling issue names), and of everything ingest embeds (chunks and sentences);
- each stage on its own: prepare (load, clean, structure, chunk), annotate (spaCy), encode;
- linearity: prepare and annotate on half the file and on all of it (a linear stage takes
  twice as long; 4.0 would be quadratic);
- incremental: the same ingest again with nothing changed, against the full one.

Rows: throughput against bare encoding (target: 0.85 of it), linearity, our embedder against
the bare one, and the unchanged re-ingest (target: under 0.05 of the full one). Prints them, with a
line that describes the machine (and writes them to `--out`). Running time on 2 cores: about
31 minutes at 5 MB (`make bench`; the sum of the stages of the 2026-12-01 run, an idle machine).
At 1 MB (`--quick`) it took 12 and 23 minutes under load averages of 3 and 3.5 from other work
(its full ingest two to three times as long per MB as the idle 5 MB run's).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.bench import ENCODER, INCREMENTAL, BenchPart, BenchRow, finish, parser

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MEGABYTES = 5.0
# Corpus texts the file is built from: the repository's own plain-text and Markdown sources.
SOURCE_GLOBS = ("corpus/*.txt", "evals/subjects/*/corpus/*.txt", "evals/subjects/*/corpus/*.md")
ABBREVIATIONS = (
    "On Jan. 3 at 5 p.m. Dr. A. B. Smith of the U.S. Navy met Mr. Jones, Ph.D., at No. 10 St. Paul St. "
    "in Washington, D.C., e.g. to sign approx. 12 vols. of the treaty, i.e. the text of art. 5, vs. "
    "the draft of Sept. 1952. Gen. Lee et al. arrived at 9 a.m. with Prof. Ng from the U.K."
)


def build_text(megabytes: float) -> str:
    """About `megabytes` of text: the source texts in turn, each under a numbered heading and
    followed by the abbreviation paragraph."""
    texts = [p.read_text(encoding="utf-8") for pattern in SOURCE_GLOBS for p in sorted(REPO.glob(pattern))]
    texts = [t.strip() for t in texts if t.strip()]
    target = int(megabytes * 1_000_000)
    parts, size, copy = ["Ingest benchmark text\n"], 0, 0
    while size < target:
        body = f"{copy + 1}. Part {copy + 1}\n\n{texts[copy % len(texts)]}\n\n{ABBREVIATIONS}\n"
        parts.append(body)
        size += len(body.encode("utf-8"))
        copy += 1
    return "\n".join(parts)


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def stage_times(path: Path, settings: Any, embeddings: Any, nlp: Any) -> dict[str, Any]:
    """Each stage of ingest on one file, timed on its own."""
    from ingest.pipeline import chunk_embedding_text, prepare_document
    from rag.language import annotate_sentences

    counter = embeddings.token_counter()
    prepare_s, document = timed(lambda: prepare_document(path, path.parent, settings, counter))
    texts = [r.sentence.text for r in document.chunked.sentences]
    annotate_s, _ = timed(lambda: annotate_sentences(nlp, texts))
    title = str(document.metadata.get("title") or path.stem)
    chunk_texts = [chunk_embedding_text(c, title) for c in document.chunked.chunks]
    return {"prepare": prepare_s, "annotate": annotate_s, "chunk_texts": chunk_texts, "sentence_texts": texts}


def bare_encode(model: Any, texts: list[str], batch_size: int) -> float:
    """Seconds for plain SentenceTransformer.encode of `texts`."""
    seconds, _ = timed(lambda: model.encode(texts, batch_size=batch_size, show_progress_bar=False))
    return seconds


@dataclass(frozen=True)
class IngestTimes:
    """What one run measured, in seconds unless named otherwise."""

    megabytes: float
    chunks: int  # written by ingest
    chunk_texts: int  # encoded by the bare baseline (the same chunks, taken from the stages)
    sentences: int
    full: float  # ingest_paths, end to end
    again: float  # the same ingest with nothing changed
    prepare: tuple[float, float]  # (whole file, half of it)
    annotate: tuple[float, float]
    encode: float  # our embedder, chunks + sentences
    bare_chunks: float  # bare SentenceTransformer.encode of the chunk texts
    bare_all: float  # ... of chunks + sentences


def measure(megabytes: float) -> IngestTimes:
    """Ingest the benchmark file end to end, then each stage on its own, then bare encoding."""
    from sentence_transformers import SentenceTransformer

    from ingest.pipeline import ingest_paths
    from rag.embeddings import MiniLMEmbeddings, packaged_model_path
    from rag.language import load_language
    from rag.settings import get_settings

    base = get_settings()
    embeddings = MiniLMEmbeddings(base.embedding_model_path, base.embed_batch_size)
    bare = SentenceTransformer(str(base.embedding_model_path or packaged_model_path()), device="cpu")
    nlp = load_language(full=False)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        corpus, half_dir = Path(tmp, "corpus"), Path(tmp, "half")
        corpus.mkdir()
        half_dir.mkdir()
        text = build_text(megabytes)
        big, half = corpus / "large.txt", half_dir / "large.txt"
        big.write_text(text, encoding="utf-8")
        half.write_text(text[: len(text) // 2], encoding="utf-8")
        settings = base.model_copy(
            update={"corpus_dir": corpus, "data_dir": Path(tmp, "data"), "max_file_bytes": 4 * len(text) + 1}
        )

        def ingest() -> Any:
            return ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)

        full_s, summary = timed(ingest)
        again_s, _ = timed(ingest)
        whole = stage_times(big, settings, embeddings, nlp)
        halved = stage_times(half, settings, embeddings, nlp)
        everything = whole["chunk_texts"] + whole["sentence_texts"]
        bare_chunks = bare_encode(bare, whole["chunk_texts"], base.embed_batch_size)
        bare_all = bare_encode(bare, everything, base.embed_batch_size)
        encode_s, _ = timed(lambda: embeddings.encode(everything))
    return IngestTimes(
        megabytes=len(text.encode("utf-8")) / 1e6,
        chunks=summary.chunks_written,
        chunk_texts=len(whole["chunk_texts"]),
        sentences=len(whole["sentence_texts"]),
        full=full_s,
        again=again_s,
        prepare=(whole["prepare"], halved["prepare"]),
        annotate=(whole["annotate"], halved["annotate"]),
        encode=encode_s,
        bare_chunks=bare_chunks,
        bare_all=bare_all,
    )


def rows(times: IngestTimes) -> list[BenchRow]:
    """The measured rows: throughput against bare encoding, linearity, the encoder, re-ingest."""
    n, bare = times.chunks, times.chunk_texts / times.bare_chunks
    return [
        BenchRow("ingest chunks/s vs bare encode of the chunks", n / times.full, bare, "chunks/s", ENCODER),
        BenchRow(
            "ingest chunks/s vs bare encode of chunks + sentences", n / times.full, n / times.bare_all, "chunks/s"
        ),
        BenchRow("prepare, whole file vs half (linear: 2.0)", *times.prepare, "s"),
        BenchRow("annotate (spaCy), whole file vs half (linear: 2.0)", *times.annotate, "s"),
        BenchRow("encode chunks + sentences: our embedder vs bare encode", times.encode, times.bare_all, "s"),
        BenchRow("re-ingest unchanged vs full ingest", times.again, times.full, "s", INCREMENTAL),
    ]


def setup(times: IngestTimes) -> str:
    shares = (times.prepare[0] / times.full, times.annotate[0] / times.full, times.encode / times.full)
    return (
        f"{times.megabytes:.2f} MB, {times.chunks} chunks, {times.sentences} sentences; "
        f"full ingest {times.full:.1f} s, of which prepare / annotate / encode "
        + " / ".join(f"{share:.2f}" for share in shares)
    )


def run(megabytes: float = DEFAULT_MEGABYTES) -> BenchPart:
    times = measure(megabytes)
    return BenchPart("ingest", setup(times), rows(times))


def main(argv: list[str] | None = None) -> int:
    cli = parser("ingest", __doc__ or "")
    cli.add_argument("--megabytes", type=float, default=DEFAULT_MEGABYTES, help="size of the large file (default 5)")
    args = cli.parse_args(argv)
    if args.megabytes <= 0:
        cli.error("--megabytes must be positive")
    return finish(args, f"python -m evals.bench.ingest --megabytes {args.megabytes:g}", lambda: run(args.megabytes))


if __name__ == "__main__":
    raise SystemExit(main())
