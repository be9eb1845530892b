"""The start-up benchmark's rows: medians against the median of the bare torch load."""

from __future__ import annotations

import pytest

from evals.bench import STARTUP
from evals.bench.startup import BASELINE, rows

pytestmark = pytest.mark.unit


def test_each_row_is_a_median_against_the_median_of_the_bare_load():
    times = {
        "qa ask, cold, to its answer": [3.0, 9.0, 4.0],
        "qa serve, cold, to its first answer": [5.0, 5.0, 6.0],
        BASELINE: [8.0, 7.0, 20.0],
    }
    found = rows(times)
    assert [(row.measure, row.ours, row.baseline, row.ratio) for row in found] == [
        (f"qa ask, cold, to its answer vs {BASELINE}", 4.0, 8.0, 0.5),
        (f"qa serve, cold, to its first answer vs {BASELINE}", 5.0, 8.0, 0.625),
    ]
    assert all(row.target == STARTUP for row in found)
    assert [row.met for row in found] == [True, False]  # the target is "at most half"
