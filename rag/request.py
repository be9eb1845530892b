"""The request every answerer takes, and its checks: `AnswerRequest` in, `PreparedQuestion` out.

Both answering modes start with `prepare_question`, so a bad question, history, top_k or filter
is the same `InputError` whatever answers it, and it is raised before any model is asked. The
CLI and `qa batch` call the single checks early, so a typo fails before the model loads.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import InputError, UnknownFilterError
from rag.settings import Settings

if TYPE_CHECKING:  # a type only: the checks stay importable without the index's dependencies
    from rag.snapshot import IndexSnapshot

ROLES = ("user", "assistant")
FILTER_KEYS = ("source_id", "section")
# How many valid names an error about an unknown filter lists (a terminal line or two).
LISTED_NAMES = 12
# A turn of history may be this many times longer than a question (an answer quotes at length).
HISTORY_TURN_FACTOR = 10
FOLLOW_UP_CONTEXT_CHARS = 2000


@dataclass(frozen=True)
class AnswerRequest:
    """A question as a caller gives it, unchecked: values may be of any type until prepared."""

    question: Any
    history: Sequence[Mapping[str, str]] | None = None
    top_k: Any = None
    filters: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PreparedQuestion:
    """A checked request: what retrieval and answering work from."""

    question: str  # white space collapsed
    history: list[dict[str, str]]  # checked turns, oldest first
    context: str | None  # what a follow-up leans on (the previous user turn), or None
    filters: dict[str, str]
    top_k: int
    started: float  # time.perf_counter() when the request came in, for timings_ms.total


def prepare_question(request: AnswerRequest, settings: Settings, snapshot: IndexSnapshot) -> PreparedQuestion:
    """Check every part of the request; filters must name a source or section in the index."""
    started = time.perf_counter()
    question = check_question(request.question, settings.max_question_chars)
    history = check_history(request.history, settings.max_history_turns, settings.max_question_chars)
    filters = check_filters(request.filters)
    for key, value in filters.items():
        known = set(snapshot.sources) if key == "source_id" else {c.section for c in snapshot.chunks}
        filters[key] = resolve_filter(key, value, known)
    top_k = check_top_k(request.top_k, settings.top_k)
    return PreparedQuestion(question, history, follow_up_context(history), filters, top_k, started)


def check_question(question: Any, max_chars: int) -> str:
    if not isinstance(question, str):
        raise InputError(f"question must be a string, got {type(question).__name__}")
    if not _encodable(question):
        raise InputError("question contains characters that are not valid Unicode text (lone surrogates)")
    cleaned = " ".join(question.replace("\x00", " ").split())
    if not cleaned:
        raise InputError("question is empty")
    if len(cleaned) > max_chars:
        raise InputError(f"question is {len(cleaned)} characters long; the limit is {max_chars}")
    return cleaned


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_history(history: Any, max_turns: int, max_chars: int) -> list[dict[str, str]]:
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise InputError(f"history must be a list of {{role, content}} turns, got {type(history).__name__}")
    if len(history) > max_turns:
        raise InputError(f"history has {len(history)} turns; the limit is {max_turns}")
    turns = []
    limit = max_chars * HISTORY_TURN_FACTOR
    for position, turn in enumerate(history):
        if not isinstance(turn, Mapping) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise InputError(f"history[{position}] must be {{'role': 'user'|'assistant', 'content': str}}")
        if not _encodable(turn["content"]):
            raise InputError(f"history[{position}] contains characters that are not valid Unicode text")
        if len(turn["content"]) > limit:
            raise InputError(f"history[{position}] is {len(turn['content'])} characters; the limit is {limit}")
        turns.append({"role": turn["role"], "content": turn["content"]})
    return turns


def check_top_k(top_k: Any, default: int) -> int:
    if top_k is None:
        return default
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 50:
        raise InputError(f"top_k must be an integer between 1 and 50, got {top_k!r}")
    return top_k


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_KEYS:
            raise InputError(f"unknown filter {key!r}; use one of {', '.join(FILTER_KEYS)}")
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"filter {key} must be a non-empty string, got {value!r}")
        clean[key] = value.strip()
    return clean


def _loose(text: str) -> str:
    """Case, accents, quote marks and punctuation set aside: "’Finlandization’" -> "finlandization"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def resolve_filter(key: str, value: str, known: set[str]) -> str:
    """The one source id or section heading that `value` names: itself, the same words whatever
    the case, accents and quote marks, or the only one whose words contain it. Otherwise an
    UnknownFilterError that lists what there is (or the several it could mean)."""
    if value in known:
        return value
    wanted = _loose(value)
    same = sorted(k for k in known if _loose(k) == wanted)
    if len(same) == 1:
        return same[0]
    partial = same or sorted(k for k in known if wanted and wanted in _loose(k))
    if len(partial) == 1:
        return partial[0]
    label = key.replace("_", " ")
    if partial:
        raise UnknownFilterError(f"{label} {value!r} could mean several: {_listed(partial)}")
    raise UnknownFilterError(f"no {label} {value!r} in the index; there are: {_listed(sorted(known))}")


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:LISTED_NAMES])
    return shown + (f" and {len(names) - LISTED_NAMES} more" if len(names) > LISTED_NAMES else "")


def follow_up_context(history: Sequence[Mapping[str, str]]) -> str | None:
    """The subject a follow-up leans on: the user's previous question. (The assistant's reply is
    long and quotes; the user's words name the topic more cleanly.)"""
    for turn in reversed(history):
        if turn["role"] == "user" and turn["content"].strip():
            return " ".join(turn["content"].split())[:FOLLOW_UP_CONTEXT_CHARS]
    return None
