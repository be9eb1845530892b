"""A bounded soak of `qa serve`: N concurrent clients for a fixed time against a real server process
on loopback, mixing the ways in (our JSON API, its stream, the OpenAI-compatible chat completions,
streamed and not, with history) with bad requests (malformed JSON, an empty or oversized question,
an unknown field, a wrong type, history at the limit and over it).

  python -m evals.soak [--clients 16] [--seconds 180]

Reports requests and errors per kind (a 5xx, or a bad request not answered with a 4xx JSON
error, or a good one not answered 200, is an error), p50/p95/p99 latency, and the server's
resident memory at the start and the end (from /proc), to catch leaks. Reports, does not judge:
tests/api/test_soak.py runs a short soak and asserts zero errors. The index in QA_DATA_DIR must
exist (`qa ingest`).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from evals.bench.api import _start_server
from evals.metrics import percentile
from evals.processes import wait_until_up

QUESTIONS = (
    "How many American troops are stationed in South Korea?",
    "When did Finland join NATO?",
    "What is the Israel model?",
    "What did the Budapest Memorandum promise Ukraine?",
    "Which countries signed bilateral security agreements with Ukraine in 2024?",
    "What is a good recipe for pancakes?",
)


@dataclass
class Tally:
    """What the clients saw, per kind of request."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, ok: bool, seconds: float, detail: str) -> None:
        with self.lock:
            self.requests[kind] += 1
            self.latencies.append(seconds * 1000)
            if not ok:
                self.errors[kind] += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{kind}: {detail}")


def _json_error(response: httpx.Response) -> bool:
    return 400 <= response.status_code < 500 and response.headers.get("content-type", "").startswith("application/json")


def _good(response: httpx.Response) -> bool:
    return response.status_code == 200


def requests_mix(
    max_chars: int, max_turns: int
) -> list[tuple[str, Callable[[httpx.Client, random.Random], httpx.Response], bool]]:
    """(kind, how to send it, whether it is a good request)."""

    def ask(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.post("/v1/ask", json={"question": rng.choice(QUESTIONS)})

    def ask_stream(client: httpx.Client, rng: random.Random) -> httpx.Response:
        with client.stream("POST", "/v1/ask/stream", json={"question": rng.choice(QUESTIONS)}) as response:
            response.read()
            return response

    def chat(client: httpx.Client, rng: random.Random) -> httpx.Response:
        history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": "About 28,000."}]
        messages = [*history, {"role": "user", "content": rng.choice(QUESTIONS)}]
        return client.post("/v1/chat/completions", json={"model": "any", "messages": messages})

    def chat_stream(client: httpx.Client, rng: random.Random) -> httpx.Response:
        body = {"model": "any", "stream": True, "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}]}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            response.read()
            return response

    def malformed(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.post("/v1/ask", content=b'{"question": "When', headers={"content-type": "application/json"})

    def empty(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.post("/v1/ask", json={"question": "   "})

    def oversized(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.post("/v1/ask", json={"question": "why " * (max_chars // 2)})

    def unknown_field(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.post("/v1/ask", json={"question": QUESTIONS[1], "topk": 3})

    def wrong_type(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.post("/v1/ask", json={"question": ["not", "a", "string"]})

    def long_history(client: httpx.Client, rng: random.Random) -> httpx.Response:
        turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": "and then?"} for i in range(max_turns + 1)]
        return client.post("/v1/ask", json={"question": QUESTIONS[1], "history": turns})

    return [
        ("ask", ask, True),
        ("ask stream", ask_stream, True),
        ("chat completions", chat, True),
        ("chat completions stream", chat_stream, True),
        ("bad: malformed JSON", malformed, False),
        ("bad: empty question", empty, False),
        ("bad: oversized question", oversized, False),
        ("bad: unknown field", unknown_field, False),
        ("bad: wrong type", wrong_type, False),
        ("bad: history over the limit", long_history, False),
    ]


def resident_mb(pid: int) -> float:
    """The process's resident set (VmRSS) in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def soak(base_url: str, clients: int, seconds: float, max_chars: int, max_turns: int, seed: int = 0) -> Tally:
    """Every client sends a random request of the mix, one after another, until time is up."""
    tally = Tally()
    mix = requests_mix(max_chars, max_turns)
    deadline = time.monotonic() + seconds

    def client_loop(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        with httpx.Client(base_url=base_url, timeout=120) as client:
            while time.monotonic() < deadline:
                kind, send, good = rng.choice(mix)
                started = time.perf_counter()
                try:
                    response = send(client, rng)
                except httpx.HTTPError as error:
                    tally.record(kind, False, time.perf_counter() - started, type(error).__name__)
                    continue
                ok = _good(response) if good else _json_error(response)
                tally.record(kind, ok, time.perf_counter() - started, f"{response.status_code} {response.text[:120]}")

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def report(tally: Tally, clients: int, seconds: float, rss: tuple[float, float] | None = None) -> str:
    lines = [f"soak: {clients} clients for {seconds:.0f} s"]
    lines.append(f"{'kind':28s} {'requests':>9s} {'errors':>7s}")
    lines += [f"{kind:28s} {count:>9d} {tally.errors[kind]:>7d}" for kind, count in sorted(tally.requests.items())]
    total, errors = sum(tally.requests.values()), sum(tally.errors.values())
    p50, p95, p99 = (percentile(tally.latencies, q) for q in (50, 95, 99))
    lines.append(f"{'all':28s} {total:>9d} {errors:>7d}   ({total / seconds:.1f} req/s)")
    lines.append(f"latency ms: p50 {p50:.0f}, p95 {p95:.0f}, p99 {p99:.0f}")
    if rss is not None:
        lines.append(f"server resident memory: {rss[0]:.0f} MB at the start, {rss[1]:.0f} MB at the end")
    lines += [f"  e.g. {example}" for example in tally.examples]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.soak", description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args(argv)
    from rag.settings import Settings

    settings = Settings()
    server, base_url = _start_server(settings)
    try:
        if not wait_until_up(f"{base_url}/healthz", server, 180):
            print("qa serve did not come up: is there an index (`qa ingest`)?")
            return 1
        soak(base_url, 2, 5, settings.max_question_chars, settings.max_history_turns)  # warm-up, not counted
        start = resident_mb(server.pid)
        tally = soak(base_url, args.clients, args.seconds, settings.max_question_chars, settings.max_history_turns, 1)
        print(f"against qa serve (pid {server.pid}) at {base_url}")
        print(report(tally, args.clients, args.seconds, (start, resident_mb(server.pid))))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
