"""Benchmarks: each part measures ours against a baseline in the same run and hands on its rows in
one form, `BenchRow` (measure, ours, baseline, their ratio, the target the issue sets, if any).

  python -m evals.bench [--quick]          every part, one table in evals/bench/results.md
  python -m evals.bench.<part> [--out F]   one part alone (api, ingest, memory, query, scale, startup)

Each part module has a `run(...)` that measures and returns a `BenchPart`, and a pure `rows(...)`
that turns its measurements into rows; its own CLI and the aggregate (`__main__`) print the same
rows with `render`. Nothing here measures or imports a model.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[2]
# How a target reads in the table: "≤" for "<=", as the issue writes them.
_SIGNS = {"<": "<", "<=": "≤", ">=": "≥", "==": "="}


@dataclass(frozen=True)
class Target:
    """What the issue asks of a row: `on` the ratio or on our own figure, compared by `op`."""

    on: Literal["ratio", "ours"]
    op: Literal["<", "<=", ">=", "=="]
    value: float

    def holds(self, figure: float) -> bool:
        compare = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, "==": operator.eq}[self.op]
        return bool(compare(figure, self.value))

    def describe(self, unit: str) -> str:
        sign = _SIGNS[self.op]
        if self.on == "ratio":
            return f"ratio {sign} {self.value:g}"
        return f"{sign} {self.value:g} {unit}".rstrip()


# The targets the benchmark issue sets; a part puts one on the rows it applies to.
ENCODER = Target("ratio", ">=", 0.85)  # ingest keeps 0.85 of bare encoding's chunks/s
INCREMENTAL = Target("ratio", "<", 0.05)  # an unchanged re-ingest costs under 5% of a full one
QUERY = Target("ratio", "<=", 1.0)  # a cited answer no slower than the bare similarity search
AT_100K_P50_MS = Target("ours", "<", 50)  # answer p50 over an index of 100k chunks
STARTUP = Target("ratio", "<=", 0.5)  # a cold process to its first answer, of the bare torch load
NO_ERRORS = Target("ours", "==", 0)  # the API under concurrent clients


@dataclass(frozen=True)
class BenchRow:
    """One measure: our figure and the baseline's, both in `unit`, measured in the same run."""

    measure: str
    ours: float
    baseline: float
    unit: str = ""
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        """ours / baseline; None when the baseline is zero (0 errors against 0 errors)."""
        return self.ours / self.baseline if self.baseline else None

    @property
    def met(self) -> bool | None:
        """Whether the target holds; None without a target, or for a ratio that is undefined."""
        if self.target is None:
            return None
        figure = self.ratio if self.target.on == "ratio" else self.ours
        return None if figure is None else self.target.holds(figure)


@dataclass
class BenchPart:
    """One benchmark's rows, with what it ran on (sizes, counts), how long it took, the load
    average (1 min) when it started, and whether it failed."""

    name: str
    setup: str
    rows: list[BenchRow] = field(default_factory=list)
    seconds: float = 0.0
    load: float = 0.0
    failed: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BenchPart:
        data = json.loads(text)
        rows = [BenchRow(**{**row, "target": row["target"] and Target(**row["target"])}) for row in data.pop("rows")]
        return cls(**data, rows=rows)


def figure(value: float, unit: str) -> str:
    """A measured value with its unit, to the precision its size warrants."""
    if unit == "errors" or abs(value) >= 100:
        shown = f"{value:.0f}"
    elif abs(value) >= 10:
        shown = f"{value:.1f}"
    else:
        shown = f"{value:.2f}"
    return f"{shown} {unit}".rstrip()


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    return f"{ratio:.0f}" if ratio >= 100 else f"{ratio:.3g}"


def table(parts: list[BenchPart]) -> list[str]:
    """The markdown table of every part's rows."""
    lines = ["| part | measure | ours | baseline | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for part in parts:
        for row in part.rows:
            target = row.target.describe(row.unit) if row.target else ""
            met = {True: "met", False: "**missed**", None: ""}[row.met]
            lines.append(
                f"| {part.name} | {row.measure} | {figure(row.ours, row.unit)} | {figure(row.baseline, row.unit)} "
                f"| {ratio_text(row.ratio)} | {target} | {met} |"
            )
    return lines


def machine() -> str:
    """Now, the CPU, its cores, Python and the load average (1, 5, 15 min): taken at the start."""
    load = os.getloadavg()
    cpu = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = f"{cpu} ({names[0]})" if names else cpu
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at start"
    )


def code_state() -> str:
    """The commit measured, and the tracked files that differed from it (in a shared working tree
    others' unfinished edits are measured too, so the results say so)."""

    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = sorted(line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines())
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}" + (f" with uncommitted changes to {', '.join(changed)}" if changed else ", clean")


def render(title: str, command: str, parts: list[BenchPart], where: str) -> str:
    """The results file: the command and `where` it ran (the machine and the code, taken at the
    start), the one table, then what each part ran on."""
    targets = [row.met for part in parts for row in part.rows if row.target]
    lines = [
        f"# {title}",
        "",
        f"`{command}` on {where}.",
        "",
        *table(parts),
        "",
        *([f"Targets met: {sum(1 for met in targets if met)} of {len(targets)}.", ""] if targets else []),
        *(
            f"- {part.name} ({part.seconds:.0f} s, load {part.load:.2f} at start): "
            + ("**FAILED**: " if part.failed else "")
            + part.setup
            for part in parts
        ),
        "",
    ]
    return "\n".join(lines)


def parser(part: str, doc: str) -> argparse.ArgumentParser:
    """A part's command line: its own options go on this, with `--out` and the aggregate's `--rows`."""
    cli = argparse.ArgumentParser(
        prog=f"python -m evals.bench.{part}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--out", type=Path, help="also write the table to this file")
    cli.add_argument("--rows", type=Path, help=argparse.SUPPRESS)  # JSON for `python -m evals.bench`
    return cli


def finish(args: argparse.Namespace, command: str, measure: Callable[[], BenchPart]) -> int:
    """Run a part as its own CLI does: measure, print the table, write `--out` and `--rows`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    where, load = f"{machine()}; {code_state()}", os.getloadavg()[0]
    started = time.perf_counter()
    part = measure()
    part.seconds, part.load = time.perf_counter() - started, load
    report = render(f"Benchmark: {part.name}", command, [part], where)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    if args.rows:
        args.rows.write_text(part.to_json(), encoding="utf-8")
    return 0
