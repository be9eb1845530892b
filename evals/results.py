"""What an evaluation run produces: one `ItemResult` per question and the `EvalReport` that
holds them with the summary numbers. Scoring (evals/scoring.py) fills them; the summary
(evals/summary.py), the gate (evals/gate.py) and the reports (evals/report.py, evals/render.py)
read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Headline numbers: the summary keys that get 95% bootstrap intervals.
HEADLINE = (
    "fact_recall_answerable",
    "all_facts_found",
    "abstain_recall",
    "false_abstain",
    "faithfulness",
    "citation_recall",
    "citation_precision",
    "hit@k",
    "recall@k",
    "mrr@10",
    "ndcg@10",
)


@dataclass
class ItemResult:
    id: str
    kind: str
    question: str
    answerable: bool
    abstained: bool
    answer: str
    fact_recall: float | None
    exact_span_share: float
    latency_ms: float
    citations: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, float | None] = field(default_factory=dict)  # every per-item metric, None = not applicable
    failure_reasons: list[str] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)  # text, markers, supported, reasons
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # rank order, with the gold quotes each covers
    passages: list[dict[str, Any]] = field(default_factory=list)  # per citation: text before, quote, after
    history: list[dict[str, str]] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    guard: dict[str, Any] | None = None  # llm mode: what the grounding guard did
    fallback: str | None = None  # llm mode: "extractive" when nothing generated survived
    short_answer: str | None = None  # the span that leads the quotes, or a short list's items, if any

    @property
    def failed(self) -> bool:
        return bool(self.failure_reasons)


@dataclass
class EvalReport:
    items: list[ItemResult]
    summary: dict[str, float]
    mode: str = "extractive"
    by_kind: dict[str, dict[str, float | None]] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95% bootstrap, headline numbers
    external: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # yardstick -> rows beside ours
    comparison: dict[str, dict[str, float]] = field(default_factory=dict)  # other mode -> its summary

    def failures(self) -> list[ItemResult]:
        return [item for item in self.items if item.failed]

    def compare_with(self, other: EvalReport) -> None:
        """Carry another mode's summary, for the side-by-side block of the reports."""
        if other.mode == self.mode:
            raise ValueError(f"both reports are for the {self.mode} mode")
        self.comparison[other.mode] = dict(other.summary)
