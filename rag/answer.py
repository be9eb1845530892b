"""The answer object and how evidence groups become a short answer with [n] markers.

Composition only quotes: each group of consecutive source sentences becomes one citation, its
text appears once in the answer followed by its marker, and list items are shown as a list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from rag.answer_sentences import neutralise_markers
from rag.citations import Citation, make_citation, verify_citations
from rag.short_answer import ShortAnswer
from rag.snapshot import IndexSnapshot, SentenceRow

ABSTENTION_TEXT = "The sources do not answer this question, so I will not guess."


class RetrievedChunk(BaseModel):
    """What retrieval returned, in rank order: kept so evals can score retrieval itself."""

    rank: int
    chunk_id: str
    source_id: str
    section: str
    start: int
    end: int


def retrieved_chunks(documents: Sequence[Document]) -> list[RetrievedChunk]:
    """What the retriever returned, from its documents' metadata."""
    return [
        RetrievedChunk(
            rank=d.metadata["rank"],
            chunk_id=d.metadata["chunk_id"],
            source_id=d.metadata["source_id"],
            section=d.metadata["section"],
            start=d.metadata["start"],
            end=d.metadata["end"],
        )
        for d in documents
    ]


class GuardReport(BaseModel):
    """What the grounding guard did to a generated answer (llm mode only)."""

    policy: str  # "drop" or "flag"
    checked: int = 0  # sentences checked
    kept: int = 0
    dropped: int = 0
    flagged: int = 0
    recited: int = 0  # sentences whose own citation did not support them but another passage did
    unsupported: list[str] = Field(default_factory=list, description="the dropped or flagged sentences")


class Answer(BaseModel):
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    retrieval_query: str | None = Field(default=None, description="what was searched, follow-up context included")
    retrieved: list[RetrievedChunk] = Field(default_factory=list, exclude=True)
    mode: str = "extractive"
    guard: GuardReport | None = None
    fallback: str | None = Field(default=None, description="set when the llm answer fell back to the extractive one")
    notes: list[str] = Field(default_factory=list, description="what the sources do not cover (a side of a comparison)")
    short_answer: ShortAnswer | None = Field(
        default=None, description="the span of a quote that answers a year/number/name/place question"
    )
    short_list: list[ShortAnswer] = Field(
        default_factory=list,
        description="for a question that asks for several names/places/dates/numbers: each, a span of a quote",
    )

    def public_fields(self) -> set[str]:
        """What `qa ask --json` and `POST /v1/ask` show: the mode's fields only, notes when there are some."""
        fields = {"answer", "abstained", "citations", "timings_ms"}
        if self.notes:
            fields.add("notes")
        if self.short_answer is not None:
            fields.add("short_answer")
        if self.short_list:
            fields.add("short_list")
        if self.mode != "extractive":
            fields |= {"mode", "guard", "fallback"}
        return fields


def _render(group: list[SentenceRow]) -> str:
    parts: list[str] = []
    for sentence in group:
        # A quote may span wrapped lines; its own "[n]" is not one of our markers.
        text = neutralise_markers(" ".join(sentence.text.split()))
        if sentence.is_list_item:
            parts.append(f"\n- {text}")
        else:
            parts.append(("\n" if parts and parts[-1].startswith("\n- ") else " ") + text if parts else text)
    return "".join(parts).strip()


def compose_answer(snapshot: IndexSnapshot, groups: list[list[SentenceRow]]) -> tuple[str, list[Citation]]:
    """Answer text with markers, and the citations it refers to (verified exact spans)."""
    citations: list[Citation] = []
    pieces: list[str] = []
    for n, group in enumerate(groups, start=1):
        first, last = group[0], group[-1]
        source = snapshot.sources[first.source_id]
        citations.append(
            make_citation(
                n, first.source_id, source.title, first.section, source.text, first.start, last.end, page=first.page
            )
        )
        pieces.append(f"{_render(group)} [{n}]")
    verify_citations(citations, {sid: doc.text for sid, doc in snapshot.sources.items()})
    return "\n\n".join(pieces), citations


def abstention(
    timings_ms: dict[str, float], retrieval_query: str | None = None, retrieved: list[RetrievedChunk] | None = None
) -> Answer:
    return Answer(
        answer=ABSTENTION_TEXT,
        abstained=True,
        citations=[],
        timings_ms=timings_ms,
        retrieval_query=retrieval_query,
        retrieved=retrieved or [],
    )


def word_pieces(text: str) -> list[str]:
    """The answer cut after each run of spaces: what a stream sends; joined, it is the text."""
    return re.findall(r"\S+\s*|\s+", text)
