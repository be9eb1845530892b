"""The ingest benchmark runs end to end on a small file (real model, real spaCy, real Chroma) and
hands on rows whose every one has a figure, a baseline and their ratio; the memory benchmark
reports a footprint per chunk at each size it is given."""

from __future__ import annotations

import re

import pytest

from evals.bench import INCREMENTAL, BenchPart

pytestmark = pytest.mark.integration


def test_the_built_text_has_numbered_parts_and_abbreviations():
    from evals.bench.ingest import ABBREVIATIONS, build_text

    text = build_text(0.05)
    assert len(text.encode("utf-8")) >= 50_000
    assert "\n1. Part 1\n" in text and text.count(ABBREVIATIONS) >= 2


def test_the_benchmark_writes_a_table_of_ratios(tmp_path):
    from evals.bench.ingest import main

    out, rows_file = tmp_path / "results.md", tmp_path / "rows.json"
    assert main(["--megabytes", "0.03", "--out", str(out), "--rows", str(rows_file)]) == 0
    part = BenchPart.from_json(rows_file.read_text(encoding="utf-8"))
    assert part.name == "ingest" and re.match(r"0\.0\d MB, \d+ chunks, \d+ sentences; full ingest", part.setup)
    assert len(part.rows) == 6
    for row in part.rows:
        assert row.ours > 0 and row.baseline > 0 and row.ratio is not None, row
    unchanged = next(row for row in part.rows if row.measure.startswith("re-ingest"))
    assert unchanged.target == INCREMENTAL
    assert unchanged.ratio < 1.0  # nothing to do is faster than everything
    table = out.read_text(encoding="utf-8")
    assert re.search(r"\d+ cores, Python", table)
    assert len([line for line in table.splitlines() if line.startswith("| ingest |")]) == 6


def test_the_memory_benchmark_reports_a_footprint_per_chunk(tmp_path):
    from evals.bench.memory import measure, rows

    sizes = measure([40, 120])
    assert [chunks for chunks, _, _, _ in sizes] == [40, 120]
    for _, sentences, megabytes, per_chunk in sizes:
        assert sentences > 0 and megabytes > 0
        assert per_chunk > 1.5  # at least the two 384-float vectors of a chunk
    (row,) = rows(sizes)
    assert (row.ours, row.baseline) == (sizes[1][3], sizes[0][3])
