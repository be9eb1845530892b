"""`GET /v1/sources` and `GET /v1/sources/{source_id}`: what the index holds, and the canonical
text that citation offsets refer to (so a client can check `text[start:end] == quote`).

A source id is only ever a key into the in-memory index, never a file path: anything else,
traversal attempts included, is simply not found.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from api.deps import AnswererDep
from api.schemas import SourceDetail, SourceList, SourceSummary, error_responses
from rag.store import SourceRecord

router = APIRouter(prefix="/v1", tags=["sources"], responses=error_responses(401, 404, 503))

META_FIELDS = ("kind", "language", "origin", "author", "date", "url")


def summary(doc: SourceRecord) -> dict[str, Any]:
    # Chroma may hand back numbers (a year as a date); the API promises strings or null.
    meta = {key: (None if doc.metadata.get(key) is None else str(doc.metadata[key])) for key in META_FIELDS}
    return {"source_id": doc.source_id, "title": doc.title, **meta, "sections": doc.sections, "chars": len(doc.text)}


@router.get("/sources", response_model=SourceList)
async def list_sources(answerer: AnswererDep) -> SourceList:
    sources = answerer.snapshot.sources
    return SourceList(sources=[SourceSummary(**summary(sources[sid])) for sid in sorted(sources)])


@router.get("/sources/{source_id:path}", response_model=SourceDetail)
async def get_source(source_id: str, answerer: AnswererDep) -> SourceDetail:
    doc = answerer.snapshot.sources.get(source_id)
    if doc is None:
        shown = source_id if len(source_id) <= 200 else source_id[:200] + "…"
        raise HTTPException(404, f"no source {shown!r} in the index; GET /v1/sources lists them")
    return SourceDetail(**summary(doc), text=doc.text)
