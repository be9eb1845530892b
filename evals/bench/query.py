"""Query benchmark: a full cited answer against a plain LangChain similarity search, on
questions each system sees for the first time.

  python -m evals.bench.query [--out FILE]

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
falls on all of them. Rows: p50 and p95 of each of ours against the baseline's (target for the
default encoder: no slower, ratio 1.0). Running time on 2 cores: about 50 s under a load average
of 3.4 (`--quick` runs it as it is).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evals.bench import QUERY, BenchPart, BenchRow, finish, parser

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.settings import Settings

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


BASELINE = "Chroma.similarity_search(k=4)"
TORCH = "cited answer (torch encoder)"


def bare_store(settings: Settings, embeddings: Embeddings | None = None) -> Any:
    """The baseline of every latency benchmark: LangChain's `Chroma` over the published chunk
    collection, embedding with the same model through sentence-transformers (what LangChain's
    HuggingFaceEmbeddings does)."""
    from langchain_chroma import Chroma

    from rag.embeddings import MiniLMEmbeddings
    from rag.storage import open_client
    from rag.store import IndexReader

    reader = IndexReader(open_client(settings, for_reading=True), settings.collection)
    reader.open()
    return Chroma(
        collection_name=reader.name("chunks"),
        embedding_function=embeddings or MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size),
        client=reader.client,
        create_collection_if_not_exists=False,
    )


def systems() -> dict[str, Callable[[str], object]]:
    """The three ways of asking, each with its own model instance and caches."""
    from rag.factory import load_answerer
    from rag.settings import get_settings

    settings = get_settings()
    ours = load_answerer(settings.model_copy(update={"answerer": "extractive"}))
    with_torch = load_answerer(settings.model_copy(update={"answerer": "extractive", "query_encoder": "torch"}))
    store = bare_store(settings)
    return {
        f"cited answer ({type(ours.embeddings).__name__})": ours.answer,
        TORCH: with_torch.answer,
        BASELINE: lambda q: store.similarity_search(q, k=4),
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


def rows(timings: dict[str, list[float]]) -> list[BenchRow]:
    """p50 and p95 of each of ours against the baseline's; the default encoder carries the target."""
    baseline = timings[BASELINE]
    out = []
    for name, values in timings.items():
        if name == BASELINE:
            continue
        target = None if name == TORCH else QUERY
        out += [
            BenchRow(f"{name} p50 vs {BASELINE}", statistics.median(values), statistics.median(baseline), "ms", target),
            BenchRow(f"{name} p95 vs {BASELINE}", percentile(values, 0.95), percentile(baseline, 0.95), "ms", target),
        ]
    return out


def run() -> BenchPart:
    questions = shipped_questions()
    return BenchPart("query", f"{len(questions)} first-time questions", rows(measure(questions)))


def main(argv: list[str] | None = None) -> int:
    args = parser("query", __doc__ or "").parse_args(argv)
    return finish(args, "python -m evals.bench.query", run)


if __name__ == "__main__":
    raise SystemExit(main())
