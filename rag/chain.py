"""The answering chain: question (+ history) -> hybrid retrieval -> evidence -> cited answer.

`ExtractiveAnswerer` is what the CLI, the API and the evals share (the `Answerer` protocol). Its
steps are LangChain Runnables composed with LCEL, so they can be traced, batched or swapped like
any LangChain chain. Heavy things (model, Chroma client, in-memory index) are built by
`load_answerer()`, never at import.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from langchain_core.runnables import Runnable, RunnableLambda

from rag.answer import Answer, RetrievedChunk, abstention, compose_answer
from rag.embeddings import MiniLMEmbeddings
from rag.errors import ConfigError, InputError
from rag.evidence import score_sentences, select_evidence
from rag.question import read_question
from rag.retrieve import HybridRetriever, check_filters, weighted_terms
from rag.settings import Settings
from rag.snapshot import IndexSnapshot

ROLES = ("user", "assistant")
FOLLOW_UP_WEIGHT = 0.5


class Answerer(Protocol):
    """What the CLI, the API and the evals use, whatever the mode."""

    mode: str

    def answer(
        self,
        question: str,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: int | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> Answer: ...

    def stream_answer(
        self,
        question: str,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: int | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer; bad input raises before the first item."""
        ...


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
    for position, turn in enumerate(history):
        if not isinstance(turn, Mapping) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise InputError(f"history[{position}] must be {{'role': 'user'|'assistant', 'content': str}}")
        if not _encodable(turn["content"]):
            raise InputError(f"history[{position}] contains characters that are not valid Unicode text")
        if len(turn["content"]) > max_chars * 10:
            raise InputError(f"history[{position}] is {len(turn['content'])} characters; the limit is {max_chars * 10}")
        turns.append({"role": turn["role"], "content": turn["content"]})
    return turns


def follow_up_context(history: Sequence[Mapping[str, str]]) -> str | None:
    """The subject a follow-up leans on: the user's previous question. (The assistant's reply is
    long and quotes; the user's words name the topic more cleanly.)"""
    for turn in reversed(history):
        if turn["role"] == "user" and turn["content"].strip():
            return " ".join(turn["content"].split())[:2000]
    return None


def check_top_k(top_k: Any, default: int) -> int:
    if top_k is None:
        return default
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 50:
        raise InputError(f"top_k must be an integer between 1 and 50, got {top_k!r}")
    return top_k


class ExtractiveAnswerer:
    """Answers by quoting: no LLM, so nothing can be invented; abstains below the threshold."""

    mode = "extractive"

    def __init__(self, settings: Settings, snapshot: IndexSnapshot, retriever: HybridRetriever) -> None:
        self.settings = settings
        self.snapshot = snapshot
        self.retriever = retriever
        self.chain = self.build_chain()

    def build_chain(self) -> Runnable:
        return RunnableLambda(self._prepare) | RunnableLambda(self._retrieve) | RunnableLambda(self._respond)

    def answer(self, question, history=None, top_k=None, filters=None) -> Answer:
        return self.chain.invoke({"question": question, "history": history, "top_k": top_k, "filters": filters})

    def stream_answer(self, question, history=None, top_k=None, filters=None) -> Iterator[str | Answer]:
        answer = self.answer(question, history, top_k, filters)  # raises on bad input, before streaming
        return iter([*word_pieces(answer.answer), answer])

    def _prepare(self, request: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        settings = self.settings
        question = check_question(request.get("question"), settings.max_question_chars)
        history = check_history(request.get("history"), settings.max_history_turns, settings.max_question_chars)
        filters = check_filters(request.get("filters"))
        for key, value in filters.items():
            known = self.snapshot.sources if key == "source_id" else {c.section for c in self.snapshot.chunks}
            if value not in known:
                raise InputError(f"no {key.replace('_', ' ')} {value!r} in the index")
        top_k = check_top_k(request.get("top_k"), settings.top_k)
        context = follow_up_context(history)
        return {"question": question, "context": context, "filters": filters, "top_k": top_k,
                "started": started}

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        begin = time.perf_counter()
        retriever = self.retriever.model_copy(
            update={"k": state["top_k"], "filters": state["filters"], "context": state["context"],
                    "context_weight": FOLLOW_UP_WEIGHT}
        )
        documents = retriever.invoke(state["question"])
        vectors = retriever.query_vectors(state["question"])  # cached: embedded once
        return {**state, "documents": documents, "vectors": vectors, "retrieve_ms": _ms(begin)}

    def _respond(self, state: dict[str, Any]) -> Answer:
        begin = time.perf_counter()
        # Coverage is of the question's own words: a follow-up's context steers retrieval but a
        # sentence need not repeat the earlier turn to answer this one.
        terms = weighted_terms(state["question"], None, FOLLOW_UP_WEIGHT)
        scored = score_sentences(self.snapshot, state["documents"], state["vectors"], terms)
        shape = read_question(state["question"], self.snapshot.corpus_terms, self.snapshot.corpus_bigrams)
        groups = select_evidence(self.snapshot, scored, self.settings.abstain_threshold,
                                 self.settings.max_answer_sentences, shape, state["question"])
        query = state["question"] if not state["context"] else f"{state['context']} → {state['question']}"
        timings = {"retrieve": state["retrieve_ms"], "evidence": _ms(begin)}
        retrieved = [
            RetrievedChunk(rank=d.metadata["rank"], chunk_id=d.metadata["chunk_id"], source_id=d.metadata["source_id"],
                           section=d.metadata["section"], start=d.metadata["start"], end=d.metadata["end"])
            for d in state["documents"]
        ]
        if not groups:
            timings["total"] = _ms(state["started"])
            return abstention(timings, query, retrieved)
        text, citations = compose_answer(self.snapshot, groups)
        timings["total"] = _ms(state["started"])
        return Answer(answer=text, abstained=False, citations=citations, timings_ms=timings, retrieval_query=query,
                      retrieved=retrieved)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def word_pieces(text: str) -> list[str]:
    """The answer cut after each run of spaces: what a stream sends, joined it is the text."""
    return re.findall(r"\S+\s*|\s+", text)


def load_answerer(settings: Settings, embeddings: MiniLMEmbeddings | None = None,
                  mode: str | None = None) -> Answerer:
    """The answerer for `mode` (default: settings.answerer). Builds everything once: embedding
    model, Chroma client, in-memory index, retriever; for the llm mode also the chat client
    (no request is sent until a question comes)."""
    mode = mode or settings.answerer
    if mode not in ("extractive", "llm"):
        raise ConfigError(f"mode must be extractive or llm, got {mode!r}")
    if mode == "llm":
        from rag.llm import LLMAnswerer, make_chat_model

        chat_model = make_chat_model(settings)  # checks the settings before the slow loads
        return LLMAnswerer(_load_extractive(settings, embeddings), chat_model, settings)
    return _load_extractive(settings, embeddings)


def _load_extractive(settings: Settings, embeddings: MiniLMEmbeddings | None) -> ExtractiveAnswerer:
    from langchain_chroma import Chroma

    from ingest.index import IndexStore, open_client
    from rag.snapshot import load_snapshot

    embeddings = embeddings or MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size)
    client = open_client(settings)
    store = IndexStore(client, settings.collection)
    snapshot = load_snapshot(store, embedder_version=embeddings.version)
    if snapshot.versions.dimension != embeddings.dimension:
        raise ConfigError(f"index vectors have {snapshot.versions.dimension} dimensions, the model {embeddings.dimension}")
    vectorstore = Chroma(collection_name=store.name("chunks"), embedding_function=embeddings, client=client,
                         create_collection_if_not_exists=False)
    retriever = HybridRetriever(snapshot=snapshot, vectorstore=vectorstore, embeddings=embeddings,
                                k=settings.top_k, rrf_k=settings.rrf_k)
    answerer = ExtractiveAnswerer(settings, snapshot, retriever)
    answerer.answer("warm-up")  # first call pays one-off costs (tokenizer, Chroma query path)
    return answerer
