"""What the routes call: questions, articles, followed stories and readiness, as wire models.
No HTTP here.

Everything that embeds or reads the index runs in a worker thread, so the event loop keeps
accepting requests while a question is embedded. The engine switches to a newly published index
generation before the next question (``LiveIndex``), so articles indexed while the server runs
are answered from at once.

Followed stories are the engine's (``Khabar.follow``); whoever indexes matches new articles
against them and queues alerts, which an HTTP caller collects with ``alerts``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

from khabar.bot.serve import metrics
from khabar.bot.serve.errors import ApiError
from khabar.bot.serve.markdown import answer_markdown
from khabar.bot.serve.protocol import (
    MODEL_ID,
    AlertOut,
    AlertsOut,
    AnswerOut,
    ArticleOut,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    FollowsOut,
    ModelCard,
    ModelList,
    PassageSpan,
    ReadyOut,
    SourceOut,
    SourcesOut,
    StoryCitationOut,
    TimelineOut,
    TopicOut,
)
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import QuestionError
from khabar.retrieval.follow.store import FollowError, Topic
from khabar.retrieval.index.backend import (
    Generation,
    IndexDamagedError,
    IndexMismatchError,
    IndexNotFoundError,
    KhabarIndexError,
)
from khabar.retrieval.types import Answer

log = logging.getLogger(__name__)


class Serving:
    """One engine for the whole process, shared by every request."""

    def __init__(self, engine: Khabar, *, log_questions: bool = False) -> None:
        self.engine = engine
        self.log_questions = log_questions
        self.started = int(time.time())

    async def ask(self, question: str, history: Sequence[str] = (),
                  k: int | None = None) -> Answer:
        answer = await asyncio.to_thread(self.engine.ask, question, k, history)
        metrics.answered(answer.found)
        if self.log_questions:
            log.info("question", extra={"question": answer.question, "history": len(history),
                                        "found": answer.found})
        return answer

    async def ready(self) -> ReadyOut:
        """The live generation, once it has answered a read of its store (an open generation
        whose store file is gone or locked would fail the first question); 503 naming what is
        missing otherwise."""

        def probe() -> Generation:
            generation = self.engine.generation()
            self.engine.passage(0)  # no passage has id 0: one indexed lookup, no rows
            return generation

        try:
            generation = await asyncio.to_thread(probe)
        except KhabarIndexError as exc:
            raise ApiError(503, f"not ready: {_not_ready(exc)}") from None
        m = generation.manifest
        return ReadyOut(generation=generation.name, documents=m.documents, passages=m.passages,
                        created=m.created, embedder=m.embedder)

    async def sources(self) -> SourcesOut:
        def read() -> SourcesOut:
            counts = self.engine.passage_counts()
            return SourcesOut(sources=[
                SourceOut(doc=d.path, title=d.title, outlet=d.outlet, date=d.date, url=d.url,
                          lang=d.lang, passages=counts.get(d.path, 0))
                for d in self.engine.documents()
            ])

        return await asyncio.to_thread(read)

    async def article(self, doc: str) -> ArticleOut:
        found = await asyncio.to_thread(self.engine.article, doc)
        if found is None:
            raise ApiError(404, f"no article {doc!r} in the index (GET /v1/sources lists them)")
        d = found.doc
        return ArticleOut(doc=d.path, title=d.title, outlet=d.outlet, date=d.date, url=d.url,
                          lang=d.lang, text=found.text,
                          passages=[PassageSpan(start=s, end=e) for s, e in found.passages])

    # Following stories -------------------------------------------------------------------

    async def follow(self, chat: str, text: str) -> tuple[TopicOut, bool]:
        """Follow ``text`` for ``chat``; also ``True`` when the topic is new. Following a
        topic again is no error: the topic as it was comes back (a page that sent it twice,
        or lost the first reply, gets the same answer)."""

        def run() -> tuple[Topic, bool]:
            try:
                return self.engine.follow(chat, text), True
            except FollowError as exc:
                if exc.check != "duplicate":
                    raise
                same = [t for t in self.engine.following(chat) if t.id == exc.details["id"]]
                if not same:  # unfollowed in between: what was asked for is true again
                    return self.engine.follow(chat, text), True
                return same[0], False

        try:
            topic, created = await asyncio.to_thread(run)
        except QuestionError as exc:
            raise _topic_error(exc) from None
        except FollowError as exc:
            raise ApiError(409, f"at most {self.engine.config.max_topics_per_chat} topics may be "
                                "followed (KHABAR_MAX_TOPICS_PER_CHAT): unfollow one first "
                                "(DELETE /v1/follows/{id})") from exc
        if created:
            metrics.followed("follow")
            log.info("followed", extra={"chat": chat, "topic": topic.id,
                                        **({"text": topic.text} if self.log_questions else {})})
        return _topic_out(topic), created

    async def following(self, chat: str) -> FollowsOut:
        topics = await asyncio.to_thread(self.engine.following, chat)
        return FollowsOut(follows=[_topic_out(t) for t in topics],
                          limit=self.engine.config.max_topics_per_chat)

    async def unfollow(self, chat: str, topic_id: int) -> TopicOut:
        try:
            topic = await asyncio.to_thread(self.engine.unfollow, chat, str(topic_id))
        except FollowError:
            raise ApiError(404, f"no followed topic {topic_id} (GET /v1/follows lists "
                                "them)") from None
        metrics.followed("unfollow")
        log.info("unfollowed", extra={"chat": chat, "topic": topic.id})
        return _topic_out(topic)

    async def alerts(self, chat: str, limit: int) -> AlertsOut:
        """The caller's pending alerts, oldest first, each marked sent as it is returned:
        a client that reads them gets each once (the page keeps what it was given)."""

        # Read and marked sent in one transaction: two polls at once, even from two worker
        # processes, never share an alert.
        alerts = await asyncio.to_thread(self.engine.follows.take, chat, limit)
        if alerts:
            metrics.alerts_delivered(len(alerts))
            log.info("alerts_delivered", extra={"chat": chat, "alerts": len(alerts)})
        return AlertsOut(alerts=[
            AlertOut(id=a.id, topic=_topic_out(a.topic),
                     citation=StoryCitationOut.model_validate(a.match.citation))
            for a in alerts])

    async def timeline(self, topic: str) -> TimelineOut:
        try:
            story = await asyncio.to_thread(self.engine.timeline, topic)
        except QuestionError as exc:
            raise _topic_error(exc) from None
        return TimelineOut.model_validate(story.to_json())

    def models(self) -> ModelList:
        return ModelList(data=[ModelCard(created=self.started)])

    async def chat(self, request: ChatCompletionRequest) -> Answer:
        """Answer the last user message with the earlier ones as its history."""
        if request.model != MODEL_ID:
            raise ApiError(404, f"unknown model {request.model!r}; this server serves "
                                f"{MODEL_ID!r}")
        asked = [m.text() for m in request.messages if m.role == "user"]
        if not asked:
            raise ApiError(400, "messages: no user message to answer")
        return await self.ask(asked[-1], asked[:-1])


def _topic_out(topic: Topic) -> TopicOut:
    return TopicOut(id=topic.id, topic=topic.text, lang=topic.lang, created=topic.created)


def _topic_error(exc: QuestionError) -> ApiError:
    """A topic refused by the question checks, worded as a topic (the engine's own words
    speak of a question)."""
    if exc.check == "too_long":
        return ApiError(400, f"topic: {exc.details['length']:,} characters; the limit is "
                             f"{exc.details['limit']:,} (KHABAR_MAX_QUESTION_CHARS)")
    return ApiError(400, "topic: nothing to look for; send a few words or a question about "
                         "the story")


def _not_ready(exc: KhabarIndexError) -> str:
    """Why there is no index to answer from, without its path or address: the probe is open
    to anyone who can reach the server; the log has the full message."""
    log.warning("not_ready", extra={"reason": str(exc)})
    if isinstance(exc, IndexNotFoundError):
        return "no index yet; build it with `khabar index`"
    if isinstance(exc, IndexDamagedError):
        return "the index is damaged; `khabar index` repairs it"
    if isinstance(exc, IndexMismatchError):
        return "the index was built differently (another embedder or layout); rebuild it"
    return "the index cannot be read now (the server's log says why)"


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer) -> ChatCompletion:
    return ChatCompletion(
        id=_completion_id(), created=int(time.time()),
        choices=[Choice(message=AssistantMessage(content=answer_markdown(answer)))],
        khabar=AnswerOut.model_validate(answer.to_json()),
    )


def chunks(answer: Answer) -> list[ChatCompletionChunk]:
    """The streamed form: the role, the Markdown answer, then the end with ``khabar``.

    The answer is extracted, not generated, so it exists whole before the first event; it is
    sent in the shape streaming clients expect rather than token by token.
    """

    completion_id, created = _completion_id(), int(time.time())

    def chunk(delta: Delta, finish: bool = False) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion_id, created=created,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            khabar=AnswerOut.model_validate(answer.to_json()) if finish else None,
        )

    return [chunk(Delta(role="assistant", content="")),
            chunk(Delta(content=answer_markdown(answer))),
            chunk(Delta(), finish=True)]
