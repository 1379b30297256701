"""``khabar serve``: the FastAPI application and the uvicorn server around it.

``create_app`` builds the application; its lifespan loads one engine (model warmed, index
opened when there is one) and hands it to the routes as lifespan state. ``run`` checks the
binding, exports the settings the workers need, and starts uvicorn; each worker process calls
``create_app`` itself (``--workers N``), so every worker holds its own engine over the same
index directory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from khabar.bot import logs
from khabar.bot.serve import api
from khabar.bot.serve.errors import ApiError, error_response
from khabar.bot.serve.metrics import IndexCollector
from khabar.bot.serve.middleware import AccessLog, BodyLimit
from khabar.bot.serve.serving import Serving
from khabar.bot.sessions import RateLimiter
from khabar.bot.settings import Settings, env_name
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import KhabarError, SettingsError

log = logging.getLogger(__name__)


def log_level(settings: Settings) -> str:
    """INFO unless asked otherwise: a server's log is its access log (as for the bot)."""
    return logs.service_level(settings.log_level)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; with no settings they are read from the environment (uvicorn's
    factory call in each worker)."""
    settings = settings or Settings.load()
    logs.setup(log_level(settings), settings.keys(), sys.stdout)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        engine = Khabar.from_settings(settings)
        await asyncio.to_thread(engine.embedder.embed_one_query, "warm up")
        try:
            generation = await asyncio.to_thread(engine.generation)
            log.info("index_loaded", extra={"generation": generation.name,
                                            "documents": generation.manifest.documents})
        except KhabarError as exc:  # served as 503 until `khabar index` publishes one
            log.warning("no_index", extra={"reason": str(exc)})
        yield {
            "serving": Serving(engine, log_questions=settings.serve_log_questions),
            "keys": settings.keys(),
            "limiter": RateLimiter(settings.serve_rate_limit),
            "index_metrics": IndexCollector(lambda: engine.generation().manifest),
        }
        # The requests in flight have been answered (uvicorn waits up to its graceful
        # timeout); a Milvus Lite file is released for the next process.
        await asyncio.to_thread(engine.close)
        log.info("stopped")

    app = FastAPI(title="Khabar", summary="Questions about news articles, answered with "
                  "character-exact citations.", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    for router in (api.native, api.follows, api.openai, api.operations, api.page):
        app.include_router(router)
    for exc_type in (ApiError, KhabarError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_type, error_response)
    app.add_middleware(BodyLimit, limit=settings.serve_max_body_bytes)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", api.CLIENT_HEADER])
    app.add_middleware(AccessLog)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(settings: Settings) -> None:
    """Without keys, only this machine may connect: any other address is refused."""
    if not settings.keys() and not is_loopback(settings.serve_host):
        raise SettingsError(
            f"refusing to serve on {settings.serve_host} without API keys: set KHABAR_API_KEYS "
            "(comma-separated) or bind to 127.0.0.1"
        )


def run(settings: Settings, workers: int) -> None:
    """Serve until SIGINT/SIGTERM."""
    import uvicorn

    check_binding(settings)
    Khabar.from_settings(settings)  # an unknown embedder fails here, in one line, not per worker
    # Worker processes read their settings from the environment: flags become variables.
    for field in ("seeds_dir", "index_dir", "embedder"):
        os.environ[env_name(field)] = str(getattr(settings, field))
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="khabar-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    logs.setup(log_level(settings), settings.keys(), sys.stdout)
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler that
    # was there before it: by default that kills the process (status -15, which a supervisor
    # reads as a crash). This handler turns it into a normal exit with status 0.
    signal.signal(signal.SIGTERM, _exit_normally)
    log.info("serving", extra={"url": f"http://{settings.serve_host}:{settings.serve_port}/",
                               "workers": workers, "keys": len(settings.keys())})
    try:
        uvicorn.run("khabar.bot.serve.app:create_app", factory=True, host=settings.serve_host,
                    port=settings.serve_port, workers=workers, log_config=None,
                    access_log=False, timeout_graceful_shutdown=10)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
