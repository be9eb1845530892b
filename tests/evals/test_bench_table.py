"""The benchmarks' one table: each row's ratio and whether its target holds, how figures are shown,
the results file's header and part lines, the rows handed between processes, and the targets each
part puts on its rows. No timing is asserted: these are made-up measurements."""

from __future__ import annotations

import re

import pytest

from evals.bench import (
    AT_100K_P50_MS,
    ENCODER,
    NO_ERRORS,
    QUERY,
    BenchPart,
    BenchRow,
    Target,
    machine,
    render,
    table,
)

pytestmark = pytest.mark.unit


def test_the_ratio_is_ours_over_the_baseline_and_undefined_over_zero():
    assert BenchRow("m", 3.0, 4.0).ratio == 0.75
    assert BenchRow("errors", 0, 0, "errors").ratio is None
    assert BenchRow("errors", 2, 0, "errors").ratio is None


def test_a_target_is_judged_on_the_ratio_or_on_our_figure():
    assert BenchRow("m", 1.0, 1.0, "ms", QUERY).met is True  # at most 1.0: the bound itself is met
    assert BenchRow("m", 1.1, 1.0, "ms", QUERY).met is False
    assert BenchRow("m", 8.5, 10.0, "chunks/s", ENCODER).met is True
    assert BenchRow("m", 8.4, 10.0, "chunks/s", ENCODER).met is False
    assert BenchRow("m", 49.9, 20.0, "ms", AT_100K_P50_MS).met is True  # our figure, whatever the ratio
    assert BenchRow("m", 50.0, 99.0, "ms", AT_100K_P50_MS).met is False
    assert BenchRow("m", 0, 0, "errors", NO_ERRORS).met is True
    assert BenchRow("m", 1, 0, "errors", NO_ERRORS).met is False
    assert BenchRow("m", 1.0, 2.0).met is None  # no target
    assert BenchRow("m", 1.0, 0.0, "s", Target("ratio", "<", 0.05)).met is None  # no ratio to judge


def test_the_table_shows_units_ratios_targets_and_whether_each_was_met():
    part = BenchPart(
        "query",
        "233 questions",
        [
            BenchRow("p50 vs bare", 23.84, 24.0, "ms", QUERY),
            BenchRow("p95 vs bare", 50.9, 33.9, "ms", QUERY),
            BenchRow("re-ingest vs full", 6.01, 586.65, "s", Target("ratio", "<", 0.05)),
            BenchRow("errors vs bare", 0, 0, "errors", NO_ERRORS),
            BenchRow("start-up 100k vs 1k", 187.6, 1.5, "s"),
        ],
    )
    assert table([part]) == [
        "| part | measure | ours | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
        "| query | p50 vs bare | 23.8 ms | 24.0 ms | 0.993 | ratio ≤ 1 | met |",
        "| query | p95 vs bare | 50.9 ms | 33.9 ms | 1.5 | ratio ≤ 1 | **missed** |",
        "| query | re-ingest vs full | 6.01 s | 587 s | 0.0102 | ratio < 0.05 | met |",
        "| query | errors vs bare | 0 errors | 0 errors | n/a | = 0 errors | met |",
        "| query | start-up 100k vs 1k | 188 s | 1.50 s | 125 |  |  |",
    ]


def test_the_results_file_names_the_command_the_machine_and_each_part():
    parts = [
        BenchPart("api", "50 requests", [BenchRow("errors", 0, 0, "errors", NO_ERRORS)], 61.2, 0.4),
        BenchPart("query", "233 questions", [BenchRow("p50", 30.0, 20.0, "ms", QUERY)], 95.0, 1.25),
        BenchPart("scale", "exit status 1 (its output is above)", [], 3.0, 2.0, failed=True),
    ]
    lines = render("Benchmarks", "python -m evals.bench --quick", parts, "a machine; commit abc1234").splitlines()
    assert lines[:3] == ["# Benchmarks", "", "`python -m evals.bench --quick` on a machine; commit abc1234."]
    assert "Targets met: 1 of 2." in lines
    assert lines[-3:] == [
        "- api (61 s, load 0.40 at start): 50 requests",
        "- query (95 s, load 1.25 at start): 233 questions",
        "- scale (3 s, load 2.00 at start): **FAILED**: exit status 1 (its output is above)",
    ]


def test_the_machine_line_names_the_cores_python_and_the_load():
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d \w*; .+, \d+ cores, Python 3\.\d+\.\d+; "
        r"load average [\d.]+ / [\d.]+ / [\d.]+ at start",
        machine(),
    )


def test_a_part_comes_back_whole_from_its_json():
    part = BenchPart("ingest", "1.0 MB", [BenchRow("m", 1.0, 2.0, "s", ENCODER), BenchRow("n", 3, 4)], 12.5, 0.7)
    assert BenchPart.from_json(part.to_json()) == part


def test_the_query_target_is_on_the_default_encoder_only():
    from evals.bench.query import BASELINE, TORCH, rows

    timings = {"cited answer (OnnxMiniLM)": [10.0, 20.0, 30.0], TORCH: [40.0, 50.0, 60.0], BASELINE: [20.0, 20.0, 40.0]}
    found = rows(timings)
    assert [(row.ours, row.baseline, row.target) for row in found] == [
        (20.0, 20.0, QUERY),
        (30.0, 40.0, QUERY),
        (50.0, 20.0, None),
        (60.0, 40.0, None),
    ]


def test_the_scale_rows_put_the_50_ms_target_on_100k_chunks_only():
    from evals.bench.scale import rows, setup

    def size(requested, chunks, p50, startup, megabytes):
        timings = {"ours": [p50] * 3, "baseline": [10.0] * 3}
        return {"size": requested, "chunks": chunks, "ingest_rate": 100.0, "startup_s": startup,
                "added_bytes": megabytes * 1e6, "timings": timings}  # fmt: skip

    sizes = [size(1000, 976, 30.0, 4.0, 280), size(100_000, 99_552, 60.0, 188.0, 5_462)]
    found = rows(sizes)
    assert [row.target for row in found if row.target] == [AT_100K_P50_MS]
    (p50,) = [row for row in found if row.target]
    assert p50.measure.startswith("99552 chunks: answer p50") and p50.met is False
    startup = next(row for row in found if "start-up" in row.measure)
    assert (startup.ours, startup.baseline) == (188.0, 4.0) and "(102x the chunks)" in startup.measure
    assert "memory per further chunk 52.6 KB (976 to 99552)" in setup(sizes)


def test_the_api_rows_count_errors_against_a_target_of_none():
    from evals.bench.api import rows

    load = {"p50_ms": 10.0, "p95_ms": 20.0, "rps": 50.0, "errors": 0}
    found = rows({8: ({**load, "errors": 2}, load)})
    assert [row.unit for row in found] == ["ms", "ms", "req/s", "errors"]
    assert found[-1].target == NO_ERRORS and found[-1].met is False
    assert all("8 clients" in row.measure for row in found)


@pytest.mark.integration
def test_a_part_that_fails_is_listed_as_failed(tmp_path):
    from evals.bench.__main__ import run_part

    part = run_part("no_such_part", [], tmp_path)
    assert part.failed and part.rows == [] and "exit status 1" in part.setup
