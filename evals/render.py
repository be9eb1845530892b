"""HTML for people who read results rather than code (evals/review.ipynb): what is in the corpus,
answers with each quoted passage highlighted in its source, the eval summary and its failures.

Every piece of text from a source, a question or an answer is escaped with html.escape: a
document that contains markup is shown as text, never run.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.gate import THRESHOLDS_PATH
from rag.errors import InputError

PASSAGE_CHARS = 240  # context shown on each side of a quote, within its paragraph
MARKER = re.compile(r"\[(\d+)\]")

METRIC_MEANINGS = {
    "items": "questions asked",
    "fact_recall_answerable": "of the facts an answer should contain, the share it did contain (answerable questions)",
    "all_facts_found": "answerable questions whose answer contained every expected fact",
    "exact_span_share": "citations whose quote is word for word the text at the position it names",
    "citations": "citations given in all answers",
    "abstain_recall": "questions the sources cannot answer on which the assistant rightly declined",
    "false_abstain": "questions the sources do answer on which the assistant wrongly declined (lower is better)",
    "latency_p50_ms": "typical time to answer one question, in milliseconds (median)",
    "latency_p95_ms": "time within which 95 of 100 questions are answered, in milliseconds",
    "answered": "questions the assistant answered rather than declined",
    "coverage": "share of all questions the assistant answered",
    "faithfulness": "answer sentences that the passages they cite actually support",
    "citation_recall": "answer sentences that carry a citation supporting them",
    "citation_precision": "citations that really help support the sentence they are attached to",
    "retrieval_items": "questions with known evidence, used for the search scores below",
    "retrieval_k": "passages the search returns per question",
    "hit@k": "questions where the search found at least one piece of the known evidence",
    "recall@k": "share of the known evidence that the search found",
    "mrr@10": "how near the top the first piece of evidence was (1 = first place, 0.5 = second, ...)",
    "ndcg@10": "how well the search ranked all the evidence at the top (1 = ideal)",
}

_TABLE = 'style="border-collapse:collapse;margin:0.5em 0"'
_CELL = 'style="border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top"'
_PASSES = '<span style="color:#1a7f37">✓ passes</span>'
_MISSES = '<span style="color:#cf222e">✗ misses</span>'


def escape(value: Any, missing: str = "unknown") -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return missing
    return html.escape(str(value))


def table_html(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A bordered table; header and cells must already be escaped HTML."""
    head = "".join(f"<th {_CELL}>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def corpus_tables_html(snapshot) -> str:
    """One table of the documents, then per document its sections with chunk and sentence counts."""
    chunks = Counter((c.source_id, c.section) for c in snapshot.chunks)
    sentences = Counter((s.source_id, s.section) for s in snapshot.sentences)
    parts = [
        f"<p>{len(snapshot.sources)} document(s), {len(snapshot.chunks)} chunks, "
        f"{len(snapshot.sentences)} sentences in the index.</p>"
    ]
    rows = []
    for doc in snapshot.sources.values():
        meta = doc.metadata
        rows.append(
            [
                escape(doc.title),
                escape(meta.get("kind")),
                escape(meta.get("language")),
                escape(meta.get("origin")),
                escape(meta.get("author")),
                escape(meta.get("date")),
                escape(meta.get("url")),
                f"{len(doc.text):,}",
                str(sum(n for (sid, _), n in chunks.items() if sid == doc.source_id)),
            ]
        )
    parts.append(
        table_html(["title", "kind", "language", "origin", "author", "date", "address", "characters", "chunks"], rows)
    )
    for doc in snapshot.sources.values():
        sections = list(dict.fromkeys(doc.sections + [s for (sid, s) in chunks if sid == doc.source_id]))
        parts.append(f"<h4>Sections of “{escape(doc.title)}”</h4>")
        parts.append(
            table_html(
                ["section", "chunks", "sentences"],
                (
                    [
                        escape(section, "(no heading)"),
                        str(chunks[(doc.source_id, section)]),
                        str(sentences[(doc.source_id, section)]),
                    ]
                    for section in sections
                ),
            )
        )
    return "\n".join(parts)


def passage_html(text: str, start: int, end: int, context: int = PASSAGE_CHARS) -> str:
    """The quote text[start:end] in <mark>, with up to `context` characters of its paragraph on
    each side, cut at word boundaries."""
    para_start = text.rfind("\n\n", 0, start)
    para_start = 0 if para_start < 0 else para_start + 2
    para_end = text.find("\n\n", end)
    para_end = len(text) if para_end < 0 else para_end
    low, high = max(para_start, start - context), min(para_end, end + context)
    if low > para_start:
        space = text.find(" ", low, start)
        low = space + 1 if space >= 0 else low
    if high < para_end:
        space = text.rfind(" ", end, high)
        high = space if space >= 0 else high
    before = ("…" if low > para_start else "") + html.escape(text[low:start].lstrip())
    after = html.escape(text[end:high].rstrip()) + ("…" if high < para_end else "")
    return f"{before}<mark>{html.escape(text[start:end])}</mark>{after}"


def citations_html(citations: Sequence[Any], snapshot) -> str:
    """Each citation (a Citation or its dict) as a heading line and its highlighted passage."""
    parts = []
    for citation in citations:
        c = citation if isinstance(citation, Mapping) else citation.model_dump()
        source = snapshot.sources.get(c["source_id"])
        where = f"{escape(c['title'])} — {escape(c['section'], '(no heading)')}, characters {c['start']}–{c['end']}"
        if c.get("page") is not None:
            where += f", page {c['page']}"
        if source is None or source.text[c["start"] : c["end"]] != c["quote"]:
            passage = (
                f"<strong>This quote is not the text at the position it names.</strong> Quote: {escape(c['quote'])}"
            )
        else:
            passage = passage_html(source.text, c["start"], c["end"])
        parts.append(
            f'<div style="margin:0.4em 0 0.8em 0"><div><b>[{int(c["n"])}]</b> {where}</div>'
            f'<blockquote style="white-space:pre-wrap;margin:0.3em 0 0 1.5em;border-left:3px solid #ccc;'
            f'padding-left:0.6em">{passage}</blockquote></div>'
        )
    return "\n".join(parts)


def _answer_text_html(text: str) -> str:
    escaped = html.escape(text)
    return MARKER.sub(r"<b>[\1]</b>", escaped).replace("\n", "<br>")


def answer_html(answer, snapshot, question: str | None = None) -> str:
    """An answer (rag.answer.Answer) with its [n] markers, then each cited passage, quote in <mark>."""
    parts = [f"<h4>Q: {escape(question)}</h4>"] if question is not None else []
    if answer.abstained:
        parts.append(f"<p><em>The assistant declined (abstained):</em> {escape(answer.answer)}</p>")
    else:
        parts.append(f"<p>{_answer_text_html(answer.answer)}</p>")
        parts.append(citations_html(answer.citations, snapshot))
    return "\n".join(parts)


def ask_html(answerer, question: str) -> str:
    """Ask and render; a question the assistant refuses (empty, too long) is shown as a message."""
    try:
        answer = answerer.answer(question)
    except InputError as error:
        return f"<h4>Q: {escape(question, '(empty)')}</h4><p><strong>Not asked:</strong> {escape(error)}</p>"
    return answer_html(answer, answerer.snapshot, question)


def summary_html(report, thresholds_path: Path = THRESHOLDS_PATH) -> str:
    """The eval headline (an evals.run.EvalReport): each metric, what it means, its value, its
    95% interval where computed, and the bound the gate holds it to, with pass or miss."""
    bounds = tomllib.loads(thresholds_path.read_text(encoding="utf-8"))
    tables = [bounds, bounds.get(report.mode, {})]  # every mode, then this mode (as evals.run.gate)
    lows = {name: low for table in tables for name, low in table.get("min", {}).items()}
    highs = {name: high for table in tables for name, high in table.get("max", {}).items()}
    intervals = report.intervals
    rows = []
    for name, value in report.summary.items():
        if name in lows:
            bound, ok = f"at least {lows[name]}", value >= lows[name]
        elif name in highs:
            bound, ok = f"at most {highs[name]}", value <= highs[name]
        else:
            bound, ok = "", None
        status = "" if ok is None else _PASSES if ok else _MISSES
        interval = f"{intervals[name][0]:.2f} – {intervals[name][1]:.2f}" if name in intervals else ""
        rows.append(
            [
                escape(name),
                escape(METRIC_MEANINGS.get(name), ""),
                escape(_number(value)),
                interval,
                escape(bound, ""),
                status,
            ]
        )
    return table_html(["metric", "what it means", "value", "95% interval", "required", ""], rows)


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def failures_html(report, snapshot) -> str:
    """Each failing eval item (evals.run.ItemResult): question, earlier turns, why it failed, the
    facts expected, the answer and the passages it quoted."""
    failures = report.failures()
    if not failures:
        return "<p>No failures: every question was answered or declined as expected.</p>"
    parts = [f"<p>{len(failures)} of {len(report.items)} questions failed.</p>"]
    for item in failures:
        parts.append(f"<h4>{escape(item.id)} ({escape(item.kind)}): {escape(item.question)}</h4>")
        if item.history:
            turns = "<br>".join(f"{escape(t.get('role'))}: {escape(t.get('content'))}" for t in item.history)
            parts.append(f"<p><em>Earlier in the conversation:</em><br>{turns}</p>")
        parts.append(
            "<p><em>Why it failed:</em></p><ul>"
            + "".join(f"<li>{escape(reason)}</li>" for reason in item.failure_reasons)
            + "</ul>"
        )
        if item.facts:
            facts = "; ".join(" or ".join(f"“{escape(v)}”" for v in variants) for variants in item.facts)
            parts.append(f"<p><em>Expected facts:</em> {facts}</p>")
        label = "Declined" if item.abstained else "Answer"
        parts.append(f"<p><em>{label}:</em> {_answer_text_html(item.answer)}</p>")
        parts.append(citations_html(item.citations, snapshot))
    return "\n".join(parts)
