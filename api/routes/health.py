"""`GET /healthz`: is the index loaded, and what is in it. Open without an API key."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import AnswererDep
from api.schemas import Health, IndexStats, error_responses
from rag.errors import IndexNotReadyError

router = APIRouter(tags=["health"], responses=error_responses(503))


@router.get("/healthz", response_model=Health)
async def healthz(answerer: AnswererDep) -> Health:
    # 503 (from get_answerer) when the index did not load, or when its store (a Chroma server) does
    # not answer now, so a load balancer holds traffic back until it does.
    if problem := await run_in_threadpool(answerer.retriever.store_problem):
        raise IndexNotReadyError(problem)
    return Health(status="ok", index=IndexStats(**answerer.snapshot.stats()))
