"""`make hardening`: everything too long or too privileged for `make test`, run one after another,
summed up in one table: cases tried per fuzzer, faults injected and survived, soak requests,
errors, latencies and memory growth, and injection cases held.

  python -m evals.hardening [--soak-seconds 180] [--clients 16] [--fuzz-examples 200]

Each part is the real thing: the scripted hostile model against the guard (evals/adversarial.py),
pytest runs of the fault tests (tests/hardening needs root to mount a tmpfs and a read-only bind;
tests/api/test_chroma_server.py kills and stops a real Chroma server; schemathesis with a larger
budget; the hostile-file corpus), and a soak of `qa serve` (evals/soak.py). Each pytest part's
own figures come from the lines it prints; a part that fails shows FAIL in the table and makes
the exit code 1.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    part: str
    tried: str  # cases, faults or requests
    held: str  # survived, held, or errors
    figures: str
    ok: bool


def run_pytest(target: str, env: dict[str, str] | None = None) -> tuple[bool, str, float]:
    """A pytest run of `target` (hardening's own options); passed, its output, seconds."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-o", "addopts=-ra --strict-markers", target],
        check=False,
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
    )
    return done.returncode == 0, done.stdout + done.stderr, time.monotonic() - started


def found(pattern: str, text: str, default: str = "?") -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else default


def adversarial_rows() -> list[Row]:
    from evals.adversarial import BLIND_CASES, TUNE_CASES, VALIDATE_CASES, build_indexes, load_cases, run_case
    from rag.settings import Settings

    settings = Settings()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qa-hardening-") as folder:
        answerers = build_indexes(settings, Path(folder))
        # The blind sets too: written by people who saw neither the guard nor the sets before.
        for path in (TUNE_CASES, VALIDATE_CASES, *BLIND_CASES):
            cases = load_cases(path)
            results = [run_case(answerers[c.index], settings, c, p) for p in ("drop", "flag") for c in cases]
            hostile = [r for r in results if not r.case.faithful]
            faithful = [r for r in results if r.case.faithful]
            stopped, kept = sum(r.held for r in hostile), sum(r.held for r in faithful)
            rows.append(
                Row(
                    f"guard: {path.stem} (drop + flag)",
                    f"{len(results)} generations",
                    f"{stopped}/{len(hostile)} hostile stopped",
                    f"{kept}/{len(faithful)} faithful kept",
                    True,
                )
            )
    return rows


@dataclass(frozen=True)
class PytestPart:
    """One row made from a pytest run: what it is, and how its printed figures read."""

    target: str
    part: str
    tried: Callable[[str], str]  # from the run's output
    held: str  # shown when the run passed
    figures: Callable[[str, float], str]  # from the output and the seconds it took
    env: dict[str, str] = field(default_factory=dict)

    def row(self) -> Row:
        ok, out, seconds = run_pytest(self.target, self.env)
        return Row(self.part, self.tried(out), self.held if ok else "FAIL", self.figures(out, seconds), ok)


# What the pytest parts print, as `found` reads it.
SCHEMATHESIS_CASES = r"schemathesis with(?:out)? a key: (\d+) cases"
SCHEMATHESIS_OPERATIONS = r"cases over (\d+) operations"
KILLED = r"; (\d+ of \d+) killed"


def _schemathesis_cases(out: str) -> str:
    return f"{sum(int(n) for n in re.findall(SCHEMATHESIS_CASES, out))} cases"


def fuzz_parts(fuzz_examples: int) -> tuple[PytestPart, ...]:
    """schemathesis with a larger budget, and the hostile-file corpus."""
    return (
        PytestPart(
            "tests/api/test_schemathesis.py",
            "schemathesis, with and without a key",
            _schemathesis_cases,
            "0 5xx",
            lambda out, seconds: f"{found(SCHEMATHESIS_OPERATIONS, out)} operations, {seconds:.0f} s",
            {"QA_FUZZ_EXAMPLES": str(fuzz_examples)},
        ),
        PytestPart(
            "tests/ingest/test_hostile_corpus.py",
            "hostile corpus files",
            lambda out: "9 hostile + 2 good files",
            "named, skipped",
            lambda out, _: "peak " + found(r"peak memory: (.*)", out),
        ),
    )


# Faults injected for real: kills, storage, the Chroma server, rebuilds while serving.
FAULT_PARTS = (
    PytestPart(
        "tests/hardening/test_kill_loop.py",
        "SIGKILL during ingest, in a row",
        lambda out: found(KILLED, out) + " runs killed",
        "0 lost",
        lambda out, _: "partial documents seen: " + found(r"partial: (\d+)", out) + "; repair = clean build",
    ),
    PytestPart(
        "tests/hardening/test_storage_faults.py",
        "disk full, read-only storage",
        lambda out: "2 faults",
        "2 survived",
        lambda out, _: "clear error, old index served",
    ),
    PytestPart(
        "tests/api/test_chroma_server.py",
        "Chroma server killed, then hung",
        lambda out: "2 faults",
        "2 survived",
        lambda out, _: "503 after " + found(r"503 after ([\d.]+ s)", out) + ", recovered, same answer",
    ),
    PytestPart(
        "tests/ingest/test_rebuild_beside.py",
        "--rebuild while serving, killed rebuild",
        lambda out: "3 faults",
        "3 survived",
        lambda out, _: "no request failed, old index whole",
    ),
)


def soak_row(clients: int, seconds: float) -> Row:
    from evals.bench.api import _start_server
    from evals.metrics import percentile
    from evals.processes import wait_until_up
    from evals.soak import resident_mb, soak
    from rag.settings import Settings

    settings = Settings()
    server, base_url = _start_server(settings)
    try:
        if not wait_until_up(f"{base_url}/healthz", server, 180):
            return Row("soak of qa serve", "-", "FAIL", "the server did not come up (run `qa ingest`)", False)
        soak(base_url, 2, 5, settings.max_question_chars, settings.max_history_turns)
        start = resident_mb(server.pid)
        tally = soak(base_url, clients, seconds, settings.max_question_chars, settings.max_history_turns, 1)
        end = resident_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    total, errors = sum(tally.requests.values()), sum(tally.errors.values())
    p50, p95, p99 = (percentile(tally.latencies, q) for q in (50, 95, 99))
    return Row(
        f"soak: {clients} clients, {seconds:.0f} s, 10 kinds",
        f"{total} requests",
        f"{errors} errors",
        f"p50/p95/p99 {p50:.0f}/{p95:.0f}/{p99:.0f} ms; RSS {start:.0f} -> {end:.0f} MB",
        errors == 0,
    )


def table(rows: list[Row]) -> str:
    widths = [max(len(getattr(r, name)) for r in rows) for name in ("part", "tried", "held")]
    lines = [f"{'part':{widths[0]}s} | {'tried':{widths[1]}s} | {'held':{widths[2]}s} | figures"]
    lines.append("-" * len(lines[0]) + "-" * 30)
    for row in rows:
        mark = "" if row.ok else "  << FAIL"
        lines.append(
            f"{row.part:{widths[0]}s} | {row.tried:{widths[1]}s} | {row.held:{widths[2]}s} | {row.figures}{mark}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.hardening", description=__doc__)
    parser.add_argument("--soak-seconds", type=float, default=180.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--fuzz-examples", type=int, default=200)
    args = parser.parse_args(argv)
    rows = adversarial_rows()
    rows += [part.row() for part in (*fuzz_parts(args.fuzz_examples), *FAULT_PARTS)]
    rows.append(soak_row(args.clients, args.soak_seconds))
    print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
