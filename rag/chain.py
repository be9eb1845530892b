"""The extractive answering chain, as named, typed steps a reader can follow:

    AnswerRequest --prepare--> PreparedQuestion --retrieve--> Retrieval
                  --select_evidence--> Evidence --compose--> Answer

Each step is a LangChain Runnable (`ExtractiveAnswerer.chain`), so the chain can be traced,
batched or swapped like any other. `Answerer` is the protocol the CLI, the API and the evals use,
whatever the mode; rag/factory.py builds one. Heavy things (model, Chroma client, in-memory index)
are passed in, never built at import.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableLambda

from rag.answer import Answer, abstention, compose_answer, retrieved_chunks, word_pieces
from rag.embeddings import MiniLMEmbeddings
from rag.evidence import score_sentences, select_evidence
from rag.question import read_question
from rag.request import AnswerRequest, PreparedQuestion, prepare_question
from rag.retrieve import HybridRetriever, weighted_terms
from rag.settings import Settings
from rag.snapshot import IndexSnapshot, SentenceRow

# A follow-up's earlier turn steers retrieval at this weight against the question's own 1.0.
FOLLOW_UP_WEIGHT = 0.5


class Answerer(Protocol):
    """What the CLI, the API and the evals use, whatever the mode."""

    mode: str
    snapshot: IndexSnapshot  # the index answers are drawn from: sources, chunks, sentences

    @property
    def embeddings(self) -> MiniLMEmbeddings: ...

    def answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Answer: ...

    def stream_answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer; bad input raises before the first item."""
        ...


@dataclass(frozen=True)
class Retrieval:
    """The chunks retrieved for a prepared question, and the question's vectors."""

    prepared: PreparedQuestion
    documents: list[Document]
    vectors: list[np.ndarray]
    retrieve_ms: float


@dataclass(frozen=True)
class Evidence:
    """The groups of consecutive source sentences chosen to answer (empty: abstain)."""

    retrieval: Retrieval
    groups: list[list[SentenceRow]]
    evidence_ms: float


class ExtractiveAnswerer:
    """Answers by quoting: no LLM, so nothing can be invented; abstains below the threshold."""

    mode = "extractive"

    def __init__(self, settings: Settings, snapshot: IndexSnapshot, retriever: HybridRetriever) -> None:
        self.settings = settings
        self.snapshot = snapshot
        self.retriever = retriever
        self.chain: Runnable[AnswerRequest, Answer] = (
            RunnableLambda(self.prepare, name="prepare")
            | RunnableLambda(self.retrieve, name="retrieve")
            | RunnableLambda(self.select_evidence, name="select_evidence")
            | RunnableLambda(self.compose, name="compose")
        )

    @property
    def embeddings(self) -> MiniLMEmbeddings:
        return self.retriever.embeddings

    def answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Answer:
        return self.chain.invoke(AnswerRequest(question, history, top_k, filters))

    def stream_answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        answer = self.answer(question, history, top_k, filters)  # raises on bad input, before streaming
        return iter([*word_pieces(answer.answer), answer])

    # -- the steps ------------------------------------------------------------------------------

    def prepare(self, request: AnswerRequest) -> PreparedQuestion:
        """Check the request (InputError on anything wrong)."""
        return prepare_question(request, self.settings, self.snapshot)

    def retrieve(self, prepared: PreparedQuestion) -> Retrieval:
        """Hybrid retrieval; a follow-up's earlier turn steers it at FOLLOW_UP_WEIGHT."""
        begin = time.perf_counter()
        retriever = self.retriever.for_request(prepared.top_k, prepared.filters, prepared.context, FOLLOW_UP_WEIGHT)
        documents = retriever.invoke(prepared.question)
        vectors = retriever.query_vectors(prepared.question)  # cached: embedded once
        return Retrieval(prepared, documents, vectors, _ms(begin))

    def select_evidence(self, retrieval: Retrieval) -> Evidence:
        """Score the retrieved chunks' sentences and pick the ones that answer the question."""
        begin = time.perf_counter()
        question = retrieval.prepared.question
        # Coverage is of the question's own words: a follow-up's context steers retrieval but a
        # sentence need not repeat the earlier turn to answer this one.
        terms = weighted_terms(question, None, FOLLOW_UP_WEIGHT)
        scored = score_sentences(self.snapshot, retrieval.documents, retrieval.vectors, terms)
        shape = read_question(question, self.snapshot.corpus_terms, self.snapshot.corpus_bigrams)
        groups = select_evidence(
            self.snapshot, scored, self.settings.abstain_threshold, self.settings.max_answer_sentences, shape, question
        )
        return Evidence(retrieval, groups, _ms(begin))

    def compose(self, evidence: Evidence) -> Answer:
        """Quote the evidence with [n] markers and verified citations, or abstain."""
        retrieval = evidence.retrieval
        prepared = retrieval.prepared
        query = prepared.question if not prepared.context else f"{prepared.context} → {prepared.question}"
        timings = {"retrieve": retrieval.retrieve_ms, "evidence": evidence.evidence_ms}
        retrieved = retrieved_chunks(retrieval.documents)
        if not evidence.groups:
            timings["total"] = _ms(prepared.started)
            return abstention(timings, query, retrieved)
        text, citations = compose_answer(self.snapshot, evidence.groups)
        timings["total"] = _ms(prepared.started)
        return Answer(
            answer=text,
            abstained=False,
            citations=citations,
            timings_ms=timings,
            retrieval_query=query,
            retrieved=retrieved,
        )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
