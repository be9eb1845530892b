"""The llm mode: retrieval as in the extractive mode, an OpenAI-compatible chat model (LangChain's
`ChatOpenAI`, so Ollama, vLLM, llama.cpp's server, LM Studio or OpenAI all work) writes the
answer, and the grounding guard (rag/guard.py) checks every sentence before it leaves rag/.

If nothing survives the guard, or the model says the sources do not answer, the extractive
answer is returned instead and the response says so (`fallback: "extractive"`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from rag.answer import Answer, RetrievedChunk
from rag.citations import make_citation, verify_citations
from rag.errors import ConfigError, LLMUnavailableError
from rag.guard import UNSUPPORTED_MARK, GuardedAnswer, guard_answer
from rag.prompt import answer_messages, condense_messages
from rag.settings import Settings


def make_chat_model(settings: Settings) -> BaseChatModel:
    """ChatOpenAI for the configured server. Builds a client only: no request is made here."""
    if not settings.llm_base_url:
        raise ConfigError("the llm mode needs QA_LLM_BASE_URL (an OpenAI-compatible server, e.g. "
                          "http://127.0.0.1:11434/v1); the extractive mode needs nothing")
    from langchain_openai import ChatOpenAI  # optional dependency, only for this mode

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model, api_key=key,
                      timeout=settings.llm_timeout_s, max_retries=0, temperature=0,
                      max_tokens=settings.llm_max_tokens)


class LLMAnswerer:
    """Generative answers, each sentence checked; shares validation and retrieval with the
    extractive answerer it falls back to."""

    mode = "llm"

    def __init__(self, extractive, chat_model: BaseChatModel, settings: Settings) -> None:
        self.extractive = extractive
        self.snapshot = extractive.snapshot
        self.retriever = extractive.retriever
        self.chat_model = chat_model
        self.settings = settings

    # -- the Answerer protocol ------------------------------------------------------------

    def answer(self, question, history=None, top_k=None, filters=None) -> Answer:
        result = None
        for item in self.stream_answer(question, history, top_k, filters):
            result = item
        assert isinstance(result, Answer)
        return result

    def stream_answer(self, question, history=None, top_k=None, filters=None) -> Iterator[str | Answer]:
        """Yields text deltas as the model writes them, then the guarded Answer. Bad input
        raises before the first item."""
        state = self.extractive._prepare({"question": question, "history": history, "top_k": top_k,
                                          "filters": filters})
        history_turns = [dict(t) for t in (history or [])]
        return self._generate(state, history_turns)

    # -- steps ----------------------------------------------------------------------------

    def _generate(self, state: dict[str, Any], history: list[dict[str, str]]) -> Iterator[str | Answer]:
        timings: dict[str, float] = {}
        begin = time.perf_counter()
        standalone = self._condense(state["question"], history) if history else state["question"]
        timings["condense"] = _ms(begin)

        begin = time.perf_counter()
        retriever = self.retriever.model_copy(update={"k": state["top_k"], "filters": state["filters"],
                                                      "context": None})
        documents = retriever.invoke(standalone)
        timings["retrieve"] = _ms(begin)

        begin = time.perf_counter()
        titles = {sid: doc.title for sid, doc in self.snapshot.sources.items()}
        pieces: list[str] = []
        try:
            for chunk in self.chat_model.stream(answer_messages(standalone, documents, titles)):
                delta = chunk.content if isinstance(chunk.content, str) else ""
                if delta:
                    pieces.append(delta)
                    yield delta
        except Exception as error:  # openai's connection/timeout/status errors, by many names
            raise LLMUnavailableError(self._describe(error)) from None
        timings["generate"] = _ms(begin)

        begin = time.perf_counter()
        guarded = guard_answer("".join(pieces), documents, self.snapshot, self.retriever.embeddings,
                               self.settings.guard)
        timings["guard"] = _ms(begin)
        retrieved = [RetrievedChunk(rank=d.metadata["rank"], chunk_id=d.metadata["chunk_id"],
                                    source_id=d.metadata["source_id"], section=d.metadata["section"],
                                    start=d.metadata["start"], end=d.metadata["end"]) for d in documents]
        yield self._compose(state, standalone, guarded, timings).model_copy(update={"retrieved": retrieved})

    def _condense(self, question: str, history: Sequence[Mapping[str, str]]) -> str:
        try:
            reply = self.chat_model.invoke(condense_messages(question, history))
        except Exception as error:
            raise LLMUnavailableError(self._describe(error)) from None
        text = reply.content.strip() if isinstance(reply.content, str) else ""
        # A model that rambles is not trusted to rewrite: keep the user's words.
        return text if text and len(text) <= 4 * len(question) + 200 else question

    def _compose(self, state, standalone: str, guarded: GuardedAnswer, timings: dict[str, float]) -> Answer:
        if not guarded.sentences:
            fallback = self.extractive.answer(state["question"], top_k=state["top_k"], filters=state["filters"])
            timings["total"] = _ms(state["started"])
            return fallback.model_copy(update={"mode": "llm", "guard": guarded.report, "fallback": "extractive",
                                               "timings_ms": {**timings, **{f"extractive_{k}": v for k, v in
                                                                            fallback.timings_ms.items()}},
                                               "retrieval_query": standalone})
        numbers: dict[Any, int] = {}
        citations = []
        parts = []
        for kind, index in guarded.order:
            if kind == "flagged":
                parts.append(f"{guarded.flagged[index]} {UNSUPPORTED_MARK}")
                continue
            text, spans = guarded.sentences[index]
            markers = []
            for span in spans:
                if span not in numbers:
                    numbers[span] = len(numbers) + 1
                    source = self.snapshot.sources[span.source_id]
                    citations.append(make_citation(numbers[span], span.source_id, source.title, span.section,
                                                   source.text, span.start, span.end, page=span.page))
                markers.append(f"[{numbers[span]}]")
            parts.append(f"{text} {''.join(markers)}")
        verify_citations(citations, {sid: doc.text for sid, doc in self.snapshot.sources.items()})
        timings["total"] = _ms(state["started"])
        return Answer(answer=" ".join(parts), abstained=False, citations=citations, timings_ms=timings,
                      retrieval_query=standalone, mode="llm", guard=guarded.report)

    def _describe(self, error: Exception) -> str:
        # The class name and the server address, never the key or the request.
        return (f"the LLM server at {self.settings.llm_base_url} did not answer "
                f"({type(error).__name__}); check QA_LLM_BASE_URL and that the server runs, or use the "
                f"extractive mode")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
