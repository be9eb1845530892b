"""Hybrid retrieval: dense search in Chroma plus BM25 over the same chunks, fused with
reciprocal rank fusion. A LangChain `BaseRetriever`, so it composes like any other retriever.

Hands on LangChain `Document`s (one per chunk) whose metadata carries the chunk's span, section
and fused rank; the evidence stage reads sentences inside those spans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict, Field

from rag.embeddings import MiniLMEmbeddings
from rag.errors import IndexNotReadyError
from rag.lexical import content_terms
from rag.request import check_filters
from rag.snapshot import IndexSnapshot


def chroma_where(filters: Mapping[str, str]) -> dict[str, Any] | None:
    clauses = [{key: value} for key, value in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def weighted_terms(question: str, context: str | None, context_weight: float) -> dict[str, float]:
    """Query terms with weights: the question's own at 1, a follow-up's context lower."""
    weights: dict[str, float] = {}
    for term in content_terms(context or ""):
        weights[term] = max(weights.get(term, 0.0), context_weight)
    for term in content_terms(question):
        weights[term] = 1.0
    return weights


# A second `qa ingest --rebuild` since this process opened the index drops the generation it reads.
REPLACED = "the index this process opened has been replaced by two rebuilds since; restart it to serve the current one"


class HybridRetriever(BaseRetriever):
    """Dense (Chroma) + lexical (BM25) retrieval fused by reciprocal rank."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    snapshot: IndexSnapshot
    vectorstore: VectorStore
    embeddings: MiniLMEmbeddings
    k: int = Field(default=6, ge=1, le=50)
    rrf_k: int = 60
    filters: dict[str, str] = Field(default_factory=dict)
    # For follow-ups: text of the earlier turn, mixed in at a lower weight.
    context: str | None = None
    context_weight: float = 0.5
    # The question's terms as the answerer understood them (lemmas, country and acronym terms);
    # None: the query's own words.
    terms: dict[str, float] | None = None
    # Chroma's results for this query, searched beforehand beside the question's parse
    # (ExtractiveAnswerer.understand); None: searched here.
    dense: list[list[Document]] | None = None
    # Opens the chunk collection this retriever searches (raises when it cannot), for /healthz;
    # None: not checked.
    check_store: Callable[[], object] | None = None

    def for_request(
        self,
        top_k: int,
        filters: dict[str, str],
        context: str | None = None,
        context_weight: float = 0.5,
        terms: dict[str, float] | None = None,
    ) -> HybridRetriever:
        """This retriever set up for one request (a copy; the shared one is never changed)."""
        return self.model_copy(
            update={
                "k": top_k,
                "filters": filters,
                "context": context,
                "context_weight": context_weight,
                "terms": terms,
                "dense": None,
            }
        )

    @property
    def candidates(self) -> int:
        """How many chunks each ranking offers the fusion."""
        return max(self.k * 4, 20)

    def dense_results(self, query: str) -> list[list[Document]]:
        """Chroma's nearest chunks for each of the query's vectors (query_vectors)."""
        filters = check_filters(self.filters)
        return [self.dense_search(vector, self.candidates, filters) for vector in self.query_vectors(query)]

    def query_vectors(self, query: str) -> list[np.ndarray]:
        """The question's vector; for a follow-up, first the question leaning on its context
        (mixed in at context_weight), then the question alone in case it changed the subject."""
        vector = self.embeddings.embed_query_vector(query)
        if not self.context:
            return [vector]
        mixed = vector + self.context_weight * self.embeddings.embed_query_vector(self.context)
        return [mixed / (np.linalg.norm(mixed) or 1.0), vector]

    def store_problem(self) -> str | None:
        """Why the store cannot be searched now (a Chroma server down or hung, or the collection
        dropped by later rebuilds), or None."""
        if self.check_store is None:
            return None
        import httpx
        from chromadb.errors import NotFoundError

        try:
            self.check_store()
        except httpx.TransportError as error:
            return f"the Chroma server does not answer ({type(error).__name__})"
        except NotFoundError:
            return REPLACED
        return None

    def dense_search(self, vector: np.ndarray, k: int, filters: dict[str, Any]) -> list[Document]:
        """Chroma's nearest chunks. The collection can be gone: a second `qa ingest --rebuild`
        since this process opened the index drops the generation it reads (ingest/index.py)."""
        import httpx
        from chromadb.errors import NotFoundError

        try:
            return self.vectorstore.similarity_search_by_vector(vector.tolist(), k=k, filter=chroma_where(filters))
        except httpx.TransportError as error:  # a Chroma server that is down, or does not answer in time
            raise IndexNotReadyError(f"the Chroma server does not answer ({type(error).__name__})") from None
        except NotFoundError:
            raise IndexNotReadyError(REPLACED) from None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        candidates = self.candidates
        filters = check_filters(self.filters)
        rankings = []
        for dense in self.dense if self.dense is not None else self.dense_results(query):
            ids = [doc.metadata.get("chunk_id") for doc in dense]
            rankings.append([chunk_id for chunk_id in ids if chunk_id in self.snapshot.chunk_position])
        dense_ids = rankings[0]
        allowed = (
            [
                position
                for position, chunk in enumerate(self.snapshot.chunks)
                if all(getattr(chunk, key) == value for key, value in filters.items())
            ]
            if filters
            else None  # every chunk: no pass over all of them
        )
        query_terms = weighted_terms(query, self.context, self.context_weight)
        if self.terms is not None:
            query_terms = {**{t: w for t, w in query_terms.items() if w < 1.0}, **self.terms}
        lexical = self.snapshot.bm25.scores(query_terms, allowed, limit=candidates)
        lexical_ids = [self.snapshot.chunks[position].chunk_id for position, _ in lexical]
        rankings.append(lexical_ids)

        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        dense_rank = {chunk_id: rank + 1 for rank, chunk_id in enumerate(dense_ids)}
        lexical_rank = {chunk_id: rank + 1 for rank, chunk_id in enumerate(lexical_ids)}
        ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[: self.k]
        documents = []
        for rank, (chunk_id, score) in enumerate(ordered, start=1):
            chunk = self.snapshot.chunks[self.snapshot.chunk_position[chunk_id]]
            documents.append(
                Document(
                    id=chunk_id,
                    page_content=chunk.text,
                    metadata={
                        "chunk_id": chunk_id,
                        "source_id": chunk.source_id,
                        "section": chunk.section,
                        "start": chunk.start,
                        "end": chunk.end,
                        "page": chunk.page,
                        "rank": rank,
                        "rrf_score": score,
                        "dense_rank": dense_rank.get(chunk_id),
                        "lexical_rank": lexical_rank.get(chunk_id),
                    },
                )
            )
        return documents
