"""One settings object, from the environment and ``.env``; CLI flags override it.

Every field has an environment variable (``KHABAR_<NAME>``, or the name in its alias);
``.env.example`` lists them all. A bad value is a ``SettingsError`` that names the variable the
user set, the value and what is allowed, never pydantic's field name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from khabar.embeddings.registry import DEFAULT_EMBEDDER
from khabar.retrieval.errors import SettingsError
from khabar.retrieval.index import registry
from khabar.retrieval.stages.rerank.registry import DEFAULT as DEFAULT_RERANKER
from khabar.retrieval.stages.rerank.registry import names as reranker_names

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SEARCH_MODES = ("hybrid", "dense", "lexical")
MILVUS_INDEXES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "DISKANN", "AUTOINDEX")
# Milvus collection names: letters, digits and underscores, not starting with a digit; the
# longest name Khabar appends to the prefix is ~20 characters of Milvus's 255.
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
LLM_PROVIDERS = ("openai", "ollama")
# Settings whose values are secrets: never echoed in an error, redacted from every log line.
SECRET_FIELDS = ("telegram_bot_token", "llm_api_key", "milvus_token", "api_keys")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KHABAR_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        populate_by_name=True,
    )

    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path(".khabar/index")
    embedder: str = DEFAULT_EMBEDDER
    top_k: int = Field(5, ge=1, le=50)
    chunk_chars: int = Field(600, ge=50)
    chunk_overlap: int = Field(0, ge=0)
    search_mode: str = "hybrid"
    # The rerank stage: which reranker orders the passages and scores answer sentences.
    reranker: str = DEFAULT_RERANKER
    max_file_bytes: int = Field(20_000_000, ge=1)
    max_question_chars: int = Field(1000, ge=1)
    log_level: str = "WARNING"

    # Where the index lives: ``local`` (index_dir: SQLite + FAISS) or ``milvus``.
    backend: str = "local"
    # A path ending in .db is a Milvus Lite file (one process at a time); http://host:19530
    # is a Milvus server or cluster that any number of processes share.
    milvus_uri: str = ".khabar/milvus.db"
    # A secret: never logged (redacted from every line) nor echoed in errors.
    milvus_token: str = ""
    # Collections are named <prefix>_..., so several corpora can share one Milvus.
    milvus_prefix: str = "khabar"
    milvus_index: str = "FLAT"

    telegram_bot_token: str = Field("", validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN"))
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot", validation_alias=AliasChoices("TELEGRAM_API_BASE_URL")
    )
    # Comma-separated user ids or @usernames; empty means everyone may ask.
    allowed_users: str = ""
    admins: str = ""
    # Questions per user per minute; 0 disables the limit.
    rate_limit: int = Field(10, ge=0)

    # ``khabar serve``: loopback unless keys are set (checked at start, not here).
    serve_host: str = "127.0.0.1"
    serve_port: int = Field(8000, ge=1, le=65535)
    # Comma-separated bearer keys; empty = no key, allowed only on a loopback address.
    api_keys: str = ""
    # Questions per API key (or per client address without keys) per minute; 0 = no limit.
    serve_rate_limit: int = Field(60, ge=0)
    serve_max_body_bytes: int = Field(262_144, ge=1024)
    # Comma-separated origins allowed to call the API from other sites' pages; empty = none.
    cors_origins: str = ""
    # Write question texts to the log (off: the access log has paths, status and timings only).
    serve_log_questions: bool = False

    # Generated answers: "" = extractive only; openai:<model> or ollama:<model>.
    llm: str = ""
    llm_base_url: str = ""
    llm_api_key: str = Field("", validation_alias=AliasChoices("KHABAR_LLM_API_KEY",
                                                               "OPENAI_API_KEY"))
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_tokens: int = Field(400, ge=16)
    # Ask the model first, in a short call, whether the passages answer the question at all.
    llm_verify: bool = True
    # Feeds to follow: comma-separated URLs, or the path of a file listing one per line.
    feeds: str = ""
    # Seconds between two polls of the feeds (khabar feeds, khabar telegram).
    feed_interval: int = Field(900, ge=1)
    # Fetching pages and feeds: seconds a fetch may take, the largest body read, and whether
    # loopback and private addresses may be fetched (off: a link must not reach the server's
    # own network).
    fetch_timeout: float = Field(20.0, gt=0)
    max_page_bytes: int = Field(10_000_000, ge=1)
    fetch_allow_private: bool = False

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"choose from {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator("search_mode", "backend")
    @classmethod
    def _choice(cls, value: str, info: ValidationInfo) -> str:
        # Backends registered after this class was built are valid too: ask at each check.
        choices = SEARCH_MODES if info.field_name == "search_mode" else registry.names()
        if value not in choices:
            raise ValueError(f"choose from {', '.join(choices)}")
        return value

    @field_validator("reranker")
    @classmethod
    def _reranker(cls, value: str) -> str:
        if value not in reranker_names():
            raise ValueError(f"choose from {', '.join(reranker_names())}")
        return value

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_uri(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme in ("http", "https", "tcp") or value.startswith("unix:"):
            return value
        if not value.endswith(".db"):
            raise ValueError("expected a Milvus Lite file ending in .db, or http://host:19530")
        return value

    @field_validator("milvus_prefix")
    @classmethod
    def _milvus_prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError("letters, digits and underscores, not starting with a digit")
        return value

    @field_validator("milvus_index")
    @classmethod
    def _milvus_index(cls, value: str) -> str:
        if value.upper() not in MILVUS_INDEXES:
            raise ValueError(f"choose from {', '.join(MILVUS_INDEXES)}")
        return value.upper()

    def feed_list(self) -> list[str]:
        """The feeds ``KHABAR_FEEDS`` names, checked when used (a file it names is read again
        each time, so the list can change without a restart of ``khabar feeds``)."""
        from khabar.retrieval.ingest.feeds import feed_urls

        return feed_urls(self.feeds)

    @field_validator("llm")
    @classmethod
    def _llm(cls, value: str) -> str:
        provider, _, model = value.strip().partition(":")
        if value.strip() and (provider not in LLM_PROVIDERS or not model.strip()):
            raise ValueError("expected openai:<model> or ollama:<model> (empty = no model)")
        return value.strip()

    @field_validator("telegram_api_base_url", "llm_base_url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "llm_base_url" and not value:
            return value  # the provider's default
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("expected an http:// or https:// URL")
        return value

    def keys(self) -> tuple[str, ...]:
        """The configured API keys (``KHABAR_API_KEYS``)."""
        return tuple(k.strip() for k in self.api_keys.split(",") if k.strip())

    def secrets(self) -> tuple[str, ...]:
        """The secret values set, for ``khabar.bot.logs.setup`` to redact."""
        values = (getattr(self, f) for f in SECRET_FIELDS if f != "api_keys")
        return (*(v.strip() for v in values if v.strip()), *self.keys())

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment, ``.env`` and ``overrides`` (flags; None = unset)."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise SettingsError("; ".join(_describe(e) for e in exc.errors())) from None


def env_name(field: str) -> str:
    """The environment variable behind a settings field."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"KHABAR_{field.upper()}"


def _describe(error: dict[str, Any]) -> str:
    field = str(error["loc"][0]) if error.get("loc") else "?"
    name = env_name(field) if field in Settings.model_fields else field
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if field in SECRET_FIELDS else f"={value!r}"
    return f"invalid setting {name}{shown}: {message}"
