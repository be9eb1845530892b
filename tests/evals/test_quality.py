"""The quality bar of the core issue, measured on evals/questions.jsonl with the real pipeline."""

from __future__ import annotations

import json

import pytest

from evals.dataset import EvalItem, load_items, validate_gold
from evals.metrics import fact_recall, normalise_for_match
from evals.run import evaluate, format_summary, gate
from rag.errors import InputError


@pytest.mark.integration
def test_question_set_meets_the_thresholds(answerer, capsys):
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    report = evaluate(answerer, load_items(), texts)
    with capsys.disabled():
        print("\n" + format_summary(report))
    summary = report.summary
    assert summary["items"] >= 50
    assert summary["exact_span_share"] == 1.0
    assert summary["fact_recall_answerable"] >= 0.90
    assert summary["abstain_recall"] >= 0.90
    assert summary["false_abstain"] <= 0.10
    assert gate(summary) == []


@pytest.mark.unit
def test_fact_matching_normalises_numbers_case_and_punctuation():
    assert normalise_for_match("About 28,000 U.S. troops") == "about 28000 u s troops"
    assert fact_recall("about 28,000 troops", [["28000"]]) == 1.0
    assert fact_recall("in 2023 it joined", [["2023"], ["Finland"]]) == 0.5
    assert fact_recall("a 1995 member", [["199"]]) == 0.0  # whole words only


@pytest.mark.unit
def test_a_gold_quote_missing_from_the_corpus_names_the_item():
    items = [EvalItem("x1", "factoid", "q?", True, [["a"]], ["not in any source"])]
    with pytest.raises(InputError, match="x1"):
        validate_gold(items, {"doc": "some other text"})


@pytest.mark.unit
def test_malformed_question_file_is_reported_by_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "a", "kind": "factoid", "question": "q", "answerable": True}) + "\n{oops\n")
    with pytest.raises(InputError, match="needs facts and gold"):
        load_items(path)
    path.write_text("{oops\n")
    with pytest.raises(InputError, match=":1:"):
        load_items(path)
