"""Request and response bodies of the API, as pydantic models (they also make /docs).

Our own endpoints are strict: wrong types and unknown fields are refused (422) rather than
coerced or ignored, so a typo like "topk" is an error, not a silently ignored option. The
OpenAI-compatible request is lenient, as OpenAI clients send many options we have no use for.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from openai.types import Model
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from rag.answer import GuardReport
from rag.citations import Citation
from rag.short_answer import ShortAnswer


def _encodable(value: str) -> str:
    # JSON may carry "\ud800" escapes that make a str no encoder accepts; the tokenizer would fail
    # on it deep inside the answerer, so refuse it here as bad input.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"text contains an unpaired surrogate ({value[error.start]!r}) at {error.start}") from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]
# What makes a question not empty: one character that is neither whitespace (as Python's
# str.split() sees it, which the answerer uses) nor NUL. The schema states it so that schema-driven
# clients and fuzzers do not send "" or "  " expecting success; the answerer checks it and says
# "question is empty" (400), so it is not made a pydantic pattern with a message nobody can read.
NOT_BLANK = "[^" + "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\x00]"


def _whole_number(value: Any) -> Any:
    # JSON Schema's "integer" admits 5.0 (a number with no fraction), and schema-driven clients
    # send it; a float with a fraction, a string or a bool is still refused by the strict model.
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Turn(Strict):
    # Ignore extras: clients keep earlier turns as they received them (with citations, ids, ...).
    model_config = ConfigDict(strict=True, extra="ignore")

    role: Literal["user", "assistant"]
    content: Text


class Filters(Strict):
    source_id: Text | None = None
    section: Text | None = None


class AskRequest(Strict):
    question: Text = Field(
        description="the question; its length limit is QA_MAX_QUESTION_CHARS", json_schema_extra={"pattern": NOT_BLANK}
    )
    history: list[Turn] | None = Field(default=None, description="earlier turns, oldest first")
    top_k: Annotated[int, Field(ge=1, le=50), BeforeValidator(_whole_number)] | None = Field(
        default=None, description="chunks to retrieve"
    )
    filters: Filters | None = None

    def answerer_args(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "history": [turn.model_dump() for turn in self.history] if self.history is not None else None,
            "top_k": self.top_k,
            "filters": self.filters.model_dump(exclude_none=True) if self.filters else None,
        }


class AskResponse(BaseModel):
    """The same object `qa ask --json` prints."""

    answer: str
    abstained: bool
    citations: list[Citation]
    timings_ms: dict[str, float]
    mode: str = "extractive"
    guard: GuardReport | None = Field(default=None, description="llm mode: what the grounding guard dropped or flagged")
    fallback: str | None = Field(default=None, description="llm mode: 'extractive' when nothing generated survived")
    notes: list[str] = Field(
        default_factory=list, description="what the sources do not cover, e.g. a side of a comparison"
    )
    short_answer: ShortAnswer | None = Field(
        default=None,
        description="for a year/number/name/place question: the exact span of citation n's quote that answers it",
    )
    short_list: list[ShortAnswer] = Field(
        default_factory=list,
        description="for a question that asks for several names/places/dates/numbers: each, an exact span of a quote",
    )


class SourceSummary(BaseModel):
    source_id: str
    title: str
    short_title: str = Field(description="the title cut at a word after 60 characters, for lists")
    kind: str | None = None
    language: str | None = None
    origin: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    sections: list[str]
    chars: int
    chunks: int = Field(description="passages the document was cut into for retrieval")


class SourceDetail(SourceSummary):
    text: str = Field(description="the cleaned canonical text that citation offsets index")


class SourcePassage(SourceSummary):
    """One passage of a source: what a citation's `url` (`?start=&end=`) opens."""

    start: int = Field(description="where the passage starts in the canonical text")
    end: int = Field(description="where it ends (exclusive)")
    text: str = Field(description="the canonical text's [start:end]: a citation's quote, exactly")


class SourceList(BaseModel):
    sources: list[SourceSummary]


class DocumentAdded(BaseModel):
    """`POST /v1/documents`: the document as the index now lists it, and the ingest's summary."""

    source: SourceSummary
    ingest: str = Field(description="the summary line `qa ingest` prints for the same run")


class DocumentRemoved(BaseModel):
    source_id: str
    ingest: str = Field(description="the summary line `qa ingest` prints for the same run")


IngestStage = Literal["receiving", "indexing", "loading the new index", "removing"]


class IngestProgress(BaseModel):
    """`GET /v1/documents/progress`: what this server's upload or delete is doing now."""

    running: bool
    stage: IngestStage | None = None
    file: str | None = Field(default=None, description="the file being added, or the source id being removed")


class IndexStats(BaseModel):
    documents: int
    chunks: int
    sentences: int
    embedder: str | None
    chunker: str | None


class Health(BaseModel):
    status: Literal["ok"]
    index: IndexStats


# ---------------------------------------------------------------- OpenAI-compatible


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # "developer" is what newer OpenAI clients call "system"; both are ignored (see routes/chat.py).
    role: Literal["system", "developer", "user", "assistant"]
    content: Text | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """temperature, max_tokens, n, tools and the rest are accepted and ignored: the answer is a
    quotation, so there is nothing to sample, and cutting it short would cut off its citations."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatCompletionWithCitations(ChatCompletion):
    """OpenAI's `ChatCompletion`, plus the structured citations (exact spans) and the abstention
    flag; in the llm mode also what the grounding guard did."""

    citations: list[Citation] = Field(default_factory=list, description="exact-span citations of the [n] markers")
    abstained: bool = Field(default=False, description="true when the sources do not answer the question")
    mode: str | None = Field(default=None, description="llm mode only: the answering mode")
    fallback: str | None = Field(default=None, description="llm mode: 'extractive' when nothing generated survived")
    answer: str | None = Field(default=None, description="llm mode: the checked answer without the Sources list")
    guard: GuardReport | None = Field(default=None, description="llm mode: what the grounding guard did")


class InputPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: Text | None = None


class InputItem(BaseModel):
    """A Responses API input item; only messages are read (tool calls and the rest are ignored)."""

    model_config = ConfigDict(extra="ignore")

    type: str = "message"
    role: Literal["system", "developer", "user", "assistant"] | None = None
    content: Text | list[InputPart] | None = None


class ResponsesRequest(BaseModel):
    """`input` is the question, or the conversation as messages. instructions, tools, store and
    the rest are accepted and ignored, as on /v1/chat/completions."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    input: Text | list[InputItem]
    stream: bool = False

    def messages(self) -> list[ChatMessage]:
        if isinstance(self.input, str):
            return [ChatMessage(role="user", content=self.input)]
        return [
            ChatMessage(role=item.role, content=_item_text(item.content))
            for item in self.input
            if item.type == "message" and item.role is not None
        ]


def _item_text(content: str | list[InputPart] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(part.text or "" for part in content if part.type in ("input_text", "output_text", "text"))


class ResponseWithCitations(Response):
    """OpenAI's `Response`, plus the structured citations (exact spans) and the abstention flag."""

    citations: list[Citation] = Field(default_factory=list, description="exact-span citations of the [n] markers")
    abstained: bool = Field(default=False, description="true when the sources do not answer the question")


class ErrorDetail(BaseModel):
    message: str
    type: str
    status: int


class ErrorEnvelope(BaseModel):
    """Every error: one JSON envelope, the shape OpenAI clients show (api/errors.py)."""

    error: ErrorDetail


ERROR_MEANINGS = {
    400: "bad input: malformed JSON, an empty or too long question, an unknown filter",
    401: "missing or wrong API key (when QA_API_KEY is set)",
    404: "no such source or path",
    405: "method not allowed",
    409: "another ingest is running, or a document of that name is in the corpus already",
    413: "request body over the size limit",
    415: "a file of a type ingest does not read, or a body that is not multipart/form-data",
    429: "over QA_RATE_LIMIT_PER_MINUTE (when set); Retry-After says when to try again",
    422: "a field of the wrong type, or an unknown field; an uploaded file that cannot be read",
    503: "the index is not ready, or the LLM server did not answer",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, each with the envelope."""
    return {status: {"model": ErrorEnvelope, "description": ERROR_MEANINGS[status]} for status in statuses}


class ModelList(BaseModel):
    """OpenAI's model listing: `GET /v1/models`."""

    object: Literal["list"] = "list"
    data: list[Model]
