"""The gate: explicit bounds on the summary numbers, kept in evals/thresholds.toml and nowhere else.
`qa eval --gate` fails when a metric misses one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.toml")


def gate(summary: Mapping[str, float], path: Path = THRESHOLDS_PATH, mode: str = "extractive") -> list[str]:
    """Metrics that miss their bounds, as readable lines (empty when everything passes): the
    [min]/[max] tables for every mode, then [<mode>.min]/[<mode>.max] for this one."""
    bounds = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = [bounds, bounds.get(mode, {})]
    misses = []
    for table in tables:
        for name, low in table.get("min", {}).items():
            if name not in summary:
                misses.append(f"{name} is not in the summary")
            elif summary[name] < low:
                misses.append(f"{name} = {summary[name]:.3f} < {low}")
        for name, high in table.get("max", {}).items():
            if name not in summary:
                misses.append(f"{name} is not in the summary")
            elif summary[name] > high:
                misses.append(f"{name} = {summary[name]:.3f} > {high}")
    return misses
