"""The engine's configuration, declared once: every field, its default, its bounds and its
choices.

``khabar.bot.settings.Settings`` is this model plus the front ends' own fields, read from the
environment and ``.env`` (``KHABAR_<NAME>``); ``Khabar.from_settings`` hands it to the engine
as it is. The parts of the engine that have defaults of their own (the chunker, the fetcher)
take them from ``DEFAULTS``, so a default changes in one place. This module imports nothing
heavy: the command line reads it before it knows whether any model is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from khabar.embeddings.registry import DEFAULT_EMBEDDER

SEARCH_MODES = ("hybrid", "dense", "lexical")
MILVUS_INDEXES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "DISKANN", "AUTOINDEX")
LLM_PROVIDERS = ("openai", "ollama")
# Milvus collection names: letters, digits and underscores, not starting with a digit; the
# longest name Khabar appends to the prefix is ~20 characters of Milvus's 255.
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")


class EngineConfig(BaseModel):
    """What the engine is built from. The backend and reranker names are checked against
    their registries by the settings, which may know of names registered later."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path(".khabar/index")
    embedder: str = DEFAULT_EMBEDDER
    top_k: int = Field(5, ge=1, le=50)
    # Passage size in characters and overlap between passages (either rebuilds the index).
    chunk_chars: int = Field(600, ge=50)
    chunk_overlap: int = Field(0, ge=0)
    search_mode: str = "hybrid"
    # The rerank stage: which reranker orders the passages and scores answer sentences.
    reranker: str = "best-sentence"
    max_file_bytes: int = Field(20_000_000, ge=1)
    max_question_chars: int = Field(1000, ge=1)

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

    # Generated answers: "" = extractive only; openai:<model> or ollama:<model>.
    llm: str = ""
    llm_base_url: str = ""
    llm_api_key: str = Field("", validation_alias=AliasChoices("KHABAR_LLM_API_KEY",
                                                               "OPENAI_API_KEY"))
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_tokens: int = Field(400, ge=16)
    # Ask the model first, in a short call, whether the passages answer the question at all.
    llm_verify: bool = True

    # Fetching pages and feeds: seconds a fetch may take, the largest body read, and whether
    # loopback and private addresses may be fetched (off: a link must not reach the server's
    # own network).
    fetch_timeout: float = Field(20.0, gt=0)
    max_page_bytes: int = Field(10_000_000, ge=1)
    fetch_allow_private: bool = False

    # Following stories: how many topics one chat may follow, and how close a new passage
    # must be to a topic to alert (its cosine less the topic's pull toward the passage's
    # language; docs/follow.md has the measurements behind the default).
    max_topics_per_chat: int = Field(20, ge=1, le=1000)
    follow_min_score: float = Field(0.079, ge=0.0, le=1.0)

    @field_validator("search_mode")
    @classmethod
    def _search_mode(cls, value: str) -> str:
        if value not in SEARCH_MODES:
            raise ValueError(f"choose from {', '.join(SEARCH_MODES)}")
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

    @field_validator("llm")
    @classmethod
    def _llm(cls, value: str) -> str:
        provider, _, model = value.strip().partition(":")
        if value.strip() and (provider not in LLM_PROVIDERS or not model.strip()):
            raise ValueError("expected openai:<model> or ollama:<model> (empty = no model)")
        return value.strip()

    @field_validator("llm_base_url")
    @classmethod
    def _llm_url(cls, value: str) -> str:
        return value and http_url(value)  # empty: the provider's default


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL with a host; otherwise ``ValueError``."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("expected an http:// or https:// URL")
    return value


DEFAULTS = EngineConfig()
