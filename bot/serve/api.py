"""The HTTP routes: parse, check the caller, call ``Serving``, respond. No logic beyond that.

``/v1/*`` needs a bearer key when ``KHABAR_API_KEYS`` is set; questions (and following a story
or drawing its timeline, which embed text as a question does) also count against the caller's
rate limit. The probes, the metrics and the page itself are open (the page asks for a key when
the API wants one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from khabar.bot.serve import metrics
from khabar.bot.serve.errors import ApiError
from khabar.bot.serve.protocol import (
    AlertsOut,
    AnswerOut,
    ArticleOut,
    AskRequest,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ErrorOut,
    FollowRequest,
    FollowsOut,
    HealthOut,
    ModelList,
    ReadyOut,
    SourcesOut,
    TimelineOut,
    TopicOut,
)
from khabar.bot.serve.serving import Serving, chunks, completion
from khabar.bot.sessions import RateLimiter

_bearer = HTTPBearer(auto_error=False, description="One of the keys in KHABAR_API_KEYS")
_ERRORS = {status: {"model": ErrorOut} for status in (400, 401, 413, 429, 503)}
# The page's own script and styles are inline and it loads nothing else: the policy says so.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                               "style-src 'unsafe-inline'; img-src 'self' data:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE = resources.files("khabar.bot.serve").joinpath("static/index.html").read_text("utf-8")
CLIENT_HEADER = "X-Khabar-Client"
_CLIENT_ID = re.compile(r"[0-9a-f]{32}")


# The dependencies are coroutines: they do no I/O, and FastAPI would hand a plain function to a
# worker thread (a hop per request, and the rate limiter is not thread-safe).
async def serving(request: Request) -> Serving:
    return request.state.serving


ServingDep = Annotated[Serving, Depends(serving)]


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Who is calling: an API key's number (never the key), or the client's address when the
    server runs without keys (loopback only)."""
    keys: tuple[str, ...] = request.state.keys
    if not keys:
        who = request.client.host if request.client else "-"
    else:
        given = (credentials.credentials if credentials else "").encode()
        who = next((f"key{i}" for i, key in enumerate(keys, 1)
                    if hmac.compare_digest(given, key.encode())), "")
        if not who:
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
    request.state.caller = who
    return who


async def question_quota(request: Request, who: Annotated[str, Depends(caller)]) -> None:
    """Count a question against the caller's limit (KHABAR_SERVE_RATE_LIMIT per minute)."""
    limiter: RateLimiter = request.state.limiter
    wait = limiter.retry_after(who)
    if wait:
        raise ApiError(429, f"too many questions: at most {limiter.per_minute} a minute; "
                            f"retry in {wait} s", {"Retry-After": str(wait)})


async def follower(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    client: Annotated[str | None, Header(
        alias=CLIENT_HEADER, description="Without API keys: who follows, 32 hex digits (128 "
        "random bits the client made once and keeps; the page does)")] = None,
) -> str:
    """Whose followed topics and alerts these are: ``web:`` and 16 hex digits of a SHA-256 of
    the caller's API key, or, on a server without keys, of the client id the page made and
    sends in ``X-Khabar-Client``. Runs after ``caller`` has checked the key.

    A key names its holder whatever its place in ``KHABAR_API_KEYS`` (its number would move
    when the list is edited), but it is a secret, and so is a client id (whoever sends it reads
    its alerts): only the hash is stored or logged. Both hashes have one length, so no web
    chat id is the prefix of another and ``FollowStore.pending(chat)`` reads one chat only.
    """
    if request.state.keys and credentials is not None:  # ``caller`` has checked it
        secret = credentials.credentials
    elif client is None:
        raise ApiError(400, f"missing client id: send the header {CLIENT_HEADER} with 32 hex "
                            "digits (128 random bits made once and kept; the web page does)")
    elif _CLIENT_ID.fullmatch(client.lower()):
        secret = client.lower()
    else:
        raise ApiError(400, f"{CLIENT_HEADER}: not a client id; send 32 hex digits (128 "
                            "random bits made once and kept)")
    return "web:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


FollowerDep = Annotated[str, Depends(follower)]


native = APIRouter(prefix="/v1", tags=["native"], dependencies=[Depends(caller)],
                   responses=_ERRORS)
openai = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(caller)],
                   responses=_ERRORS)
follows = APIRouter(prefix="/v1", tags=["follows"], dependencies=[Depends(caller)],
                    responses=_ERRORS)
operations = APIRouter(tags=["operations"])
page = APIRouter(include_in_schema=False)


@native.post("/ask", response_model=AnswerOut, dependencies=[Depends(question_quota)])
async def ask(body: AskRequest, s: ServingDep) -> Response:
    """Answer a question; the JSON is exactly ``khabar ask --json``'s."""
    answer = await s.ask(body.question, body.history, body.k)
    return JSONResponse(answer.to_json())


@native.get("/sources", response_model=SourcesOut)
async def sources(s: ServingDep) -> SourcesOut:
    """List the indexed articles."""
    return await s.sources()


@native.get("/sources/{doc:path}", response_model=ArticleOut)
async def article(doc: str, s: ServingDep) -> ArticleOut:
    """Return one article's text: citation offsets (``start``, ``end``) index it."""
    return await s.article(doc)


@follows.post("/follows", response_model=TopicOut, status_code=201,
              dependencies=[Depends(question_quota)],
              responses={200: {"model": TopicOut, "description": "Already followed: the topic "
                                                                "as it was"},
                         409: {"model": ErrorOut}})
async def follow(body: FollowRequest, chat: FollowerDep, s: ServingDep) -> Response:
    """Follow a story: its new articles become alerts for this caller (``GET /v1/alerts``)."""
    topic, created = await s.follow(chat, body.topic)
    return JSONResponse(topic.model_dump(), status_code=201 if created else 200)


@follows.get("/follows", response_model=FollowsOut)
async def following(chat: FollowerDep, s: ServingDep) -> FollowsOut:
    """List the caller's followed topics, oldest first."""
    return await s.following(chat)


@follows.delete("/follows/{topic_id}", response_model=TopicOut,
                responses={404: {"model": ErrorOut}})
async def unfollow(topic_id: int, chat: FollowerDep, s: ServingDep) -> TopicOut:
    """Stop following a topic; its alerts not yet read go with it."""
    return await s.unfollow(chat, topic_id)


@follows.get("/alerts", response_model=AlertsOut)
async def alerts(chat: FollowerDep, s: ServingDep,
                 limit: Annotated[int, Query(ge=1, le=100)] = 50) -> AlertsOut:
    """The caller's new articles of followed stories, oldest first; each is returned once."""
    return await s.alerts(chat, limit)


@follows.get("/timeline", response_model=TimelineOut, dependencies=[Depends(question_quota)])
async def timeline(topic: Annotated[str, Query(description="Words or a question naming the "
                                                           "story")],
                   s: ServingDep) -> TimelineOut:
    """A story as its dated articles, oldest first, each with the sentence that shows it."""
    return await s.timeline(topic)


@openai.get("/models", response_model=ModelList)
async def models(s: ServingDep) -> ModelList:
    """List the one model, ``khabar``."""
    return s.models()


@openai.post("/chat/completions", response_model=ChatCompletion,
             dependencies=[Depends(question_quota)],
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "A ChatCompletion, or with stream=true "
                                             "ChatCompletionChunk events then [DONE]"}})
async def chat_completions(body: ChatCompletionRequest,
                           s: ServingDep) -> Response:
    """Answer the conversation's last user message (OpenAI Chat Completions)."""
    answer = await s.chat(body)
    if not body.stream:
        return JSONResponse(completion(answer).model_dump())
    return StreamingResponse(_sse(chunks(answer)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(events: list[ChatCompletionChunk]) -> AsyncIterator[str]:
    for event in events:
        yield f"data: {event.model_dump_json()}\n\n"
    yield "data: [DONE]\n\n"


@operations.get("/livez", response_model=HealthOut)
@operations.get("/healthz", response_model=HealthOut)
async def livez() -> HealthOut:
    """Alive: the process answers HTTP (200 always; a liveness probe restarts it otherwise).
    ``/healthz`` is the earlier name, kept for probes already configured with it."""
    return HealthOut()


@operations.get("/readyz", response_model=ReadyOut, responses={503: {"model": ErrorOut}})
async def readyz(s: ServingDep) -> ReadyOut:
    """Ready: the index is open and answers a read; which generation, how many articles and
    passages. 503 with the reason otherwise (a readiness probe then sends no traffic)."""
    return await s.ready()


@operations.get("/metrics", response_class=Response)
def prometheus(request: Request) -> Response:
    """Prometheus text format (runs in a worker thread: it reads the index manifest)."""
    return Response(metrics.render(request.state.index_metrics),
                    media_type=metrics.CONTENT_TYPE)


@page.get("/", response_class=HTMLResponse)
async def chat_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=_PAGE_HEADERS)
