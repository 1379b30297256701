"""A stand-in for the Telegram Bot API for the container smoke test (.ci/containers).

Standard library only, so it runs on the Khabar image's own Python with no extra package:
``python fake_bot_api.py PORT QUESTION``. The first ``getUpdates`` delivers QUESTION as a
private message; every later one holds for its timeout (long polling, as Telegram does).
``POST /ask`` with a question as its body queues another message from the same reader.
Whatever the bot sends or edits is kept, and ``GET /sent`` returns it as a JSON list.
(tests/fake_telegram.py is the full fake the test suite uses; it needs aiohttp.)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

BOT = {"id": 4242, "is_bot": True, "first_name": "Khabar", "username": "khabar_smoke_bot",
       "can_join_groups": True, "can_read_all_group_messages": False,
       "supports_inline_queries": False}
lock = threading.Lock()
sent: list[str] = []
pending: list[dict] = []
asked = [0]


def message(text: str) -> dict:
    """The reader's next private message (call with ``lock`` held)."""
    asked[0] += 1
    user = {"id": 7, "is_bot": False, "first_name": "Reader", "language_code": "ar"}
    return {"update_id": asked[0], "message": {"message_id": asked[0], "date": int(time.time()),
                                               "chat": {"id": 7, "type": "private"},
                                               "from": user, "text": text}}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet: the smoke test prints what matters
        pass

    def reply(self, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with lock:
            self.reply(list(sent))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "json" in (self.headers.get("Content-Type") or ""):
            params = json.loads(raw or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        method = self.path.rsplit("/", 1)[-1]
        if self.path == "/ask":
            with lock:
                pending.append(message(raw.decode()))
            return self.reply({"ok": True})
        if method == "getMe":
            return self.reply({"ok": True, "result": BOT})
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with lock:
                ready = [u for u in pending if u["update_id"] >= offset]
                pending[:] = ready
            if not ready:
                time.sleep(min(float(params.get("timeout") or 0), 5))
            return self.reply({"ok": True, "result": ready})
        if method in ("sendMessage", "editMessageText"):
            with lock:
                sent.append(str(params.get("text", "")))
            return self.reply({"ok": True, "result": {
                "message_id": 1000 + len(sent), "date": int(time.time()),
                "chat": {"id": params.get("chat_id"), "type": "private"}, "from": BOT,
                "text": params.get("text", "")}})
        # deleteWebhook, sendChatAction, setMyCommands, ...: accepted and ignored.
        return self.reply({"ok": True, "result": True})


if __name__ == "__main__":
    with lock:
        pending.append(message(sys.argv[2]))
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
