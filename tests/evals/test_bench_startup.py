"""The start-up benchmark's table: medians and their ratio to the bare torch load."""

from __future__ import annotations

import pytest

from evals.bench_startup import table

pytestmark = pytest.mark.unit


def test_each_row_is_a_median_with_its_ratio_to_the_bare_load():
    times = {
        "qa ask, cold, to its answer": [3.0, 9.0, 4.0],
        "qa serve, cold, to its first answer": [5.0, 5.0, 6.0],
        "baseline: import torch + load the model": [8.0, 7.0, 20.0],
    }
    rows = [line for line in table(times, 3).splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == [
        "| qa ask, cold, to its answer | 4.00 | 0.50 |",
        "| qa serve, cold, to its first answer | 5.00 | 0.62 |",
        "| baseline: import torch + load the model | 8.00 | 1.00 |",
    ]
