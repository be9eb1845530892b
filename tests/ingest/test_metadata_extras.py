"""Front matter and sidecar keys the loader has no slot for are kept (lists and mappings as JSON,
since Chroma stores scalars only) or, when the index owns the key, reported; never dropped
without a word. Then, end to end: a PDF and a Markdown file ingested into real Chroma keep their
metadata, their pages and their reader-visible text."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ingest.load import load_file
from tests.conftest import make_settings
from tests.ingest.pdf_files import CROSSING, make_pdf, survey_pages
from tests.store_checks import assert_consistent

SIDECAR = """title: Survey of the Varnia reservoirs
sources:
  - title: Reservoir gauge readings
    publisher: Varnia Water Board
    date: 2024-05-31
    url: https://example.org/gauges
  - title: Motor invoices
    publisher: Board treasury
reviewers: [Ana Ilic, Tom Berg]
contact:
  office: Pump house 3
  hours: [9, 17]
empty_note:
"""
SOURCES = [
    {
        "title": "Reservoir gauge readings",
        "publisher": "Varnia Water Board",
        "date": "2024-05-31",
        "url": "https://example.org/gauges",
    },
    {"title": "Motor invoices", "publisher": "Board treasury"},
]


@pytest.mark.unit
def test_sidecar_list_and_mapping_values_are_kept_as_json(tmp_path: Path) -> None:
    src = tmp_path / "survey.txt"
    src.write_text("Survey text.\n", encoding="utf-8")
    (tmp_path / "survey.meta.yaml").write_text(SIDECAR, encoding="utf-8")
    [doc] = load_file(src, tmp_path)
    meta = doc.metadata
    assert meta["title"] == "Survey of the Varnia reservoirs"
    assert json.loads(meta["sources"]) == SOURCES  # the YAML date is an ISO string
    assert json.loads(meta["reviewers"]) == ["Ana Ilic", "Tom Berg"]
    assert json.loads(meta["contact"]) == {"office": "Pump house 3", "hours": [9, 17]}
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in meta.values())
    assert "empty_note" not in meta  # an empty value states nothing


@pytest.mark.unit
def test_front_matter_keys_the_index_owns_are_reported(tmp_path: Path, caplog) -> None:
    src = tmp_path / "note.md"
    src.write_text("---\nsection: Annex B\nchunk_index: [1, 2]\nfloor: 3\n---\nA short note.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ingest.load"):
        [doc] = load_file(src, tmp_path)
    assert "section" not in doc.metadata and "chunk_index" not in doc.metadata
    assert doc.metadata["floor"] == 3
    reported = " ".join(r.getMessage() for r in caplog.records)
    assert "'section'" in reported and "'chunk_index'" in reported and "note.md" in reported
    assert "floor" not in reported


NOTES_MD = """---
title: Pump maintenance notes
crew:
  - {name: Ana Ilic, role: engineer}
---
# Pump maintenance

The **northern** pumps are greased every _March_, as the [manual](https://example.org/m) says.

## Is a spare motor kept?

Yes: one spare motor is kept in the `store room` of pump house 3.
"""


@pytest.mark.integration
def test_pdf_and_markdown_end_to_end_in_chroma(tmp_path: Path, embeddings) -> None:
    from ingest.pipeline import ingest_paths

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "survey.pdf").write_bytes(make_pdf(survey_pages()))
    (corpus / "survey.meta.yaml").write_text(SIDECAR, encoding="utf-8")
    (corpus / "notes.md").write_text(NOTES_MD, encoding="utf-8")
    settings = make_settings(tmp_path / "data", corpus)
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.failed == [] and summary.added == 2
    got = assert_consistent(settings)
    sources = {r["id"]: r for r in got["sources"]}
    assert json.loads(sources["survey"]["metadata"]["sources"]) == SOURCES
    assert json.loads(sources["notes"]["metadata"]["crew"]) == [{"name": "Ana Ilic", "role": "engineer"}]
    assert "headings" not in sources["notes"]["metadata"]
    assert json.loads(sources["notes"]["metadata"]["sections"]) == ["Pump maintenance", "Is a spare motor kept?"]
    survey_text = sources["survey"]["document"]
    assert "Varnia Water Board" not in survey_text and "Page 1 of 3" not in survey_text
    pages = {
        r["document"]: r["metadata"].get("page") for r in got["sentences"] if r["metadata"]["source_id"] == "survey"
    }
    assert pages[CROSSING] == 1
    assert pages["The motors cost 2.4 million crowns, paid from the reserve fund of the board."] == 3
    notes = [r for r in got["sentences"] if r["metadata"]["source_id"] == "notes"]
    assert {r["document"] for r in notes} >= {
        "The northern pumps are greased every March, as the manual says.",
        "Yes: one spare motor is kept in the store room of pump house 3.",
    }
    assert {r["metadata"]["section"] for r in notes} == {"Pump maintenance", "Is a spare motor kept?"}
