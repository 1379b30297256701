"""Two pure ASGI middlewares (cheaper per request than Starlette's ``BaseHTTPMiddleware``): the
request body cap, and the access log with the per-endpoint metrics."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from khabar.bot.serve import metrics
from khabar.bot.serve.errors import error_json

log = logging.getLogger("khabar.bot.serve.access")
_DRAIN_BYTES = 16 * 1024 * 1024


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413 before the app reads any of it.

    A declared ``Content-Length`` is checked first; a chunked body is read up to the limit and
    handed on whole, so nothing downstream can be made to buffer more.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The rest of the body is read and dropped (up to a bound) before answering: closing a
        # socket with unread data resets it, and the client would see a broken connection
        # instead of the 413.
        drained = 0
        while drained < _DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        response = error_json(413, f"the request body is over {self.limit:,} bytes "
                                   "(KHABAR_SERVE_MAX_BODY_BYTES)", {"Connection": "close"})
        await response(scope, receive, send)


class AccessLog:
    """One structured log line and one metrics observation per request.

    The line names the route (``/v1/sources/{doc}``, not the article), the status, the time and
    who called (an API key's number, never the key); never the question.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            metrics.observe(endpoint, scope["method"], status, seconds)
            state = scope.get("state") or {}
            log.info("request", extra={
                "method": scope["method"], "endpoint": endpoint, "status": status,
                "ms": round(seconds * 1000, 1), "caller": state.get("caller", "-"),
            })
