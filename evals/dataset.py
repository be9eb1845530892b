"""A question set: load one (JSONL) and validate it against the indexed source texts.

A gold quote that is not in any source is an error naming the item, so the set cannot drift
away from the corpus unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from evals.metrics import locate_quotes
from rag.errors import InputError

KINDS = frozenset(
    {
        "factoid",
        "list",
        "why",
        "paraphrase",
        "comparison",
        "follow_up",
        "pronoun",
        "false_premise",
        "unanswerable",
        "off_topic",
        "injection",
    }
)
DEFAULT_PATH = Path(__file__).parent / "sets" / "ukraine-article-tune.jsonl"


@dataclass(frozen=True)
class EvalItem:
    id: str
    kind: str
    question: str
    answerable: bool
    facts: list[list[str]] = field(default_factory=list)  # each fact: accepted variants
    gold: list[str] = field(default_factory=list)  # exact substrings of a source
    history: list[dict[str, str]] = field(default_factory=list)


def load_items(path: Path = DEFAULT_PATH) -> list[EvalItem]:
    items, seen = [], set()
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{line_no}: not JSON ({error.msg})") from None
        item_id = raw.get("id") or f"line {line_no}"
        problems = []
        if item_id in seen:
            problems.append("duplicate id")
        if raw.get("kind") not in KINDS:
            problems.append(f"unknown kind {raw.get('kind')!r}")
        if not isinstance(raw.get("question"), str) or not raw["question"].strip():
            problems.append("no question")
        if not isinstance(raw.get("answerable"), bool):
            problems.append("answerable must be true or false")
        if raw.get("answerable") and (not raw.get("facts") or not raw.get("gold")):
            problems.append("an answerable item needs facts and gold")
        if problems:
            raise InputError(f"{path}:{line_no} ({item_id}): {'; '.join(problems)}")
        seen.add(item_id)
        items.append(
            EvalItem(
                item_id,
                raw["kind"],
                raw["question"],
                raw["answerable"],
                [list(f) for f in raw.get("facts", [])],
                list(raw.get("gold", [])),
                list(raw.get("history", [])),
            )
        )
    return items


def validate_gold(items: list[EvalItem], source_texts: Mapping[str, str]) -> None:
    """Every gold quote must be an exact substring of some indexed source."""
    missing = [
        f"{item.id}: {quote[:60]!r}"
        for item in items
        for quote, found in zip(item.gold, locate_quotes(item.gold, source_texts), strict=True)
        if not found
    ]
    if missing:
        raise InputError("gold quotes not found in the indexed sources: " + "; ".join(missing))
