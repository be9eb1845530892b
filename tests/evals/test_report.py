"""evals/report.py: report.json, report.md and a self-contained, escaped report.html."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from evals.charts import latency_histogram_svg, score_bars_svg
from evals.dataset import load_items
from evals.report import write_reports
from evals.results import EvalReport, ItemResult
from evals.scoring import evaluate
from evals.summary import breakdown, intervals, summarise

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def report(answerer, embeddings):
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    return evaluate(answerer, load_items(), texts, embeddings=embeddings)


class _Tags(HTMLParser):
    """Every start tag with its attributes, to check what the page would load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


@pytest.mark.integration
def test_writes_three_reports_with_every_item(report, tmp_path):
    paths = write_reports(report, tmp_path / "out")
    assert set(paths) == {"json", "md", "html"} and all(p.is_file() for p in paths.values())
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["mode"] == "extractive" and data["summary"]["items"] == len(data["items"]) == len(report.items)
    for key in ("fact_recall_answerable", "faithfulness", "coverage", "hit@k", "ndcg@10", "latency_p95_ms"):
        assert key in data["summary"]
    assert set(data["intervals"]) >= {"fact_recall_answerable", "faithfulness", "hit@k"}
    for item in data["items"]:
        assert {"question", "answer", "citations", "scores", "failure_reasons"} <= set(item)
        assert set(item["scores"]) >= {
            "fact_recall",
            "exact_span_share",
            "faithfulness",
            "citation_recall",
            "citation_precision",
            "hit@k",
            "recall@k",
            "mrr@10",
            "ndcg@10",
            "latency_ms",
        }
    failing = [item["id"] for item in data["items"] if item["failure_reasons"]]
    assert failing == [item.id for item in report.failures()]

    md = paths["md"].read_text(encoding="utf-8")
    assert "| metric | value | 95% CI |" in md and "## Per kind" in md
    low, high = report.intervals["fact_recall_answerable"]
    assert f"{low:.3f} – {high:.3f}" in md
    for kind in report.by_kind:
        assert f"| {kind} |" in md
    for item in report.failures():
        assert f"### {item.id} (" in md


@pytest.mark.integration
def test_html_is_self_contained_and_shows_failures_with_marked_quotes(report, tmp_path):
    page = write_reports(report, tmp_path)["html"].read_text(encoding="utf-8")
    tags = _tags(page)
    names = [tag for tag, _ in tags]
    assert "script" not in names and "link" not in names and "img" not in names and "iframe" not in names
    assert not any(key in ("src", "href") or key.startswith("on") for _, attrs in tags for key in attrs)
    assert "@import" not in page and "url(" not in page
    # The only address on the page is the SVG namespace, which is not fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert names.count("svg") == 2
    with_passages = [item for item in report.failures() if item.passages]
    assert with_passages, "expected a failing item that cites passages"
    for item in with_passages:
        assert f'id="item-{item.id}"' in page
    assert names.count("mark") >= sum(len(item.passages) for item in report.failures())


@pytest.mark.unit
def test_every_piece_of_text_is_escaped(tmp_path):
    item = ItemResult(
        id="x<1>",
        kind="<b>kind</b>",
        question=HOSTILE,
        answerable=True,
        abstained=False,
        answer=f"{HOSTILE} [1]",
        fact_recall=0.0,
        exact_span_share=1.0,
        latency_ms=12.0,
        citations=[
            {
                "n": 1,
                "source_id": "s",
                "title": HOSTILE,
                "section": HOSTILE,
                "quote": HOSTILE,
                "start": 0,
                "end": 5,
                "page": None,
            }
        ],
        scores={"fact_recall": 0.0, "faithfulness": 0.0},
        failure_reasons=[f"missing fact: {HOSTILE}"],
        sentences=[{"text": HOSTILE, "markers": [1], "supported": False, "reasons": [HOSTILE]}],
        passages=[
            {
                "n": 1,
                "before": HOSTILE,
                "quote": "</mark><script>x</script>",
                "after": "& <i>",
                "title": HOSTILE,
                "section": "s",
            }
        ],
        history=[{"role": "user", "content": HOSTILE}],
        facts=[[HOSTILE]],
        gold=[HOSTILE],
    )
    results = [item]
    report = EvalReport(
        results,
        summarise(results),
        by_kind=breakdown(results),
        intervals=intervals(results),
        external={HOSTILE: [{"metric": HOSTILE, "value": 0.5, "ours": HOSTILE, "our_value": 1.0}]},
    )
    paths = write_reports(report, tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    names = [tag for tag, _ in _tags(page)]
    assert "script" not in names and "img" not in names and "i" not in names
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert names.count("mark") == 1  # the quote's closing tag could not end the highlight early
    md = paths["md"].read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["items"][0]["question"] == HOSTILE  # data kept as is
    for svg in (score_bars_svg(report), latency_histogram_svg(report)):
        ET.fromstring(svg)  # still well-formed XML with a hostile kind name
        assert "<b>" not in svg


@pytest.mark.integration
def test_svg_plots_are_valid_and_follow_the_numbers(report):
    bars = ET.fromstring(score_bars_svg(report))
    assert bars.tag == f"{SVG}svg"
    labels = [t.text for t in bars.iter(f"{SVG}text")]
    for kind in report.by_kind:
        assert kind in labels
    titled = {
        r.find(f"{SVG}title").text: float(r.get("width"))
        for r in bars.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    }
    factoid = report.by_kind["factoid"]["fact_recall"]
    assert titled[f"factoid fact_recall: {factoid:.3f}"] == pytest.approx(380 * factoid, abs=0.1)
    off_topic = report.by_kind["off_topic"]["abstain_recall"]
    assert f"off_topic abstain_recall: {off_topic:.3f}" in titled

    histogram = ET.fromstring(latency_histogram_svg(report))
    counts = [
        int(r.find(f"{SVG}title").text.rsplit(": ", 1)[1])
        for r in histogram.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]
    assert sum(counts) == len(report.items)
    assert any("p95" in (t.text or "") for t in histogram.iter(f"{SVG}text"))


@pytest.mark.integration
def test_side_by_side_block_for_two_modes(report, tmp_path):
    assert "Modes side by side" not in write_reports(report, tmp_path / "one")["html"].read_text(encoding="utf-8")
    both = replace(report, comparison={})
    other = replace(report, mode="llm", summary={**report.summary, "faithfulness": 0.5})
    both.compare_with(other)
    with pytest.raises(ValueError, match="both reports"):
        both.compare_with(report)
    paths = write_reports(both, tmp_path / "two")
    page, md = paths["html"].read_text(encoding="utf-8"), paths["md"].read_text(encoding="utf-8")
    assert "Modes side by side" in page and "<th>extractive</th><th>llm</th>" in page
    assert re.search(r"\| faithfulness \| 1\.000 \| 0\.500 \|", md)
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["comparison"]["llm"]["faithfulness"] == 0.5


@pytest.mark.integration
def test_external_numbers_are_rendered_and_nan_becomes_null(report, tmp_path):
    with_external = replace(
        report,
        external={
            "ragas 0.4.3": [
                {"metric": "non_llm_context_recall", "value": 0.875, "ours": "recall@k", "our_value": 1.0, "items": 40},
                {"metric": "broken", "value": float("nan"), "ours": "", "our_value": None, "items": 0},
            ]
        },
    )
    paths = write_reports(with_external, tmp_path)
    assert "| ragas 0.4.3 | non_llm_context_recall | 0.875 | recall@k | 1.000 | 40 |" in paths["md"].read_text(
        encoding="utf-8"
    )
    assert "External yardsticks" in paths["html"].read_text(encoding="utf-8")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["external"]["ragas 0.4.3"][1]["value"] is None
