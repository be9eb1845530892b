"""Query benchmark: a full cited answer against a plain LangChain similarity search, on
questions each system sees for the first time.

  python -m evals.bench_query [--out evals/bench_query_results.md]

Over the index of the configured corpus (run `qa ingest` first), in one process:
- ours: `load_answerer` as `qa serve` builds it (QA_QUERY_ENCODER's default, the ONNX encoder),
  answering each question in full (retrieval, evidence, citations checked as exact spans);
- ours with the torch encoder (QA_QUERY_ENCODER=torch), to show what the encoder costs;
- the baseline: `langchain_chroma.Chroma.similarity_search(question, k=4)` on the same chunk
  collection, embedding with the same model through sentence-transformers (what LangChain's
  HuggingFaceEmbeddings does).

The questions are every question of the eval sets on the shipped subject, each asked once per
system, so no answer and no question vector comes from a cache; a few other questions warm each
system up first. The systems take turns question by question, so a busy moment of the machine
falls on all of them. Writes the table, with a line that describes the machine, to `--out`. It
reports; it does not judge (no thresholds).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "evals" / "bench_query_results.md"
WARM_UP = ("What is this collection of documents about?", "Who wrote these texts?", "When was it published?")


def shipped_questions() -> list[str]:
    """Every distinct question of the eval sets whose subject is the configured corpus."""
    from evals.dataset import load_items
    from evals.suite import load_sets
    from rag.settings import get_settings

    corpus = get_settings().corpus_dir.resolve()
    questions: dict[str, None] = {}
    for question_set in load_sets():
        if question_set.corpus.resolve() == corpus:
            questions.update(dict.fromkeys(item.question for item in load_items(question_set.path)))
    return [q for q in questions if q not in WARM_UP]


def systems() -> dict[str, Callable[[str], object]]:
    """The three ways of asking, each with its own model instance and caches."""
    from langchain_chroma import Chroma

    from rag.embeddings import MiniLMEmbeddings
    from rag.factory import load_answerer
    from rag.settings import get_settings
    from rag.storage import open_client
    from rag.store import IndexReader

    settings = get_settings()
    ours = load_answerer(settings.model_copy(update={"answerer": "extractive"}))
    with_torch = load_answerer(settings.model_copy(update={"answerer": "extractive", "query_encoder": "torch"}))
    reader = IndexReader(open_client(settings, for_reading=True), settings.collection)
    reader.open()
    store = Chroma(
        collection_name=reader.name("chunks"),
        embedding_function=MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size),
        client=reader.client,
        create_collection_if_not_exists=False,
    )
    return {
        f"ours: cited answer ({type(ours.embeddings).__name__})": ours.answer,
        "ours: cited answer (torch encoder)": with_torch.answer,
        "baseline: Chroma.similarity_search(k=4)": lambda q: store.similarity_search(q, k=4),
    }


def measure(questions: list[str]) -> dict[str, list[float]]:
    runs = systems()
    for ask in runs.values():
        for question in WARM_UP:
            ask(question)
    timings: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for number, question in enumerate(questions):
        for name in names[number % len(names) :] + names[: number % len(names)]:  # take turns going first
            begin = time.perf_counter()
            runs[name](question)
            timings[name].append((time.perf_counter() - begin) * 1000)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def render(timings: dict[str, list[float]], count: int) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    baseline = timings[next(name for name in timings if name.startswith("baseline"))]
    base50, base95 = statistics.median(baseline), percentile(baseline, 0.95)
    lines = [
        "# Query benchmark",
        "",
        f"`python -m evals.bench_query` on {time.strftime('%Y-%m-%d')}; {machine}; {count} first-time questions.",
        "",
        "| system | p50 ms | p95 ms | p50 ratio to baseline | p95 ratio to baseline |",
        "|---|---|---|---|---|",
    ]
    for name, values in timings.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        lines.append(f"| {name} | {p50:.1f} | {p95:.1f} | {p50 / base50:.2f} | {p95 / base95:.2f} |")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.bench_query", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the table")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    questions = shipped_questions()
    report = render(measure(questions), len(questions))
    print(report)
    args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
