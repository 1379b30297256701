"""A small fake of the Telegram Bot API on 127.0.0.1, for driving the real PTB stack.

It serves ``POST /bot<token>/<method>``, long-polls ``getUpdates`` like Telegram does (hold the
request until an update arrives or ``timeout`` passes, drop updates below ``offset``), hands
out the documents users "sent" through ``getFile`` and ``GET /file/bot<token>/<path>``, and
records every call so tests can assert on what a user would see.

Telegram's own faults are injected with ``fail(method, fault, times)``: 409 Conflict, 502 Bad
Gateway, 429 with a retry_after, 403 Forbidden, a dropped connection, or a hang. A dropped
getUpdates is dropped after the updates were taken (the answer is lost on the way back); any
other dropped call is dropped before Telegram acts on it. A hung call is carried out at once
(a hung sendMessage reaches the user) and answered only ``delay`` seconds later, which tests
make longer than the bot's read timeout; other calls are served meanwhile. In webhook mode
``deliver`` posts an update to the bot as Telegram would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, web

FAULTS = {
    "409": (409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                 "instance is running"),
    "502": (502, None),  # Telegram's front answers with an HTML page, not JSON
    "429": (429, "Too Many Requests: retry after 1"),
    "403": (403, "Forbidden: bot was blocked by the user"),
}

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Khabar", "username": "khabar_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


class FakeBotAPI:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.updates: list[dict[str, Any]] = []
        self.pushed_at: dict[int, float] = {}
        # The next this many editMessageText calls are refused with 429 and retry_after 1, as
        # Telegram does when a bot edits too fast.
        self.throttle_edits = 0
        self.files: dict[str, bytes] = {}
        # [method, fault, calls left, chat_id or None, retry_after, delay]: see ``fail``.
        self.faults: list[list[Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.webhook_port = 0  # where the bot's webhook server listens (tests set it)
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # A test that leaves a slow or hung request open must not cost a minute at teardown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what tests call -----------------------------------------------------------------

    async def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._ids)
        update["update_id"] = update_id
        self.pushed_at[update_id] = time.monotonic()
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        return update_id

    def message(self, text: str | None, *, user_id: int = 7, chat_id: int | None = None,
                chat_type: str = "private", username: str | None = "reader",
                lang: str = "en", reply_to: dict | None = None, **extra: Any) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": "Reader", "language_code": lang}
        if username:
            user["username"] = username
        chat = {"id": chat_id if chat_id is not None else user_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Newsroom"
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                               "chat": chat, "from": user, **extra}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        return {"message": msg}

    def document(self, name: str, data: bytes, *, size: int | None = None,
                 mime: str = "text/plain", **kw: Any) -> dict:
        """A message carrying a document (``size`` overrides what Telegram reports)."""
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = data
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
                    "mime_type": mime, "file_size": len(data) if size is None else size}
        return self.message(None, document=document, **kw)

    def callback(self, data: str, message: dict, *, user_id: int = 7) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": "Reader", "language_code": "en"}
        return {"callback_query": {"id": str(next(self._ids)), "from": user, "chat_instance": "1",
                                   "data": data, "message": message}}

    def fail(self, method: str, fault: str, times: int = 1, *, chat_id: int | None = None,
             retry_after: float = 1, delay: float = 3) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id``, if given) with
        ``fault``: "409", "502", "429" (with ``retry_after``), "403", "drop" or "hang" (the
        answer comes ``delay`` seconds late: for getUpdates, late after its long-poll wait)."""
        self.faults.append([method, fault, times, chat_id, retry_after, delay])

    def failed(self, method: str, fault: str) -> int:
        """How many calls of ``method`` were answered with ``fault``."""
        return sum(1 for m, _, _ in self.calls if m == f"{method}!{fault}")

    async def deliver(self, update: dict[str, Any], secret: str | None) -> int:
        """POST ``update`` to the webhook set, as Telegram does; the bot's HTTP status."""
        assert self.webhook is not None, "no setWebhook call yet"
        update["update_id"] = next(self._ids)
        port, path = self.webhook["_port"], urlsplit(self.webhook["url"]).path
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with ClientSession() as session, session.post(
                f"http://127.0.0.1:{port}{path}", json=update, headers=headers) as response:
            return response.status

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict]:
        return [p for m, p, _ in self.calls
                if m == method and (chat_id is None or p.get("chat_id") == chat_id)]

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:
        """Wait, bounded, until ``predicate()`` holds; every recorded call re-checks it."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # --- the API -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await _params(request)
        fault = self._fault(method, params)
        if fault is not None:
            return await self._inject(request, method, params, *fault)
        if method == "editMessageText" and self.throttle_edits > 0:
            self.throttle_edits -= 1
            async with self._changed:
                self.calls.append(("429", params, time.monotonic()))
                self._changed.notify_all()
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}}, status=429)
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params) if handler else True
        if isinstance(result, dict) and "message_id" in result:
            params = {**params, "_message_id": result["message_id"]}  # what the bot was told
        async with self._changed:
            self.calls.append((method, params, time.monotonic()))
            self._changed.notify_all()
        return web.json_response({"ok": True, "result": result})

    def _fault(self, method: str, params: dict) -> tuple[str, float, float] | None:
        for entry in self.faults:
            name, fault, left, chat_id, retry_after, delay = entry
            if name == method and left > 0 and chat_id in (None, params.get("chat_id")):
                entry[2] -= 1
                return fault, retry_after, delay
        return None

    async def _inject(self, request: web.Request, method: str, params: dict, fault: str,
                      retry_after: float, delay: float) -> web.Response:
        result: Any = True
        if fault == "hang" or (fault == "drop" and method == "getUpdates"):
            handler = getattr(self, f"_m_{method}", None)
            if handler:
                result = await handler(params)  # carried out, then the answer is late or lost
        async with self._changed:
            self.calls.append((f"{method}!{fault}", params, time.monotonic()))
            self._changed.notify_all()
        if fault == "hang":
            await asyncio.sleep(delay)  # this handler only: the fake answers other calls
            return web.json_response({"ok": True, "result": result})
        if fault == "drop":
            request.transport.close()
            return web.Response()  # never written: the connection is gone
        status, description = FAULTS[fault]
        if description is None:
            return web.Response(status=status, text="<html><h1>502 Bad Gateway</h1></html>",
                                content_type="text/html")
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if fault == "429":
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _m_setWebhook(self, params: dict) -> bool:
        # The bot listens on the port its test gave it; the public URL is not reachable here.
        self.webhook = {**params, "_port": self.webhook_port}
        return True

    async def _m_getFile(self, params: dict) -> dict:
        file_id = params["file_id"]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id]), "file_path": f"documents/{file_id}"}

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].removeprefix("documents/")
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        async with self._changed:
            self.calls.append(("download", {"file_id": file_id}, time.monotonic()))
            self._changed.notify_all()
        return web.Response(body=self.files[file_id])

    async def _m_getMe(self, params: dict) -> dict:
        return BOT_USER

    async def _m_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)

        def pending() -> list[dict]:
            return [u for u in self.updates if u["update_id"] >= offset]

        async with self._changed:
            self.updates = pending()
            if not self.updates and timeout > 0:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(pending())),
                                           timeout)
                except TimeoutError:
                    return []
            return pending()

    async def _m_sendMessage(self, params: dict) -> dict:
        return self._message(params)

    async def _m_editMessageText(self, params: dict) -> dict:
        return self._message(params)

    def _message(self, params: dict) -> dict:
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": params.get("chat_id"), "type": "private"},
                "from": BOT_USER, "text": params.get("text", "")}


async def _params(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out
