"""The ingest benchmark runs end to end on a small file (real model, real spaCy, real Chroma) and
writes a table whose every measured row has a figure, a baseline and their ratio; the memory
benchmark reports a footprint per chunk at each size it is given."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def test_the_built_text_has_numbered_parts_and_abbreviations():
    from evals.bench_ingest import ABBREVIATIONS, build_text

    text = build_text(0.05)
    assert len(text.encode("utf-8")) >= 50_000
    assert "\n1. Part 1\n" in text and text.count(ABBREVIATIONS) >= 2


def test_the_benchmark_writes_a_table_of_ratios(tmp_path):
    from evals.bench_ingest import main

    out = tmp_path / "results.md"
    assert main(["--megabytes", "0.03", "--out", str(out)]) == 0
    table = out.read_text(encoding="utf-8")
    assert re.search(r"\d+ cores, Python", table)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    unmeasured = ("file", "share of ingest: prepare / annotate / encode")
    measured = [row for row in rows if row.split("|")[1].strip() not in unmeasured]
    assert len(measured) == 6
    for row in measured:
        ratio = row.rstrip(" |").rsplit("|", 1)[1].strip()
        assert re.fullmatch(r"\d+\.\d{3}", ratio), row
    unchanged = next(row for row in measured if row.startswith("| re-ingest"))
    assert float(unchanged.rstrip(" |").rsplit("|", 1)[1]) < 1.0  # nothing to do is faster than everything


def test_the_memory_benchmark_reports_a_footprint_per_chunk(capsys):
    from evals.bench_memory import main

    assert main(["--chunks", "40", "120"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(row.split("|")[1]) for row in rows] == [40, 120]
    for row in rows:
        megabytes, per_chunk = (float(cell) for cell in row.split("|")[3:5])
        assert megabytes > 0 and per_chunk > 1.5  # at least the two 384-float vectors of a chunk
