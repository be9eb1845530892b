"""Follow-up questions: what an "it", "they" or "that treaty" refers to, from the recent
conversation, the assistant's own answers included ("When was it signed?" after an answer about
the Budapest Memorandum).

The context is the previous user question plus the names in the assistant's last answer (its
[n] markers and Sources list removed). Retrieval leans on it at a lower weight; when the question
names nothing itself and refers back, those names join it as names to look for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.language import english_words
from rag.names import Name, name_spans
from rag.question import QuestionShape
from rag.vocabulary import Vocabulary

if TYPE_CHECKING:
    from spacy.language import Language

# How much of a long assistant answer is read for names: its opening, where the subject stands.
ANSWER_CHARS = 600
CONTEXT_CHARS = 2000
# Names carried into a follow-up: the few the last turns are about; more would blur the search.
CARRIED_NAMES = 3
MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
SOURCES_BLOCK = re.compile(r"\n\s*Sources:\s*\n[\s\S]*$")


def already_said(history: Sequence[Mapping[str, str]]) -> str:
    """What the assistant has already told the user in this conversation, its markers and
    Sources lists removed and its spaces collapsed: a follow-up that leans on it ("What is its
    capital?") asks for something new, so a source sentence quoted there is not its answer."""
    answers = [
        MARKERS.sub("", SOURCES_BLOCK.sub("", turn["content"])) for turn in history if turn["role"] == "assistant"
    ]
    return " ".join(" ".join(answers).split())


@dataclass(frozen=True)
class Context:
    text: str  # searched beside the question
    names: tuple[Name, ...]  # names the conversation is about, most recent first


def conversation_context(
    history: Sequence[Mapping[str, str]], shape: QuestionShape, nlp: Language, vocabulary: Vocabulary
) -> Context | None:
    """The context of a follow-up, or None for a first question."""
    last_user = next((t["content"] for t in reversed(history) if t["role"] == "user" and t["content"].strip()), "")
    last_answer = next((t["content"] for t in reversed(history) if t["role"] == "assistant"), "")
    if not last_user and not last_answer:
        return None
    answer = MARKERS.sub("", SOURCES_BLOCK.sub("", last_answer))[:ANSWER_CHARS]
    names: list[Name] = []
    for text in (answer, last_user):
        if text.strip():
            names += [name for _, name in name_spans(nlp(text), vocabulary, english_words(nlp)) if name not in names]
    own = {name.text.lower() for name in shape.names}
    carried = tuple(name for name in names if name.text.lower() not in own)[:CARRIED_NAMES]
    text = " ".join([" ".join(last_user.split()), *(name.text for name in carried)])[:CONTEXT_CHARS]
    return Context(text, carried) if text.strip() else None
