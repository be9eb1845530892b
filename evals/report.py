"""Write an eval run (evals.run.EvalReport) as report.json, report.md and report.html.

report.json holds every item (question, answer, citations, per-metric scores, failure reasons)
and the summary. report.md and report.html show the headline table with 95% intervals and the
gate's bounds, the per-kind table, external yardsticks beside our numbers, a side-by-side block
when the report carries another mode's summary, and each failing item with its cited passages.

The HTML page is self-contained (inline CSS and SVG, nothing fetched) and every piece of text
in it is escaped: questions, answers and documents are untrusted. `score_bars_svg` and
`latency_histogram_svg` are public; the review notebook draws them too.
"""

from __future__ import annotations

import html
import json
import math
import re
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evals.charts import latency_histogram_svg, score_bars_svg
from evals.gate import THRESHOLDS_PATH
from evals.results import HEADLINE, EvalReport, ItemResult

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
MEANINGS = {
    "fact_recall_answerable": "share of expected facts in the answer (answerable questions)",
    "all_facts_found": "answerable questions whose answer has every expected fact",
    "abstain_recall": "unanswerable questions the assistant declined",
    "false_abstain": "answerable questions the assistant declined (lower is better)",
    "faithfulness": "answer sentences supported by the passages they cite (answered questions)",
    "citation_recall": "sentences whose citations together support them (ALCE)",
    "citation_precision": "citations that support their sentence or are needed for it (ALCE)",
    "hit@k": "questions where a retrieved chunk holds gold evidence",
    "recall@k": "share of gold quotes some retrieved chunk holds",
    "mrr@10": "1 / rank of the first chunk with gold evidence",
    "ndcg@10": "how early and completely the gold evidence was retrieved",
    "exact_span_share": "citations whose quote is exactly source_text[start:end]",
    "coverage": "share of questions answered rather than declined",
    "short_answer_precision": (
        "short answers (the span that leads the quotes) that are a required fact; for a short list, its share of them"
    ),
    "latency_p50_ms": "median time per answer (ms)",
    "latency_p95_ms": "95th percentile time per answer (ms)",
}
TABLE_ORDER = (
    *HEADLINE,
    "exact_span_share",
    "coverage",
    "short_answers",
    "short_answer_precision",
    "latency_p50_ms",
    "latency_p95_ms",
)
KIND_COLUMNS = (
    "items",
    "answered",
    "failed",
    "fact_recall",
    "false_abstain",
    "abstain_recall",
    "faithfulness",
    "citation_precision",
    "hit@k",
    "mrr@10",
    "latency_ms",
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin-bottom:.3em}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37}.miss{color:#cf222e;font-weight:bold}
.item{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.answer{white-space:pre-wrap;background:#fafafa;padding:.5em;border-left:3px solid #999}
blockquote{white-space:pre-wrap;margin:.3em 0 .6em 1em;border-left:3px solid #ccc;padding-left:.6em;color:#444}
mark{background:#fff3a3;color:#000}.reason{color:#cf222e}.small{color:#666;font-size:.9em}
.wide{overflow-x:auto}td.num{white-space:nowrap}
"""


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def report_data(report: EvalReport) -> dict[str, Any]:
    """Everything in the report as JSON-ready data (non-finite numbers become null)."""
    return _json_safe(
        {
            "mode": report.mode,
            "summary": report.summary,
            "intervals": {k: list(v) for k, v in report.intervals.items()},
            "by_kind": report.by_kind,
            "external": report.external,
            "comparison": report.comparison,
            "items": [asdict(item) for item in report.items],
        }
    )


def _bounds(mode: str) -> dict[str, tuple[str, float]]:
    """metric -> ("min"|"max", bound) from evals/thresholds.toml, this mode's tables included."""
    if not THRESHOLDS_PATH.exists():
        return {}
    data = tomllib.loads(THRESHOLDS_PATH.read_text(encoding="utf-8"))
    bounds: dict[str, tuple[str, float]] = {}
    for table in (data, data.get(mode, {})):
        for side in ("min", "max"):
            for name, value in table.get(side, {}).items():
                bounds[name] = (side, value)
    return bounds


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.3f}"
    return str(value)


def _headline_rows(report: EvalReport) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, value, interval, bound, status, meaning) for the headline table."""
    bounds = _bounds(report.mode)
    rows = []
    for name in TABLE_ORDER:
        if name not in report.summary:
            continue
        value = report.summary[name]
        low_high = report.intervals.get(name)
        interval = f"{low_high[0]:.3f} – {low_high[1]:.3f}" if low_high else ""
        bound, status = "", ""
        if name in bounds:
            side, limit = bounds[name]
            ok = value >= limit if side == "min" else value <= limit
            bound = f"{'≥' if side == 'min' else '≤'} {limit}"
            status = "pass" if ok else "MISS"
        meaning = MEANINGS.get(name, "")
        if name in ("faithfulness", "citation_recall", "citation_precision"):
            meaning += f"; coverage {report.summary.get('coverage', 0.0):.2f}"
        rows.append((name, _fmt(value), interval, bound, status, meaning))
    return rows


def _external_rows(report: EvalReport) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for yardstick, entries in report.external.items():
        for entry in entries:
            rows.append(
                (
                    yardstick,
                    str(entry.get("metric", "")),
                    _fmt(entry.get("value")),
                    str(entry.get("ours", "")),
                    _fmt(entry.get("our_value")),
                    _fmt(entry.get("items")),
                )
            )
    return rows


def _comparison_rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    modes = [report.mode] + [m for m in report.comparison if m != report.mode]
    summaries = {report.mode: report.summary, **report.comparison}
    rows = [
        [name] + [_fmt(summaries[m].get(name)) for m in modes]
        for name in TABLE_ORDER
        if any(name in summaries[m] for m in modes)
    ]
    return modes, rows


# --- Markdown ------------------------------------------------------------------------------------


def _md(text: Any) -> str:
    """A table cell or inline text: HTML escaped, pipes escaped, one line."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _md_table(header: list[str], rows: list[list[str]] | list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def markdown(report: EvalReport) -> str:
    s = report.summary
    lines = [
        f"# Evaluation report — {report.mode} mode",
        "",
        f"{_fmt(s.get('items'))} questions, {_fmt(s.get('answered'))} answered "
        f"(coverage {s.get('coverage', 0.0):.2f}); {len(report.failures())} with failure reasons. "
        "Intervals: 95% percentile bootstrap (1000 resamples, seed 13).",
        "",
        "## Headline",
        "",
    ]
    lines += _md_table(["metric", "value", "95% CI", "bound", "gate", "meaning"], _headline_rows(report))
    lines += ["", "## Per kind", ""]
    lines += _md_table(
        ["kind", *KIND_COLUMNS],
        [[kind, *(_fmt(row.get(c)) for c in KIND_COLUMNS)] for kind, row in report.by_kind.items()],
    )
    if report.external:
        lines += ["", "## External yardsticks, beside ours", ""]
        lines += _md_table(["yardstick", "metric", "value", "ours", "our value", "items"], _external_rows(report))
    if report.comparison:
        modes, rows = _comparison_rows(report)
        lines += ["", "## Modes side by side", ""]
        lines += _md_table(["metric", *modes], rows)
    lines += ["", "## Failures", ""]
    if not report.failures():
        lines.append("None.")
    for item in report.failures():
        lines += [f"### {_md(item.id)} ({_md(item.kind)}): {_md(item.question)}", ""]
        lines += [f"- {_md(reason)}" for reason in item.failure_reasons]
        label = "Declined" if item.abstained else "Answer"
        lines += ["", f"{label}: {_md(item.answer)}", ""]
        for passage in item.passages:
            lines.append(f"> [{passage['n']}] {_md(passage['quote'])}")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- HTML ----------------------------------------------------------------------------------------


def _h(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _table(header: list[str], rows: list[list[str]] | list[tuple], numeric_from: int = 1) -> str:
    """Header and cells are plain text; everything is escaped here."""
    head = "".join(f"<th>{_h(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if i >= numeric_from and _is_number(cell) else ''}>{_h(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _is_number(cell: Any) -> bool:
    return bool(re.fullmatch(r"-?\d+(?:\.\d+)?|–|\d\.\d+ – \d\.\d+", str(cell)))


def _answer_html(text: str) -> str:
    return MARKER.sub(lambda m: f"<b>[{m.group(1)}]</b>", html.escape(text))


def _item_html(item: ItemResult) -> str:
    parts = [f'<div class="item" id="item-{_h(item.id)}"><h3>{_h(item.id)} ({_h(item.kind)}): {_h(item.question)}</h3>']
    if item.history:
        turns = "<br>".join(f"{_h(t.get('role'))}: {_h(t.get('content'))}" for t in item.history)
        parts.append(f'<p class="small">Earlier turns:<br>{turns}</p>')
    parts.append("<ul>" + "".join(f'<li class="reason">{_h(r)}</li>' for r in item.failure_reasons) + "</ul>")
    if item.facts:
        facts = "; ".join(" or ".join(f"“{_h(v)}”" for v in variants) for variants in item.facts)
        parts.append(f'<p class="small">Expected facts: {facts}</p>')
    label = "Declined" if item.abstained else "Answer"
    parts.append(f'<p><b>{label}:</b></p><div class="answer">{_answer_html(item.answer)}</div>')
    unsupported = [s for s in item.sentences if not s.get("supported")]
    if unsupported:
        parts.append(
            "<p><b>Unsupported sentences:</b></p><ul>"
            + "".join(
                f"<li>{_h(s['text'])} <span class=small>(cites {_h(s['markers'])}: "
                f"{_h('; '.join(s['reasons']))})</span></li>"
                for s in unsupported
            )
            + "</ul>"
        )
    for passage in item.passages:
        where = f"[{passage['n']}] {passage.get('title', '')} — {passage.get('section', '')}"
        parts.append(
            f'<p class="small">{_h(where)}</p><blockquote>…{_h(passage["before"])}'
            f"<mark>{_h(passage['quote'])}</mark>{_h(passage['after'])}…</blockquote>"
        )
    parts.append("</div>")
    return "".join(parts)


def _headline_html(report: EvalReport) -> str:
    rows = _headline_rows(report)
    head = "".join(f"<th>{h}</th>" for h in ("metric", "value", "95% CI", "bound", "gate", "meaning"))
    body = "".join(
        f"<tr><td>{_h(n)}</td><td class=num>{_h(v)}</td><td class=num>{_h(ci)}</td><td>{_h(b)}</td>"
        f'<td class="{"miss" if st == "MISS" else "pass"}">{_h(st)}</td><td>{_h(m)}</td></tr>'
        for n, v, ci, b, st, m in rows
    )
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _questions_html(report: EvalReport) -> str:
    rows = [
        [
            i.id,
            i.kind,
            "yes" if i.abstained else "no",
            _fmt(i.scores.get("fact_recall")),
            _fmt(i.scores.get("faithfulness")),
            _fmt(i.scores.get("hit@k")),
            f"{i.latency_ms:.0f}",
            i.question,
        ]
        for i in report.items
    ]
    return _table(["id", "kind", "declined", "fact recall", "faithfulness", "hit@k", "ms", "question"], rows, 3)


def html_page(report: EvalReport) -> str:
    """The whole report as one self-contained HTML page."""
    s = report.summary
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Evaluation report — {_h(report.mode)}</title><style>{CSS}</style></head><body>",
        f"<h1>Evaluation report — {_h(report.mode)} mode</h1>",
        f"<p>{_h(_fmt(s.get('items')))} questions, {_h(_fmt(s.get('answered')))} answered (coverage "
        f"{s.get('coverage', 0.0):.2f}); {len(report.failures())} with failure reasons. Intervals: 95% "
        f"percentile bootstrap (1000 resamples, seed 13). Faithfulness and citation scores are over "
        f"answered questions only; retrieval scores over questions with gold quotes "
        f"({_h(_fmt(s.get('retrieval_items')))}, k = {_h(_fmt(s.get('retrieval_k')))}).</p>",
        "<h2>Headline</h2>",
    ]
    parts.append(_headline_html(report))
    parts.append("<h2>Per kind</h2>")
    parts.append(
        _table(
            ["kind", *KIND_COLUMNS],
            [[kind, *(_fmt(row.get(c)) for c in KIND_COLUMNS)] for kind, row in report.by_kind.items()],
        )
    )
    parts.append(f"<h2>Charts</h2>{score_bars_svg(report)}<br>{latency_histogram_svg(report)}")
    if report.external:
        parts.append("<h2>External yardsticks, beside ours</h2>")
        parts.append(_table(["yardstick", "metric", "value", "ours", "our value", "items"], _external_rows(report), 2))
    if report.comparison:
        modes, comparison = _comparison_rows(report)
        parts.append('<h2>Modes side by side</h2><div class="comparison">')
        parts.append(_table(["metric", *modes], comparison) + "</div>")
    parts.append("<h2>Failures</h2>")
    failures = report.failures()
    parts.append("<p>None.</p>" if not failures else "".join(_item_html(item) for item in failures))
    parts.append("<h2>All questions</h2>")
    parts.append(_questions_html(report))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(report: EvalReport, out_dir: Path | str) -> dict[str, Path]:
    """Write report.json, report.md and report.html into `out_dir` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(
        json.dumps(report_data(report), ensure_ascii=False, indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    paths["md"].write_text(markdown(report), encoding="utf-8")
    paths["html"].write_text(html_page(report), encoding="utf-8")
    return paths
