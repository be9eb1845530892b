"""The llm mode: retrieval as in the extractive mode, an OpenAI-compatible chat model (LangChain's
`ChatOpenAI`, so Ollama, vLLM, llama.cpp's server, LM Studio or OpenAI all work) writes the
answer, and the grounding guard (rag/guard.py) checks every sentence before it leaves rag/.

    AnswerRequest --prepare--> PreparedQuestion --condense--> standalone question --retrieve-->
    documents --(answer prompt | chat model | str parser)--> text --guard--> Answer

If nothing survives the guard, or the model says the sources do not answer, the extractive
answer is returned instead and the response says so (`fallback: "extractive"`).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from functools import lru_cache
from types import ModuleType
from typing import Any

import openai
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from pydantic import SecretStr

from rag.answer import Answer, GuardReport, retrieved_chunks
from rag.chain import ExtractiveAnswerer
from rag.citations import Citation, make_citation, verify_citations
from rag.embeddings import MiniLMEmbeddings
from rag.errors import ConfigError, LLMUnavailableError
from rag.guard import UNSUPPORTED_MARK, GuardedAnswer, Span, guard_answer
from rag.prompt import ConversationQuestion, SourcesQuestion, answer_prompt, condense_prompt
from rag.request import AnswerRequest, PreparedQuestion
from rag.roles import RoleParser
from rag.settings import Settings

# A rewritten follow-up longer than this many times the question (plus a margin) is a model
# rambling, not a rewrite: the user's own words are kept.
CONDENSE_MAX_GROWTH = 4
CONDENSE_MARGIN_CHARS = 200


def make_chat_model(settings: Settings) -> BaseChatModel:
    """ChatOpenAI for the configured server. Builds a client only: no request is made here."""
    if not settings.llm_base_url:
        raise ConfigError(
            "the llm mode needs QA_LLM_BASE_URL (an OpenAI-compatible server, e.g. "
            "http://127.0.0.1:11434/v1); the extractive mode needs nothing"
        )
    from langchain_openai import ChatOpenAI  # optional dependency, only for this mode

    from rag.llm_http import deadline_http_client

    key = settings.llm_api_key or SecretStr("not-needed")
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.llm_timeout_s,
        http_client=deadline_http_client(),
        max_retries=0,
        temperature=0,
        max_completion_tokens=settings.llm_max_tokens,
    )


class _OutOfTime(Exception):
    """QA_LLM_TIMEOUT_S ran out inside a call to the model; never leaves this module."""


class LLMAnswerer:
    """Generative answers, each sentence checked; shares the request checks and retrieval with the
    extractive answerer it falls back to."""

    mode = "llm"

    def __init__(self, extractive: ExtractiveAnswerer, chat_model: BaseChatModel, settings: Settings) -> None:
        self.extractive = extractive
        self.snapshot = extractive.snapshot
        self.retriever = extractive.retriever
        self.settings = settings
        # Generation is prompt -> model -> parser, run step by step (stream_generation says why).
        self.answer_prompt = answer_prompt()
        self.chat_model = chat_model
        self.parser = StrOutputParser()
        self.condense_prompt = condense_prompt()
        # The guard's check of who does what to whom parses with the pipeline the questions use.
        self.roles = RoleParser(extractive.nlp)

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
        result = None
        for item in self.stream_answer(question, history, top_k, filters):
            result = item
        if not isinstance(result, Answer):
            raise TypeError("the llm answer stream ended without an answer")
        return result

    def stream_answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        """Yields text deltas as the model writes them, then the guarded Answer. Bad input
        raises before the first item."""
        prepared = self.extractive.prepare(AnswerRequest(question, history, top_k, filters))
        return self._steps(prepared)

    # -- the steps ------------------------------------------------------------------------------

    def _steps(self, prepared: PreparedQuestion) -> Iterator[str | Answer]:
        timings: dict[str, float] = {}
        # QA_LLM_TIMEOUT_S bounds the whole request, the rewrite of a follow-up included, so a
        # model that sends one token a second, or only empty chunks, cannot hold it for minutes.
        deadline = prepared.started + self.settings.llm_timeout_s
        begin = time.perf_counter()
        try:
            standalone, late = self.standalone_question(prepared, deadline), False
        except _OutOfTime:
            standalone, late = prepared.question, True
        timings["condense"] = _ms(begin)

        begin = time.perf_counter()
        documents = self.retriever.for_request(prepared.top_k, prepared.filters).invoke(standalone)
        timings["retrieve"] = _ms(begin)

        pieces: list[str] = []
        if not late:
            begin = time.perf_counter()
            late = not (yield from self._generate(standalone, documents, deadline, pieces))
            timings["generate"] = _ms(begin)
        if late:
            yield self._overtime(prepared, standalone, documents, timings)
            return

        begin = time.perf_counter()
        guarded = guard_answer(
            "".join(pieces), documents, self.snapshot, self.embeddings, self.settings.guard, roles=self.roles
        )
        timings["guard"] = _ms(begin)
        answer = self.compose(prepared, standalone, guarded, timings)
        yield answer.model_copy(update={"retrieved": retrieved_chunks(documents)})

    def _generate(
        self, question: str, documents: list[Document], deadline: float, pieces: list[str]
    ) -> Generator[str, None, bool]:
        """Yields the model's text as it comes and keeps it in `pieces`; returns False when the
        deadline passed first."""
        stream = self.stream_generation(question, documents, deadline)
        try:
            for delta in stream:  # every chunk, empty ones too: each is a look at the clock
                if time.perf_counter() > deadline:
                    return False
                if delta:
                    pieces.append(delta)
                    yield delta
        except _OutOfTime:
            return False
        finally:
            stream.close()  # stops reading from the server
        return True

    def standalone_question(self, prepared: PreparedQuestion, deadline: float) -> str:
        """A follow-up rewritten by the model to stand alone; a first question as it is. Raises
        _OutOfTime when the deadline passes first."""
        if not prepared.history:
            return prepared.question
        messages = self.condense_prompt.invoke(ConversationQuestion(prepared.question, prepared.history))
        try:
            reply = self.chat_model.invoke(messages, timeout=_time_left(deadline))
        except openai.APITimeoutError:
            raise _OutOfTime from None
        except (openai.APIError, json.JSONDecodeError) as error:
            raise LLMUnavailableError(self._describe(error)) from None
        text = self.parser.invoke(reply).strip()
        limit = CONDENSE_MAX_GROWTH * len(prepared.question) + CONDENSE_MARGIN_CHARS
        return text if text and len(text) <= limit else prepared.question

    def stream_generation(
        self, question: str, documents: list[Document], deadline: float
    ) -> Generator[str, None, None]:
        """The model's answer as it writes it, one item per chunk (empty ones too). Raises
        _OutOfTime when the deadline passes inside a read."""
        titles = {sid: doc.title for sid, doc in self.snapshot.sources.items()}
        # Not one `prompt | model | parser` chain: closing that chain's stream early reads the
        # model's stream to its end first (measured: 14 s left of a slow model), while closing the
        # model's own stream closes the connection at once, as the deadline needs.
        messages = self.answer_prompt.invoke(SourcesQuestion(question, documents, titles))
        # A stream whose events are not JSON is a server speaking something else: the same verdict.
        failures: tuple[type[Exception], ...] = (openai.APIError, json.JSONDecodeError, *stream_transport_errors())
        timeouts: tuple[type[Exception], ...] = (openai.APITimeoutError, *stream_timeout_errors())
        try:
            # The client's timeout is the time left: no read, and no response (rag/llm_http.py),
            # outlasts the deadline, whatever the server sends or does not.
            for chunk in self.chat_model.stream(messages, timeout=_time_left(deadline)):
                yield self.parser.invoke(chunk)
        except timeouts:
            raise _OutOfTime from None
        except failures as error:
            # The openai client wraps connection, timeout and HTTP status errors of the request; a
            # server that cuts its stream halfway raises its HTTP library's own error while we read.
            raise LLMUnavailableError(self._describe(error)) from None

    def compose(
        self, prepared: PreparedQuestion, standalone: str, guarded: GuardedAnswer, timings: dict[str, float]
    ) -> Answer:
        """The kept sentences with their citations; the extractive answer when none was kept."""
        if not guarded.sentences:
            return self._fallback(prepared, standalone, guarded, timings)
        numbers: dict[Span, int] = {}
        citations: list[Citation] = []
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
                    citations.append(
                        make_citation(
                            numbers[span],
                            span.source_id,
                            source.title,
                            span.section,
                            source.text,
                            span.start,
                            span.end,
                            page=span.page,
                        )
                    )
                markers.append(f"[{numbers[span]}]")
            parts.append(f"{text} {''.join(markers)}")
        verify_citations(citations, {sid: doc.text for sid, doc in self.snapshot.sources.items()})
        timings["total"] = _ms(prepared.started)
        return Answer(
            answer=" ".join(parts),
            abstained=False,
            citations=citations,
            timings_ms=timings,
            retrieval_query=standalone,
            mode="llm",
            guard=guarded.report,
        )

    def _fallback(
        self, prepared: PreparedQuestion, standalone: str, guarded: GuardedAnswer, timings: dict[str, float]
    ) -> Answer:
        fallback = self.extractive.answer(prepared.question, top_k=prepared.top_k, filters=prepared.filters)
        timings["total"] = _ms(prepared.started)
        extractive_timings = {f"extractive_{k}": v for k, v in fallback.timings_ms.items()}
        return fallback.model_copy(
            update={
                "mode": "llm",
                "guard": guarded.report,
                "fallback": "extractive",
                "timings_ms": {**timings, **extractive_timings},
                "retrieval_query": standalone,
            }
        )

    def _overtime(
        self, prepared: PreparedQuestion, standalone: str, documents: list[Document], timings: dict[str, float]
    ) -> Answer:
        """The extractive answer, said to be one, when the model did not finish in time."""
        report = GuardReport(policy=self.settings.guard)
        answer = self._fallback(prepared, standalone, GuardedAnswer(report), timings)
        note = (
            f"The LLM did not finish within QA_LLM_TIMEOUT_S ({self.settings.llm_timeout_s:g} s); "
            "this is the extractive answer."
        )
        return answer.model_copy(update={"notes": [note, *answer.notes], "retrieved": retrieved_chunks(documents)})

    def _describe(self, error: Exception) -> str:
        # The class name and the server address, never the key or the request.
        return (
            f"the LLM server at {self.settings.llm_base_url} did not answer "
            f"({type(error).__name__}); check QA_LLM_BASE_URL and that the server runs, or use the "
            f"extractive mode"
        )


@lru_cache(maxsize=1)
def _http_libraries() -> tuple[ModuleType, ...]:
    """The HTTP library under the openai client (httpx2 in recent openai, httpx before it)."""
    found: list[ModuleType] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return tuple(found)


def stream_transport_errors() -> tuple[type[Exception], ...]:
    """What reading a stream raises when the server hangs up in the middle."""
    return tuple(module.TransportError for module in _http_libraries())


def stream_timeout_errors() -> tuple[type[Exception], ...]:
    """What reading a stream raises when its time is up (rag/llm_http.py)."""
    return tuple(module.TimeoutException for module in _http_libraries())


def _time_left(deadline: float) -> float:
    # A call made after the deadline still gets a moment, so that it fails as a timeout.
    return max(deadline - time.perf_counter(), 0.01)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
