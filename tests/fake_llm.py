"""A scripted fake of an OpenAI-compatible server and of Ollama's chat API on 127.0.0.1.

It serves ``GET /v1/models``, ``POST /v1/chat/completions`` (SSE when ``stream`` is set, one
JSON body otherwise), ``GET /api/tags`` and ``POST /api/chat`` (NDJSON when streaming), in a
thread of its own so that synchronous code, CLI runs and subprocesses can all talk to it. Each
request takes the next scripted ``Reply`` (the last one repeats) and is recorded, so a test
can check what the model was sent. A verification request (``llm.VERIFY_SYSTEM``) is answered
by ``verdict`` instead, "YES" unless a test says otherwise, and recorded apart.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from khabar.retrieval.stages.llm import VERIFY_SYSTEM

MODEL = "fake-model"


@dataclass(frozen=True)
class Reply:
    """What the fake model does with one request."""

    text: str = ""
    status: int = 0  # an HTTP error status instead of an answer
    retry_after: str | None = None
    delay: float = 0.0  # before the response starts
    chunk_delay: float = 0.0  # between streamed pieces
    malformed: bool = False  # a piece that is not JSON
    cut: bool = False  # the connection drops halfway through the answer
    no_finish: bool = False  # the stream ends cleanly halfway, with no finish reason
    repeat: int = 1  # the text this many times over (a server ignoring max_tokens)
    echo: bool = False  # answer with passage [1]'s first sentence, cited: plumbing, not quality


def _echo(body: dict[str, Any]) -> str:
    """The first full sentence (six words or more) of passage [1] in the prompt, cited."""
    prompt = "\n" + body["messages"][-1]["content"]
    if "\n[1] " not in prompt:
        return "NO_ANSWER"
    passage = prompt.split("\n[1] ", 1)[1].split("\n\n[2] ")[0].split("\n\nQuestion:")[0]
    body_text = passage.split("\n", 1)[1] if "\n" in passage else passage
    sentences = re.split(r"(?<=[.!?؟])\s+|\n+", body_text)
    sentence = next((s for s in sentences if len(s.split()) >= 6), body_text.strip())
    return f"{sentence.strip().rstrip('.!?؟')} [1]."


class FakeLLM:
    def __init__(self, *replies: Reply, models: tuple[str, ...] = (MODEL,),
                 verdict: Reply = Reply("YES")) -> None:
        self.replies = list(replies) or [Reply("")]
        self.models = models
        self.verdict = verdict
        self.verifications: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> FakeLLM:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fake-llm", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake LLM server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/chat", self._ollama)
        # A test that leaves a slow or hung request open must not cost a minute at teardown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply, verdict: Reply = Reply("YES")) -> None:
        self.replies = list(replies)
        self.verdict = verdict
        self.requests.clear()
        self.verifications.clear()

    def chats(self) -> list[dict[str, Any]]:
        """The chat requests received, oldest first."""
        return [body for path, body in self.requests if path.endswith("chat")
                or path.endswith("completions")]

    # --- the APIs ------------------------------------------------------------------------

    def _next(self, path: str, body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or [{}]
        if messages[0].get("content") == VERIFY_SYSTEM:
            self.verifications.append(body)
            return self.verdict
        self.requests.append((path, body))
        index = min(len(self.chats()) - 1, len(self.replies) - 1)
        return self.replies[index]

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]})

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": m, "model": m} for m in self.models]})

    async def _error(self, reply: Reply) -> web.Response:
        headers = {"Retry-After": reply.retry_after} if reply.retry_after else None
        return web.json_response({"error": {"message": "scripted failure", "type": "server_error",
                                            "code": reply.status}},
                                 status=reply.status, headers=headers)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        reply = self._next("/v1/chat/completions", body)
        await asyncio.sleep(reply.delay)
        if reply.status:
            return await self._error(reply)
        text = _echo(body) if reply.echo else reply.text * reply.repeat
        if not body.get("stream"):
            if reply.malformed:
                return web.Response(text='{"choices": [', content_type="application/json")
            if reply.cut:
                return await self._cut(request)
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        def event(delta: dict[str, Any], finish: str | None) -> bytes:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": body["model"],
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        return await self._stream(request, reply, text, "text/event-stream",
                                  lambda piece: event({"content": piece}, None),
                                  event({}, "stop") + b"data: [DONE]\n\n", b"data: {oops\n\n")

    async def _ollama(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        reply = self._next("/api/chat", body)
        await asyncio.sleep(reply.delay)
        if reply.status:
            return web.json_response({"error": "scripted failure"}, status=reply.status)
        text = _echo(body) if reply.echo else reply.text * reply.repeat

        def line(content: str, done: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"model": body["model"], "created_at": "2024-06-19T00:00:00Z",
                                   "message": {"role": "assistant", "content": content},
                                   "done": done}
            if done:
                out |= {"done_reason": "stop", "total_duration": 1, "eval_count": 1,
                        "prompt_eval_count": 1}
            return out

        if not body.get("stream", True):
            if reply.malformed:
                return web.Response(text='{"message": ', content_type="application/json")
            if reply.cut:
                return await self._cut(request)
            return web.json_response(line(text, True))
        return await self._stream(request, reply, text, "application/x-ndjson",
                                  lambda piece: (json.dumps(line(piece, False)) + "\n").encode(),
                                  (json.dumps(line("", True)) + "\n").encode(), b"{oops\n")

    async def _cut(self, request: web.Request) -> web.StreamResponse:
        """Half a JSON body, then the connection drops."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id": "chatcmpl-fake", "choices": [{"message": ')
        request.transport.close()
        return response

    async def _stream(self, request: web.Request, reply: Reply, text: str, content_type: str,
                      piece, end: bytes, garbage: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        try:
            return await self._write_stream(request, response, reply, text, content_type, piece,
                                            end, garbage)
        except ConnectionResetError:  # the client gave up (its deadline): nothing to answer
            return response

    async def _write_stream(self, request: web.Request, response: web.StreamResponse,
                            reply: Reply, text: str, content_type: str, piece, end: bytes,
                            garbage: bytes) -> web.StreamResponse:
        await response.prepare(request)
        words = text.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        half = max(1, len(pieces) // 2)
        for i, p in enumerate(pieces):
            if i == half and (reply.cut or reply.no_finish or reply.malformed):
                if reply.malformed:
                    await response.write(garbage)
                    continue
                if reply.cut:
                    request.transport.close()  # mid-body: the chunked encoding never ends
                return response
            await response.write(piece(p))
            await asyncio.sleep(reply.chunk_delay)
        await response.write(end)
        await response.write_eof()
        return response
