"""One settings object, from the environment and ``.env``; CLI flags override it.

Every field has an environment variable (``KHABAR_<NAME>``); ``.env.example`` lists them all.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from embeddings.registry import DEFAULT_EMBEDDER


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
    max_file_bytes: int = Field(20_000_000, ge=1)
    max_question_chars: int = Field(1000, ge=1)
    log_level: str = "WARNING"

    telegram_bot_token: str = Field("", validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN"))
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot", validation_alias=AliasChoices("TELEGRAM_API_BASE_URL")
    )
    # Comma-separated user ids or @usernames; empty means everyone may ask.
    allowed_users: str = ""
    admins: str = ""
    # Questions per user per minute; 0 disables the limit.
    rate_limit: int = Field(10, ge=0)
