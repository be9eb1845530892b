"""`GET /v1/sources` and `GET /v1/sources/{source_id}`: what the index holds, and the canonical
text that citation offsets refer to (so a client can check `text[start:end] == quote`), or with
`?start=&end=` just that passage: the `url` of a chat completion's `url_citation`.

A source id is only ever a key into the in-memory index, never a file path: anything else,
traversal attempts included, is simply not found.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import AnswererDep
from api.schemas import SourceDetail, SourceList, SourcePassage, SourceSummary, error_responses
from rag.citations import short_title
from rag.errors import InputError
from rag.store import SourceRecord

router = APIRouter(prefix="/v1", tags=["sources"], responses=error_responses(401, 404, 429, 503))

META_FIELDS = ("kind", "language", "origin", "author", "date", "url")


def summary(doc: SourceRecord) -> dict[str, Any]:
    # Chroma may hand back numbers (a year as a date); the API promises strings or null.
    meta = {key: (None if doc.metadata.get(key) is None else str(doc.metadata[key])) for key in META_FIELDS}
    return {
        "source_id": doc.source_id,
        "title": doc.title,
        "short_title": short_title(doc.title),
        **meta,
        "sections": doc.sections,
        "chars": len(doc.text),
        "chunks": int(doc.metadata.get("n_chunks") or 0),
    }


@router.get("/sources", response_model=SourceList)
async def list_sources(answerer: AnswererDep) -> SourceList:
    sources = answerer.snapshot.sources
    return SourceList(sources=[SourceSummary(**summary(sources[sid])) for sid in sorted(sources)])


Offset = Annotated[int | None, Query(ge=0, description="a character offset into the canonical text")]


@router.get(
    "/sources/{source_id:path}",
    response_model=SourceDetail | SourcePassage,
    responses=error_responses(400, 422),
    description="The whole canonical text, or with both `start` and `end` the passage text[start:end].",
)
async def get_source(
    source_id: str, answerer: AnswererDep, start: Offset = None, end: Offset = None
) -> SourceDetail | SourcePassage:
    doc = answerer.snapshot.sources.get(source_id)
    if doc is None:
        shown = source_id if len(source_id) <= 200 else source_id[:200] + "…"
        raise HTTPException(404, f"no source {shown!r} in the index; GET /v1/sources lists them")
    if start is None and end is None:
        return SourceDetail(**summary(doc), text=doc.text)
    if start is None or end is None:
        raise InputError("start and end go together: give both offsets, or neither for the whole text")
    if not start < end <= len(doc.text):
        raise InputError(
            f"start and end must satisfy 0 <= start < end <= {len(doc.text)} (the text's length), got {start} and {end}"
        )
    return SourcePassage(**summary(doc), start=start, end=end, text=doc.text[start:end])
