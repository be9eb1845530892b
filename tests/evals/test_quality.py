"""The quality bar, measured with the real pipeline on the validation question sets of both
subjects (evals/sets.toml): sets never used to fit the evidence model."""

from __future__ import annotations

import json

import pytest

from evals.dataset import EvalItem, load_items, validate_gold
from evals.gate import gate
from evals.metrics import fact_recall, normalise_for_match
from evals.scoring import evaluate
from evals.summary import format_summary
from rag.errors import InputError


@pytest.mark.integration
def test_every_validation_set_meets_the_gate(corpus_settings, embeddings, capsys):
    from evals.suite import load_sets
    from evals.suite_run import evaluate_sets, table

    sets = load_sets("validate")
    assert {"ukraine", "canals", "lighthouses"} <= {s.subject for s in sets}  # two subjects unrelated to Ukraine
    reports = evaluate_sets(corpus_settings, sets, embeddings=embeddings)
    with capsys.disabled():
        print("\n" + table(reports, {s.name: s.part for s in sets}))
    for name, report in reports.items():
        assert report.summary["items"] >= 35, name  # sets of about forty questions
        assert report.summary["exact_span_share"] == 1.0, name
        assert gate(report.summary) == [], name


@pytest.mark.unit
def test_tuning_and_validation_sets_share_no_question():
    from evals.suite import load_sets

    tune = {item.question for s in load_sets("tune") for item in load_items(s.path)}
    validate = {item.question for s in load_sets("validate") for item in load_items(s.path)}
    assert tune and validate and not tune & validate


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


# --- The evaluation suite itself (issue 4): grounding, retrieval, reasons, CLI --------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from evals.results import HEADLINE  # noqa: E402
from evals.run import load_mode_answerer  # noqa: E402
from evals.scoring import SupportJudge, score_item  # noqa: E402
from rag.answer import Answer, RetrievedChunk  # noqa: E402
from rag.citations import make_citation  # noqa: E402
from rag.errors import ConfigError  # noqa: E402
from tests.conftest import REPO  # noqa: E402

ORIGINAL_KEYS = (
    "fact_recall_answerable",
    "all_facts_found",
    "exact_span_share",
    "citations",
    "abstain_recall",
    "false_abstain",
    "latency_p50_ms",
    "latency_p95_ms",
    "items",
)


@pytest.fixture(scope="module")
def full_report(answerer, embeddings):
    items = load_items()
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    return items, evaluate(answerer, items, texts, embeddings=embeddings)


@pytest.mark.integration
def test_extractive_answers_are_grounded_and_retrieval_finds_the_gold(full_report):
    items, report = full_report
    summary = report.summary
    assert all(key in summary for key in ORIGINAL_KEYS)
    answered = [r for r in report.items if not r.abstained]
    assert summary["answered"] == len(answered) and summary["coverage"] == pytest.approx(len(answered) / len(items))
    # Quoting cannot misstate: every answered sentence carries a marker and is supported by it.
    assert summary["faithfulness"] == summary["citation_recall"] == 1.0
    assert summary["citation_precision"] >= 0.95
    for result in answered:
        assert result.sentences and all(s["markers"] and s["supported"] for s in result.sentences), result.id
        assert result.scores["faithfulness"] == 1.0
    # One retrieval of top_k chunks per part of a question: a comparison retrieves for each side,
    assert summary["hit@k"] >= 0.95 and summary["retrieval_k"] >= 6  # a chunk found for two sides counts once
    assert 0.0 < summary["mrr@10"] <= summary["hit@k"] and 0.0 < summary["ndcg@10"] <= 1.0
    for result in report.items:
        assert (result.scores["hit@k"] is None) == (not result.gold)
    for name in HEADLINE:
        low, high = report.intervals[name]
        assert low - 1e-9 <= summary[name] <= high + 1e-9, name
    assert set(report.by_kind) == {item.kind for item in items}
    assert sum(row["items"] for row in report.by_kind.values()) == len(items)
    assert gate(summary, mode="extractive") == []


@pytest.mark.integration
def test_failure_reasons_say_what_went_wrong(full_report):
    items, report = full_report
    by_id = {item.id: item for item in items}
    for result in report.items:
        item = by_id[result.id]
        assert ("abstained on an answerable question" in result.failure_reasons) == (
            item.answerable and result.abstained
        )
        assert ("answered an unanswerable question" in result.failure_reasons) == (
            not item.answerable and not result.abstained
        )
        missing = [r for r in result.failure_reasons if r.startswith("missing fact: ")]
        if item.answerable and not result.abstained:
            assert len(missing) == round((1 - result.fact_recall) * len(item.facts))
        not_retrieved = [r for r in result.failure_reasons if r.startswith("gold evidence not retrieved")]
        if item.gold:
            assert len(not_retrieved) == round((1 - result.scores["recall@k"]) * len(item.gold))
        assert result.failed == bool(result.failure_reasons)
    # Follow-ups were asked with their history.
    follow_ups = [r for r in report.items if r.kind == "follow_up"]
    assert follow_ups and all(r.history == by_id[r.id].history and r.history for r in follow_ups)
    text = format_summary(report)
    for result in report.failures():
        assert f"FAIL {result.id} [{result.kind}]" in text
        assert all(f"     - {reason}" in text for reason in result.failure_reasons)


@pytest.mark.integration
def test_an_invented_sentence_is_an_unsupported_failure(answerer, embeddings):
    snapshot = answerer.snapshot
    source_id, text = next((sid, doc.text) for sid, doc in snapshot.sources.items() if "joined NATO" in doc.text)
    start = text.index("In 2023, the country joined NATO.")
    citation = make_citation(1, source_id, "t", "s", text, start, start + len("In 2023, the country joined NATO."))
    chunk = next(c for c in snapshot.chunks if c.source_id == source_id and c.start <= start < c.end)
    answer = Answer(
        answer="In 2023, the country joined NATO. [1]\n\nFinland joined NATO in 2021. [1]\n\nIt was late.",
        abstained=False,
        citations=[citation],
        retrieved=[
            RetrievedChunk(
                rank=1,
                chunk_id=chunk.chunk_id,
                source_id=source_id,
                section=chunk.section,
                start=chunk.start,
                end=chunk.end,
            )
        ],
    )
    item = EvalItem(
        "t1", "factoid", "When did Finland join NATO?", True, [["2023"]], ["In 2023, the country joined NATO."]
    )
    result = score_item(
        item, answer, 3.0, {sid: doc.text for sid, doc in snapshot.sources.items()}, SupportJudge(embeddings)
    )
    assert result.scores["faithfulness"] == pytest.approx(1 / 3)
    assert result.scores["citation_recall"] == pytest.approx(1 / 3)
    assert result.scores["fact_recall"] == 1.0 and result.scores["hit@k"] == 1.0
    unsupported = [r for r in result.failure_reasons if r.startswith("unsupported sentence: ")]
    assert len(unsupported) == 2
    assert "Finland joined NATO in 2021." in unsupported[0] and "2021" in unsupported[0]
    assert "It was late." in unsupported[1] and "cites nothing" in unsupported[1]


@pytest.mark.unit
def test_gate_adds_the_bounds_of_the_mode(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[min]\n"hit@k" = 0.9\n[max]\nfalse_abstain = 0.1\n[extractive.min]\nfaithfulness = 1.0\n')
    summary = {"hit@k": 1.0, "false_abstain": 0.0, "faithfulness": 0.8}
    assert gate(summary, path, mode="extractive") == ["faithfulness = 0.800 < 1.0"]
    assert gate(summary, path, mode="llm") == []
    assert gate({"hit@k": 0.5, "false_abstain": 0.2}, path, mode="llm") == [
        "hit@k = 0.500 < 0.9",
        "false_abstain = 0.200 > 0.1",
    ]
    assert gate({"false_abstain": 0.0}, path, mode="llm") == ["hit@k is not in the summary"]


@pytest.mark.integration
def test_progress_bar_on_request(answerer, capsys):
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    evaluate(answerer, load_items()[:3], texts)
    assert "eval (extractive)" not in capsys.readouterr().err
    evaluate(answerer, load_items()[:3], texts, progress=True)
    assert "eval (extractive)" in capsys.readouterr().err


def _cli(args: list[str], data_dir=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}  # no LLM server, default settings
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if data_dir is not None:
        env["QA_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.integration
def test_modes_come_from_one_factory(corpus_settings, embeddings):
    with pytest.raises(ConfigError, match="mode must be one of"):
        load_mode_answerer(corpus_settings, "magic")
    # The real factory: extractive is extractive even when the settings default to the llm mode.
    llm_default = corpus_settings.model_copy(update={"answerer": "llm", "llm_base_url": "http://127.0.0.1:9/v1"})
    answerer = load_mode_answerer(llm_default, "extractive", embeddings)
    assert type(answerer).__name__ == "ExtractiveAnswerer"


@pytest.mark.integration
def test_qa_eval_llm_mode_fails_cleanly_without_an_llm(corpus_settings):
    result = _cli(["-m", "rag.cli", "eval", "--mode", "llm"], corpus_settings.data_dir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa eval: "), result.stderr[-2000:]
    assert "QA_LLM_BASE_URL" in lines[0]


@pytest.mark.integration
def test_qa_eval_prints_writes_reports_and_gates(corpus_settings, tmp_path):
    out = tmp_path / "reports"
    result = _cli(
        ["-m", "rag.cli", "eval", "evals/sets/ukraine-article-validate.jsonl", "--out", str(out), "--gate"],
        corpus_settings.data_dir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "GATE" not in result.stderr
    for line in ("fact_recall_answerable", "faithfulness", "(answered items only; coverage", "hit@k", "kind"):
        assert line in result.stdout
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "report.html"}
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["summary"]["faithfulness"] == 1.0 and len(data["items"]) == data["summary"]["items"]
    # A missed bound fails the run with --gate, and only reports it without.
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(
        json.dumps(
            {
                "id": "w1",
                "kind": "factoid",
                "question": "When did Finland join NATO?",
                "answerable": True,
                "facts": [["1066"]],
                "gold": ["In 2023, the country joined NATO."],
            }
        )
    )
    gated = _cli(["-m", "evals.run", str(wrong), "--out", str(tmp_path / "w"), "--gate"], corpus_settings.data_dir)
    assert gated.returncode == 1
    assert "GATE fact_recall_answerable = 0.000 < " in gated.stderr
    assert "missing fact: 1066" in gated.stdout
    ungated = _cli(["-m", "evals.run", str(wrong), "--out", str(tmp_path / "w")], corpus_settings.data_dir)
    assert ungated.returncode == 0 and "GATE fact_recall_answerable" in ungated.stderr
