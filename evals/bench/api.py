"""Latency benchmark of the HTTP service against an in-process baseline, measured in one run.

  python -m evals.bench.api [--requests 200] [--clients 1 8] [--out FILE]

Starts `qa serve` on a free port as a separate process (the index in QA_DATA_DIR must exist),
warms it, then sends POST /v1/ask from N client threads. The baseline is the same questions
through a plain LangChain `Chroma.similarity_search` in this process, with the same model and
collection. Rows at each number of clients: p50/p95 latency and requests per second against the
baseline's, and the errors (target: none). Running time on 2 cores: 40 to 65 s (measured under
load averages of 1.8 to 3.4 from other work), most of it the server's start and the warm-up, so
`--quick` runs it as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from evals.bench import NO_ERRORS, BenchPart, BenchRow, finish, parser
from evals.bench.query import bare_store
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
    store = bare_store(settings)

    def search(question: str) -> None:
        store.similarity_search(question, k=settings.top_k)

    return search


BASELINE = "in-process similarity_search"


def rows(loads: dict[int, tuple[dict[str, float], dict[str, float]]]) -> list[BenchRow]:
    """At each number of clients, (api, baseline) load figures -> latency, throughput and errors."""
    out = []
    for clients, (api, base) in loads.items():
        at = f"/v1/ask, {clients} client{'s' if clients > 1 else ''}"
        out += [
            BenchRow(f"{at}: p50 vs {BASELINE}", api["p50_ms"], base["p50_ms"], "ms"),
            BenchRow(f"{at}: p95 vs {BASELINE}", api["p95_ms"], base["p95_ms"], "ms"),
            BenchRow(f"{at}: requests/s vs {BASELINE}", api["rps"], base["rps"], "req/s"),
            BenchRow(f"{at}: errors vs {BASELINE}", api["errors"], base["errors"], "errors", NO_ERRORS),
        ]
    return out


def measure(requests: int, clients: list[int]) -> dict[int, tuple[dict[str, float], dict[str, float]]]:
    """`qa serve` in its own process and the baseline in this one, warmed, then under load."""
    import httpx

    from rag.settings import get_settings

    settings = get_settings()
    questions = [item.question for item in load_items(DEFAULT_PATH)]
    server, base = _start_server(settings)
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"} if settings.api_key else {}
    try:
        if not wait_until_up(f"{base}/healthz", server, 120):
            raise RuntimeError("the server did not start (run `qa ingest` first)")
        client = httpx.Client(base_url=base, headers=headers, timeout=30)

        def ask(question: str) -> None:
            client.post("/v1/ask", json={"question": question}).raise_for_status()

        baseline = _baseline(settings)
        for question in questions:  # warm: every question once on both sides, so no run pays first-time costs
            ask(question)
            baseline(question)
        return {
            n: (_run_load(ask, questions, n, requests), _run_load(baseline, questions, n, requests)) for n in clients
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(requests: int = 200, clients: tuple[int, ...] = (1, 8)) -> BenchPart:
    setup = f"{requests} requests at each of {', '.join(map(str, clients))} concurrent clients, after a warm-up"
    return BenchPart("api", setup, rows(measure(requests, list(clients))))


def main(argv: list[str] | None = None) -> int:
    cli = parser("api", __doc__ or "")
    cli.add_argument("--requests", type=int, default=200)
    cli.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = cli.parse_args(argv)
    if args.requests < 1 or min(args.clients) < 1:
        cli.error(f"--requests and --clients must be positive, got {args.requests} and {args.clients}")
    command = f"python -m evals.bench.api --requests {args.requests} --clients {' '.join(map(str, args.clients))}"
    return finish(args, command, lambda: run(args.requests, tuple(args.clients)))


if __name__ == "__main__":
    sys.exit(main())
