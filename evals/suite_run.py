"""`qa eval --suite PART`: every question set of one part (evals/sets.toml), each asked of its own
subject's index, one report per set under --out/<set>/, and one table of the headline numbers.
With --gate, exits 1 when a validation set misses a bound of evals/thresholds.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from evals.dataset import load_items
from evals.gate import gate
from evals.report import write_reports
from evals.results import EvalReport
from evals.scoring import evaluate
from evals.suite import QuestionSet, load_sets, open_subject, subject_settings

if TYPE_CHECKING:
    from rag.chain import Answerer
    from rag.embeddings import MiniLMEmbeddings
    from rag.settings import Settings

COLUMNS = (
    ("items", "items"),
    ("fact_recall_answerable", "facts"),
    ("false_abstain", "false abst."),
    ("abstain_recall", "declined"),
    ("comparison_complete", "both sides"),
    ("exact_span_share", "exact"),
    ("hit@k", "hit@k"),
    ("short_answers", "short"),
    ("short_answer_precision", "short right"),
    ("latency_p50_ms", "p50 ms"),
)


def evaluate_sets(
    settings: Settings, sets: list[QuestionSet], mode: str = "extractive", embeddings: MiniLMEmbeddings | None = None
) -> dict[str, EvalReport]:
    """Every set evaluated on its subject's answerer (one model, one answerer per subject)."""
    from rag.llm import LLMAnswerer  # the written answers' role check comes with their answerer

    if embeddings is None:
        from rag.factory import query_encoder

        embeddings = query_encoder(settings)  # what the answering processes use (QA_QUERY_ENCODER)
    answerers: dict[str, Answerer] = {}
    reports = {}
    for question_set in sets:
        items = load_items(question_set.path)
        if question_set.subject not in answerers:
            answerers[question_set.subject] = open_subject(subject_settings(settings, question_set), embeddings, mode)
        answerer = answerers[question_set.subject]
        texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
        roles = answerer.roles if isinstance(answerer, LLMAnswerer) else None
        reports[question_set.name] = evaluate(answerer, items, texts, embeddings=embeddings, mode=mode, roles=roles)
    return reports


def table(reports: dict[str, EvalReport], parts: dict[str, str]) -> str:
    header = f"{'set':28s} {'part':9s}" + "".join(f"{label:>12s}" for _, label in COLUMNS)
    lines = [header]
    for name, report in reports.items():
        cells = []
        for key, _ in COLUMNS:
            value = report.summary.get(key)
            cells.append(f"{'–' if value is None else (f'{value:.3f}' if isinstance(value, float) else value):>12}")
        lines.append(f"{name:28s} {parts[name]:9s}" + "".join(cells))
    return "\n".join(lines)


def run_suite(settings: Settings, part: str | None, out: Path, mode: str, gate_it: bool) -> int:
    sets = load_sets(part)
    reports = evaluate_sets(settings, sets, mode)
    parts = {s.name: s.part for s in sets}
    print(table(reports, parts))
    misses = []
    for question_set in sets:
        write_reports(reports[question_set.name], out / question_set.name)
        if question_set.part == "validate":
            misses += [f"{question_set.name}: {miss}" for miss in gate(reports[question_set.name].summary, mode=mode)]
    print(f"reports: {out}/<set>/report.html")
    for miss in misses:
        print(f"GATE {miss}", file=sys.stderr)
    return 1 if (gate_it and misses) else 0
