"""One settings object, from the environment and ``.env``; CLI flags override it.

Every field has an environment variable (``KHABAR_<NAME>``, or the name in its alias);
``.env.example`` lists them all. A bad value is a ``SettingsError`` that names the variable the
user set, the value and what is allowed, never pydantic's field name.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from khabar.retrieval.config import EngineConfig, http_url
from khabar.retrieval.errors import SettingsError
from khabar.retrieval.index import registry
from khabar.retrieval.stages.rerank import registry as rerankers

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Settings whose values are secrets: never echoed in an error, redacted from every log line.
SECRET_FIELDS = ("telegram_bot_token", "telegram_webhook_secret", "llm_api_key", "milvus_token",
                 "api_keys")
# What Telegram accepts as a webhook's secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings, EngineConfig):
    """The engine's configuration (``EngineConfig``: paths, index, search, model, fetching)
    and the front ends' own settings, below."""


    model_config = SettingsConfigDict(
        env_prefix="KHABAR_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        populate_by_name=True,
    )

    log_level: str = "WARNING"

    telegram_bot_token: str = Field("", validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN"))
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot", validation_alias=AliasChoices("TELEGRAM_API_BASE_URL")
    )
    # Webhook mode: the public https URL Telegram posts updates to (empty: long polling), the
    # host:port the bot's plain-HTTP webhook server listens on behind the TLS proxy, and the
    # secret every call must carry in X-Telegram-Bot-Api-Secret-Token (empty: a new random one
    # each start, which is then also set with Telegram).
    telegram_webhook_url: str = ""
    telegram_webhook_listen: str = "0.0.0.0:8443"
    telegram_webhook_secret: str = Field("", validate_default=True)
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

    # Feeds to follow: comma-separated URLs, or the path of a file listing one per line.
    feeds: str = ""
    # Seconds between two polls of the feeds (khabar feeds, khabar telegram).
    feed_interval: int = Field(900, ge=1)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"choose from {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator("backend", "reranker")
    @classmethod
    def _registered(cls, value: str, info: ValidationInfo) -> str:
        # Names registered after this class was built are valid too: ask at each check.
        choices = (registry if info.field_name == "backend" else rerankers).names()
        if value not in choices:
            raise ValueError(f"choose from {', '.join(choices)}")
        return value

    def feed_list(self) -> list[str]:
        """The feeds ``KHABAR_FEEDS`` names, checked when used (a file it names is read again
        each time, so the list can change without a restart of ``khabar feeds``)."""
        from khabar.retrieval.ingest.feeds import feed_urls

        return feed_urls(self.feeds)

    @field_validator("telegram_api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        value = value.strip()
        if value and not http_url(value).startswith("https://"):
            raise ValueError("Telegram calls webhooks over https only: give the public "
                             "https://... address of the proxy in front of the bot")
        return value

    @field_validator("telegram_webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("expected host:port, e.g. 0.0.0.0:8443 or 127.0.0.1:8443")
        return value.strip()

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value and info.data.get("telegram_webhook_url"):
            # Only in webhook mode: a polling bot has no secret to redact or to set.
            return secrets.token_urlsafe(32)  # letters, digits, - and _: what Telegram takes
        if not value:
            return value
        if not _WEBHOOK_SECRET.fullmatch(value):
            raise ValueError("1 to 256 characters, each a letter, a digit, _ or -")
        return value

    def webhook_listen(self) -> tuple[str, int]:
        """``KHABAR_TELEGRAM_WEBHOOK_LISTEN`` as host and port (an IPv6 host without brackets)."""
        host, _, port = self.telegram_webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)

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
