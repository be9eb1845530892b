"""Every benchmark, one table: `make bench` runs this.

  python -m evals.bench [--quick] [--parts api ingest ...] [--out evals/bench/results.md]

Each part runs in a process of its own (`python -m evals.bench.<part>`), one after another, so
none inherits another's models, caches or memory and the start-up part's processes start cold.
Each hands its rows back as JSON; this writes them as one markdown table to `--out`, under the
command and a line that describes the machine (date, CPU, cores, Python, load average at the
start), and lists what each part ran on, how long it took and the load average when it started.
A part that fails is listed as failed; the others still run, and the exit status is 1.

`--quick` is a trial at the smaller sizes of QUICK, and the title says so. Running time on
2 cores, with other work running (load average 2 to 4): `--quick` took 22 and 34 minutes (ingest
12 and 23, scale 5 and 7, memory 1.5, api, query and start-up about a minute each). The full run is well over an hour:
the scale part's 100k-chunk step alone takes 40 minutes or more, the 5 MB ingest about half an
hour, the memory part 9 minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evals.bench import REPO, BenchPart, code_state, machine, render

DEFAULT_OUT = REPO / "evals" / "bench" / "results.md"
PARTS = ("api", "ingest", "memory", "query", "scale", "startup")
# A trial at smaller sizes. The api, query and start-up parts take a minute or less as they are.
QUICK = {
    "ingest": ["--megabytes", "1"],
    "memory": ["--chunks", "1000", "10000"],
    "scale": ["--chunks", "1000", "10000"],
}


def run_part(name: str, options: list[str], workdir: Path) -> BenchPart:
    """One part in its own process; its rows, or a part marked failed when it exits with an error."""
    rows_file = workdir / f"{name}.json"
    command = [sys.executable, "-m", f"evals.bench.{name}", *options, "--rows", str(rows_file)]
    print(f"== {name}: python {' '.join(command[1:-2])}", flush=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not rows_file.exists():
        return BenchPart(name, f"exit status {done.returncode} (its output is above)", [], seconds, load, failed=True)
    part = BenchPart.from_json(rows_file.read_text(encoding="utf-8"))
    part.seconds, part.load = seconds, load  # the whole process, start-up included
    return part


def command_line(quick: bool, parts: list[str]) -> str:
    words = [
        "python -m evals.bench",
        *(["--quick"] if quick else []),
        *(["--parts", *parts] if parts != list(PARTS) else []),
    ]
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(
        prog="python -m evals.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--quick", action="store_true", help="smaller sizes, for a trial: " + str(QUICK))
    cli.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run (default: all)")
    cli.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the table")
    args = cli.parse_args(argv)
    where = f"{machine()}; {code_state()}"
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        parts = [run_part(name, QUICK.get(name, []) if args.quick else [], Path(tmp)) for name in args.parts]
    title = "Benchmarks: quick trial at smaller sizes, not the full run" if args.quick else "Benchmarks"
    report = render(title, command_line(args.quick, args.parts), parts, where)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 1 if any(part.failed for part in parts) else 0


if __name__ == "__main__":
    sys.exit(main())
