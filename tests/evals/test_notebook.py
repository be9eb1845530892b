"""evals/review.ipynb is saved clean and runs top to bottom on a real index; evals/render.py
escapes everything it shows."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "evals" / "review.ipynb"
HOSTILE = 'Alert <script>window.__pwned = 1</script> & <img src=x onerror="alert(2)"> in the source.'


def hostile_snapshot():
    """A real IndexSnapshot holding one document whose title, section and text carry markup."""
    import numpy as np

    from rag.snapshot import IndexSnapshot
    from rag.store import IndexVersions, SourceRecord, StoredChunk

    text = f"Intro paragraph.\n\nFirst sentence here. {HOSTILE} Last words of it.\n\nAnother paragraph."
    doc = SourceRecord(
        "evil",
        text,
        {"title": "<b>Evil</b> title", "kind": "<i>kind</i>", "author": None, "sections": '["<h1>Section</h1>"]'},
    )
    chunk = StoredChunk(
        chunk_id="c1",
        source_id="evil",
        content_sha256="sha",
        section="<h1>Section</h1>",
        start=0,
        end=len(text),
        text=text,
        first_sentence=0,
        last_sentence=0,
        chunk_index=0,
        title="<b>Evil</b> title",
        page=None,
    )
    versions = IndexVersions("test-embedder", "test-chunker", 4)
    return IndexSnapshot(
        versions, {"evil": doc}, [chunk], [], np.zeros((0, 4), np.float32), np.zeros((1, 4), np.float32)
    )


@pytest.mark.unit
def test_render_escapes_markup_from_sources_questions_and_answers():
    from evals import render
    from rag.answer import Answer
    from rag.citations import make_citation

    snapshot = hostile_snapshot()
    text = snapshot.sources["evil"].text
    start = text.index("Alert")
    citation = make_citation(1, "evil", "<b>Evil</b> title", "<h1>Section</h1>", text, start, start + len(HOSTILE))
    answer = Answer(answer=f"{HOSTILE} [1]", abstained=False, citations=[citation])
    page = render.answer_html(answer, snapshot, question="<script>ask()</script>?")
    page += render.corpus_tables_html(snapshot)
    for raw in ("<script", "<img", "<b>Evil", "<h1>", "<i>kind"):
        assert raw not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "&lt;script&gt;ask()&lt;/script&gt;?" in page and "&lt;b&gt;Evil&lt;/b&gt; title" in page
    assert f"<mark>{html.escape(HOSTILE)}</mark>" in page  # the highlighted quote, as text
    assert "<b>[1]</b>" in page  # our own markup stays markup
    assert "unknown" in render.corpus_tables_html(snapshot)  # missing author and date are said, not blank


@pytest.mark.unit
def test_passage_stays_in_its_paragraph_and_cuts_at_words():
    from evals.render import passage_html

    text = "Para one ends.\n\nAlpha beta gamma delta. The quoted words. Epsilon zeta eta theta.\n\nPara three."
    start = text.index("The quoted")
    passage = passage_html(text, start, start + len("The quoted words."), context=12)
    assert passage == "…delta. <mark>The quoted words.</mark> Epsilon…"  # no half words
    whole = passage_html(text, start, start + len("The quoted words."), context=500)
    assert whole == "Alpha beta gamma delta. <mark>The quoted words.</mark> Epsilon zeta eta theta."


@pytest.mark.unit
def test_a_quote_that_is_not_its_span_is_flagged_not_highlighted():
    from evals.render import citations_html

    snapshot = hostile_snapshot()
    wrong = {
        "n": 1,
        "source_id": "evil",
        "title": "t",
        "section": "s",
        "quote": "Intro paragraph!",
        "start": 0,
        "end": 16,
        "page": None,
    }
    shown = citations_html([wrong], snapshot)
    assert "not the text at the position it names" in shown and "<mark>" not in shown


@pytest.mark.unit
def test_summary_table_says_what_passes_and_what_misses():
    from evals.render import summary_html
    from evals.results import EvalReport

    report = EvalReport(
        [],
        {"items": 3, "fact_recall_answerable": 0.5, "false_abstain": 0.0, "faithfulness": 1.0, "<x>": 1.0},
        mode="extractive",
        intervals={"fact_recall_answerable": (0.25, 0.75)},
    )
    shown = summary_html(report)
    assert shown.count("✗ misses") == 1 and shown.count("✓ passes") == 2  # faithfulness: a bound of this mode
    import tomllib

    from evals.gate import THRESHOLDS_PATH

    bound = tomllib.loads(THRESHOLDS_PATH.read_text(encoding="utf-8"))["min"]["fact_recall_answerable"]
    assert f"at least {bound}" in shown and "0.25 – 0.75" in shown
    assert "&lt;x&gt;" in shown and "<x>" not in shown


@pytest.mark.unit
def test_saved_notebook_has_no_outputs_and_explains_each_step():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.metadata.kernelspec.name == "python3"
    headings = [cell.source.splitlines()[0] for cell in notebook.cells if cell.cell_type == "markdown"]
    assert [h for h in headings if h.startswith("## ")] == [
        "## 1. Set-up",
        "## 2. What is in the corpus",
        "## 3. Canonical questions",
        "## 4. How well it does: the evaluation",
        "## 5. The failures, to inspect",
        "## 6. Ask your own question",
    ]
    assert any(cell.source.startswith("my_question = ") for cell in code)


def _html(cell) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)


@pytest.mark.integration
def test_notebook_runs_top_to_bottom_on_a_real_index(corpus_settings, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    # The kernel is a child process: it reads the settings from this environment.
    monkeypatch.setenv("QA_DATA_DIR", str(corpus_settings.data_dir))
    monkeypatch.setenv("QA_CORPUS_DIR", str(corpus_settings.corpus_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Run where Jupyter runs it (evals/); a failing cell raises CellExecutionError.
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    cells = {cell.source.split("\n")[0]: cell for cell in notebook.cells if cell.cell_type == "code"}

    def cell(first_line: str):
        return next(c for line, c in cells.items() if line.startswith(first_line))

    printed = "".join(o.get("text", "") for o in cell("import os").outputs if o.get("name") == "stdout")
    from ingest.load import discover

    documents = len(discover([corpus_settings.corpus_dir], corpus_settings.corpus_dir))
    assert f"Index at {corpus_settings.data_dir}: {documents} document(s)" in printed
    corpus = _html(cell("display(HTML(render.corpus_tables_html"))
    assert "An Israel model" in corpus and "A South Korean model" in corpus and "unknown" in corpus

    canonical = _html(cell("CANONICAL = {"))
    assert canonical.count("<h4>Q: ") == 8
    assert canonical.count("<mark>") >= 7 and "about 28,000 American troops" in canonical
    assert "The assistant declined (abstained)" in canonical

    evaluation = cell("from evals.charts import")
    table = _html(evaluation)
    assert "fact_recall_answerable" in table and "exact_span_share" in table and "✓ passes" in table
    svgs = [o["data"]["image/svg+xml"] for o in evaluation.outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 2 and all("<svg" in svg for svg in svgs)

    failures = _html(cell("display(HTML(render.failures_html"))
    assert "questions failed" in failures or "No failures" in failures

    own = _html(cell("my_question = "))
    assert "<h4>Q: What did Zelenskyy say" in own and "<mark>" in own and "26 countries" in own
