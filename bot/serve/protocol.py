"""The wire format of ``khabar serve``, declared once as pydantic models.

Requests are validated by FastAPI against these models, and the OpenAPI schema (``/docs``) is
generated from them. The answer itself is ``Answer.to_json`` (the contract ``khabar ask --json``
prints): ``AnswerOut`` documents it and checks it where it is embedded in another shape, and
allows fields added to the contract later. The OpenAI-compatible shapes follow the Chat
Completions API as the official ``openai`` client reads it; what clients send beyond what
Khabar uses (temperature, tools, ...) is accepted and ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MODEL_ID = "khabar"

_MAX_HISTORY = 50


def _absent_if_none(value: Any) -> bool:
    return value is None


# --- the native API -------------------------------------------------------------------------

class AskRequest(BaseModel):
    """A question, with the conversation's earlier questions (oldest first) for follow-ups."""

    model_config = ConfigDict(extra="forbid")

    question: str
    history: list[str] = Field(default_factory=list, max_length=_MAX_HISTORY)
    k: int | None = Field(None, ge=1, le=50, description="Citations to return.")


class AlsoInOut(BaseModel):
    """Another outlet's copy of a cited story (one agency text republished)."""

    doc: str
    title: str | None
    outlet: str | None
    date: str | None


class RemovedOut(BaseModel):
    """A generated sentence taken out by the claim checks, and why."""

    text: str
    reason: str


class StoryCitationOut(BaseModel):
    """An article of a followed story, cited as answers cite their sources (an answer's
    ``n`` aside): ``text[start:end] == snippet`` for the article's stored text."""

    doc: str
    title: str | None
    outlet: str | None
    date: str | None
    url: str | None
    snippet: str
    start: int
    end: int
    score: float
    also_in: list[AlsoInOut] = Field(default_factory=list,
                                     description="Other articles carrying the same story.")
    page: int | None = Field(None, description="The PDF page the snippet is on.")


class CitationOut(StoryCitationOut):
    """A numbered source; ``text[start:end] == snippet`` for the article's stored text."""

    model_config = ConfigDict(extra="allow")

    n: int


class AnswerOut(BaseModel):
    """``khabar ask --json``: the answer, how the question was read, and its citations."""

    model_config = ConfigDict(extra="allow")

    question: str
    standalone: str
    found: bool
    answer: str
    citations: list[CitationOut]
    timings_ms: dict[str, float]
    mode: Literal["extractive", "llm"] = Field(
        "extractive", description="Whether the answer was written by the model and checked.")
    removed: list[RemovedOut] = Field(default_factory=list)
    fallback: str | None = Field(None, description="Why a configured model's answer is not "
                                                   "the one shown.")


class _ArticleMeta(BaseModel):
    doc: str
    title: str | None
    outlet: str | None
    date: str | None
    url: str | None
    lang: str | None


class SourceOut(_ArticleMeta):
    """An indexed article."""

    passages: int


class SourcesOut(BaseModel):
    sources: list[SourceOut]


class PassageSpan(BaseModel):
    start: int
    end: int


class ArticleOut(_ArticleMeta):
    """An article's stored text: citation offsets index ``text``; ``passages`` are its spans."""

    text: str
    passages: list[PassageSpan]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """The index this process answers from."""

    ready: Literal[True] = True
    generation: str
    documents: int
    passages: int
    created: float
    embedder: str


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorOut(BaseModel):
    """Every error, whatever the endpoint (the OpenAI client reads ``error.message`` too)."""

    error: ErrorDetail


# --- following stories ---------------------------------------------------------------------

class FollowRequest(BaseModel):
    """A story to follow: a few words or a question, checked as a question is."""

    model_config = ConfigDict(extra="forbid")

    topic: str


class TopicOut(BaseModel):
    """A followed topic; ``id`` names it in ``DELETE /v1/follows/{id}``."""

    id: int
    topic: str
    lang: str = Field(description="The language the topic was written in (ar, fa, en).")
    created: float = Field(description="When it was followed (Unix time).")


class FollowsOut(BaseModel):
    follows: list[TopicOut]
    limit: int = Field(description="How many topics a caller may follow "
                                   "(KHABAR_MAX_TOPICS_PER_CHAT).")


class AlertOut(BaseModel):
    """A new article of a followed story, returned once."""

    id: int
    topic: TopicOut
    citation: StoryCitationOut


class AlertsOut(BaseModel):
    alerts: list[AlertOut]


class NamedDateOut(BaseModel):
    """A date the cited sentence names in words ("yesterday"), worked out from the article's
    date; ``date`` may be a range, ``start/end``."""

    text: str
    date: str


class TimelineEntryOut(BaseModel):
    date: str
    citation: StoryCitationOut
    dates: list[NamedDateOut] = Field(default_factory=list)


class TimelineOut(BaseModel):
    """A story as its dated articles, oldest first, one cited sentence each; ``undated``
    articles of it are left off the axis."""

    topic: str
    undated: int
    entries: list[TimelineEntryOut]


# --- OpenAI-compatible ----------------------------------------------------------------------

class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text; images and other parts are left out."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content or () if p.type == "text" and p.text)


class ChatCompletionRequest(BaseModel):
    """The last user message is the question; earlier user messages are its history."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """The answer as Markdown (numbered citations, then the sources); ``khabar`` holds the
    structured answer, citations and offsets included."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    khabar: AnswerOut


class Delta(BaseModel):
    role: Literal["assistant"] | None = Field(None, exclude_if=_absent_if_none)
    content: str | None = Field(None, exclude_if=_absent_if_none)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer; the last one carries ``khabar``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]
    khabar: AnswerOut | None = Field(None, exclude_if=_absent_if_none)


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "khabar"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
