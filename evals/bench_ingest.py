"""Ingest benchmark against the encoder limit, measured side by side in one run.

  python -m evals.bench_ingest [--megabytes 5] [--out evals/bench_results.md]

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

Prints a table of our figure, the baseline and their ratio, and writes it, with a line that
describes the machine, to `--out`. It reports; it does not judge (no thresholds).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "evals" / "bench_results.md"
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


def measure(megabytes: float) -> list[tuple[str, str, str, str]]:
    """The benchmark's rows: (what, ours, baseline, ratio)."""
    from sentence_transformers import SentenceTransformer

    from ingest.pipeline import ingest_paths
    from rag.embeddings import MiniLMEmbeddings, packaged_model_path
    from rag.language import load_language
    from rag.settings import get_settings

    base = get_settings()
    embeddings = MiniLMEmbeddings(base.embedding_model_path, base.embed_batch_size)
    bare = SentenceTransformer(str(base.embedding_model_path or packaged_model_path()), device="cpu")
    nlp = load_language(full=False)
    rows: list[tuple[str, str, str, str]] = []
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
        chunks = whole["chunk_texts"]
        everything = chunks + whole["sentence_texts"]
        chunks_s = bare_encode(bare, chunks, base.embed_batch_size)
        all_s = bare_encode(bare, everything, base.embed_batch_size)
        encode_s, _ = timed(lambda: embeddings.encode(everything))
    n = summary.chunks_written
    size = f"{len(text.encode('utf-8')) / 1e6:.1f} MB, {n} chunks, {len(whole['sentence_texts'])} sentences"
    rows.append(("file", size, "", ""))
    rows.append(_ratio("ingest chunks/s vs bare encode of the chunks", n / full_s, len(chunks) / chunks_s))
    rows.append(_ratio("ingest chunks/s vs bare encode of chunks + sentences", n / full_s, n / all_s))
    for stage in ("prepare", "annotate"):
        rows.append(_ratio(f"{stage} s, whole file vs half (linear: 2.0)", whole[stage], halved[stage], "s"))
    rows.append(_ratio("encode s (our embedder) vs bare encode, chunks + sentences", encode_s, all_s, "s"))
    rows.append(_ratio("share of ingest: prepare / annotate / encode", *_shares(whole, encode_s, full_s)))
    rows.append(_ratio("re-ingest unchanged s vs full ingest s (target < 0.05)", again_s, full_s, "s"))
    return rows


def _shares(whole: dict[str, Any], encode_s: float, full_s: float) -> tuple[str, str, str]:
    parts = [whole["prepare"] / full_s, whole["annotate"] / full_s, encode_s / full_s]
    return " / ".join(f"{p:.2f}" for p in parts), f"{full_s:.1f} s total", ""


def _ratio(what: str, ours: Any, baseline: Any, unit: str = "/s") -> tuple[str, str, str, str]:
    if isinstance(ours, str):
        return what, ours, str(baseline), ""
    shown = (lambda v: f"{v:.2f} s") if unit == "s" else (lambda v: f"{v:.1f}")
    return what, shown(ours), shown(baseline), f"{ours / baseline:.3f}" if baseline else "n/a"


def render(rows: list[tuple[str, str, str, str]], megabytes: float) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "# Ingest benchmark",
        "",
        f"`python -m evals.bench_ingest --megabytes {megabytes:g}` on {time.strftime('%Y-%m-%d')}; {machine}.",
        "",
        "| measure | ours | baseline | ratio |",
        "|---|---|---|---|",
        *(f"| {what} | {ours} | {base} | {ratio} |" for what, ours, base, ratio in rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.bench_ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=float, default=5.0, help="size of the large file (default 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the table")
    args = parser.parse_args(argv)
    if args.megabytes <= 0:
        parser.error("--megabytes must be positive")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = render(measure(args.megabytes), args.megabytes)
    print(report)
    args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
