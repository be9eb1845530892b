"""Latency benchmark of the HTTP service against an in-process baseline, measured in one run.

  python -m evals.bench_api [--requests 200] [--clients 1 8]

Starts `qa serve` on a free port as a separate process (the index in QA_DATA_DIR must exist),
warms it, then sends POST /v1/ask from N client threads. The baseline is the same questions
through a plain LangChain `Chroma.similarity_search` in this process, with the same model and
collection. Prints p50/p95 latency, requests per second and errors for both, and the ratios.
No thresholds: this reports, it does not judge.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from evals.dataset import DEFAULT_PATH, load_items
from evals.metrics import percentile
from evals.processes import free_port, wait_until_up

if TYPE_CHECKING:
    from rag.settings import Settings


def _run_load(call, questions: list[str], clients: int, total: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    def one(i: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            call(questions[i % len(questions)])
        except Exception:  # noqa: BLE001 - a load test counts every failed request, whatever raised it
            errors += 1
            return
        latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(total)))
    elapsed = time.perf_counter() - started
    return {
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "rps": total / elapsed,
        "errors": errors,
    }


def _start_server(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    """`qa serve` on a free port as a separate process; returns it and its base URL."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    qa = Path(sys.executable).with_name("qa")
    command = [str(qa)] if qa.exists() else [sys.executable, "-m", "rag.cli"]
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return server, f"http://127.0.0.1:{port}"


def _baseline(settings: Settings) -> Callable[[str], None]:
    """A plain LangChain similarity search over the same collection with the same model."""
    from langchain_chroma import Chroma

    from rag.embeddings import MiniLMEmbeddings
    from rag.storage import open_client
    from rag.store import IndexReader

    embeddings = MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size)
    reader = IndexReader(open_client(settings), settings.collection)
    store = Chroma(
        collection_name=reader.name("chunks"),
        embedding_function=embeddings,
        client=reader.client,
        create_collection_if_not_exists=False,
    )

    def search(question: str) -> None:
        store.similarity_search(question, k=settings.top_k)

    return search


def _print_rows(clients: int, api: dict[str, float], base: dict[str, float]) -> None:
    for name, row in (("qa /v1/ask over HTTP", api), ("Chroma.similarity_search", base)):
        print(f"{clients:>7} {name:>28} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} {row['rps']:8.1f} {row['errors']:>6}")
    print(
        f"{clients:>7} {'ratio api/baseline':>28} {api['p50_ms'] / base['p50_ms']:8.2f} "
        f"{api['p95_ms'] / base['p95_ms']:8.2f} {api['rps'] / base['rps']:8.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    import httpx

    from rag.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m evals.bench_api", description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    settings = get_settings()
    questions = [item.question for item in load_items(DEFAULT_PATH)]
    server, base = _start_server(settings)
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"} if settings.api_key else {}
    try:
        if not wait_until_up(f"{base}/healthz", server, 120):
            print("the server did not start", file=sys.stderr)
            return 1
        client = httpx.Client(base_url=base, headers=headers, timeout=30)

        def ask(question: str) -> None:
            client.post("/v1/ask", json={"question": question}).raise_for_status()

        baseline = _baseline(settings)
        for question in questions:  # warm: every question once on both sides, so no run pays first-time costs
            ask(question)
            baseline(question)
        print(f"{'clients':>7} {'system':>28} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'errors':>6}")
        for clients in args.clients:
            _print_rows(
                clients,
                _run_load(ask, questions, clients, args.requests),
                _run_load(baseline, questions, clients, args.requests),
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
