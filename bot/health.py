"""``khabar health``: is this deployment able to answer, in one line and an exit status.

A container's HEALTHCHECK runs it every 30 seconds, so it only looks: it opens the live index
generation (no model is loaded: opening a generation embeds nothing), asks Telegram who the bot
is, asks the model server which models it has, and connects to Milvus. Each check is made only
when its setting is set, and each failure names the setting at fault and the fix. The bot
token is never printed: the request URL carries it, so every message is redacted.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from khabar.bot import logs
from khabar.bot.settings import Settings
from khabar.retrieval.errors import KhabarError
from khabar.retrieval.ingest.formats import is_hidden

# Well under a HEALTHCHECK's default 30 s timeout, with every check made one after the other.
TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    """One thing checked: its name, whether it passed, and what was found or what to fix."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Health:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def line(self) -> str:
        """One line: every check, the failing ones first so a truncated line still says why."""
        ordered = sorted(self.checks, key=lambda c: c.ok)
        parts = [f"{c.name} {'ok' if c.ok else 'FAILED'}: {c.detail}" for c in ordered]
        return ("healthy: " if self.ok else "unhealthy: ") + "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


def check(settings: Settings) -> Health:
    """Every check the settings call for (the index always)."""
    checks: list[Check] = []
    if settings.backend == "milvus":
        checks.append(check_milvus(settings.milvus_uri))
    if all(c.ok for c in checks):
        checks.append(check_index(settings))
    token = settings.telegram_bot_token.strip()
    if token:
        checks.append(check_telegram(token, settings.telegram_api_base_url))
    if settings.llm:
        checks.append(check_llm(settings))
    return Health(tuple(checks))


def check_index(settings: Settings) -> Check:
    """The live generation opens (its files, its store, its vectors); how many articles it
    has; and whether ``seeds/`` has files newer than it, which a running ``index --watch`` or
    the next ``khabar index`` will add: stale is said, but it still answers, so it passes."""
    from khabar.retrieval.engine import Khabar

    engine = Khabar.from_settings(settings)
    try:
        generation = engine.generation()
        manifest = generation.manifest
        newer = _newer_files(settings.seeds_dir, manifest.created)
    except KhabarError as exc:
        return Check("index", False, str(exc))
    finally:
        engine.close()
    state = ("current" if not newer else
             f"stale: {newer} file(s) in {settings.seeds_dir} changed since; `khabar index` "
             "reads them")
    return Check("index", True, f"generation {generation.name}, {manifest.documents} articles, "
                                f"{manifest.passages} passages, {state}")


def _newer_files(seeds: Path, since: float) -> int:
    """Article files modified after ``since``; one stat each, hidden files left out as the
    indexer leaves them out. A missing folder has none."""
    return sum(1 for path in _files(seeds) if _mtime(path) > since)


def _files(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not is_hidden(d)]
        yield from (Path(root, f) for f in files if not is_hidden(f))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed since the walk, or a dangling link: not an article to add
        return 0.0


def check_telegram(token: str, base_url: str) -> Check:
    """``getMe`` with the token: Telegram says whether it is valid and whose it is."""
    import httpx

    try:
        response = httpx.post(f"{base_url}{token}/getMe", timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        reason = logs.redact(str(exc) or type(exc).__name__, (token,))
        return Check("telegram", False, f"cannot reach the Telegram Bot API at {base_url} "
                                         f"({reason}): check the network or "
                                         "TELEGRAM_API_BASE_URL")
    # Telegram answers 404 to a token of the wrong shape and 401 to a revoked one.
    if response.status_code in (401, 404):
        return Check("telegram", False, f"Telegram rejected TELEGRAM_BOT_TOKEN "
                                         f"({response.status_code}): create a new token with "
                                         "@BotFather and set TELEGRAM_BOT_TOKEN")
    try:
        payload = response.json()
        username = payload["result"]["username"] if payload.get("ok") else None
    except (ValueError, KeyError, TypeError, AttributeError):
        username = None
    if response.status_code != 200 or username is None:
        return Check("telegram", False, f"the Telegram Bot API at {base_url} answered HTTP "
                                         f"{response.status_code} to getMe: check "
                                         "TELEGRAM_API_BASE_URL")
    return Check("telegram", True, f"token valid (@{username})")


def check_llm(settings: Settings) -> Check:
    """The model server answers and serves the model (the engine's start-up probe)."""
    from khabar.retrieval.engine import Khabar

    try:
        llm = Khabar.from_settings(settings).llm
        warning = llm.probe() if llm is not None else None
    except KhabarError as exc:  # a bad spec, a missing extra, a refused key, no such model
        return Check("llm", False, str(exc))
    if warning:
        return Check("llm", False, f"{warning} (start it, or fix KHABAR_LLM_BASE_URL)")
    return Check("llm", True, f"{settings.llm} reachable")


def check_milvus(uri: str) -> Check:
    """A Milvus server accepts connections (pymilvus would wait 30 s for one that is down).
    A Milvus Lite file is opened by the index check itself."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https", "tcp", "grpc") or not parts.hostname:
        return Check("milvus", True, f"Milvus Lite file {uri}")
    port = parts.port or (443 if parts.scheme == "https" else 19530)
    try:
        with socket.create_connection((parts.hostname, port), timeout=TIMEOUT_S):
            pass
    except OSError as exc:
        return Check("milvus", False, f"cannot connect to Milvus at {parts.hostname}:{port} "
                                       f"({exc.strerror or exc}): start it, or fix "
                                       "KHABAR_MILVUS_URI")
    return Check("milvus", True, f"{parts.hostname}:{port} reachable")
