"""Generated answers: the retrieved passages, numbered, go to a chat model through LangChain;
its answer is checked sentence by sentence (``checks``) before anything is shown.

The extractive answer stays the default and is the fallback: whatever goes wrong with the model
(a timeout, a refused connection, HTTP 429 or 5xx after one retry, a broken or truncated
stream, an answer ten times too long, too few sentences surviving the checks), the question
is answered extractively with the reason in ``Answer.fallback``, logged once. Nothing here
raises to the user once the model is set up.

A model is named by a spec: ``openai:<model>`` (any OpenAI-compatible server: llama.cpp,
vLLM, LM Studio, OpenRouter, OpenAI; LangChain's ``ChatOpenAI``) or ``ollama:<model>``
(``ChatOllama``). Their packages are the ``llm`` extra and load only when a model is built, so
commands that answer nothing never import them.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from khabar.retrieval.config import LLM_PROVIDERS
from khabar.retrieval.errors import KhabarError
from khabar.retrieval.stages.checks import check, citations
from khabar.retrieval.strings import say
from khabar.retrieval.types import Citation, Removed

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

log = logging.getLogger(__name__)

DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "ollama": "http://127.0.0.1:11434"}
LANGUAGES = {"ar": "Arabic", "fa": "Persian", "en": "English"}
# What the model replies when the passages do not answer the question.
NO_ANSWER = "NO_ANSWER"
MAX_SENTENCES = 4
# The passages the model reads: the top ones (KHABAR_TOP_K's default), whatever k a caller
# asks for; more slows a small local model down without helping it (eval asks for 10).
MAX_SOURCES = 5
# An answer longer than this many characters per allowed token was not limited by the server
# (a token is at most a few characters in any of our languages): it is cut off and refused.
_CHARS_PER_TOKEN = 8
# One retry after HTTP 429 or 5xx, this long after the failure unless the server says longer
# (Retry-After), within the same overall deadline.
_BACKOFF_S = 1.0
_MAX_BACKOFF_S = 5.0
# The HTTP client's own timeout is longer than the answer's deadline, so that the deadline is
# what ends a slow answer (one reason, one message) and the abandoned call ends soon after.
_CLIENT_GRACE_S = 2.0
# The passages the model is asked about before it answers (``verify_messages``): the first
# three hold the answer for 0.90 of the archive's answerable questions and 0.91 of xquad's
# English ones (ans@snip3), and a short prompt is quick.
VERIFY_SOURCES = 3
VERIFY_SYSTEM = ("You check whether news passages answer a question. Reply with one word: "
                 "YES or NO.")
# The start-up probe must not hold up a command for long: a slow server is found at the first
# question anyway, where the full timeout applies.
_PROBE_TIMEOUT_S = 5.0


class LLMSetupError(KhabarError):
    """KHABAR_LLM cannot be used as set: a bad spec, the extra not installed, a model the
    server does not have, or a refused API key."""


class LLMFailure(Exception):
    """The model gave no usable answer this time; ``reason`` is one line for the user."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """The ``KHABAR_LLM*`` settings."""

    spec: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)  # never in a log line or an assertion
    timeout: float = 60.0
    max_tokens: int = 400
    verify: bool = True

    @property
    def provider(self) -> str:
        return parse_spec(self.spec)[0]

    @property
    def model(self) -> str:
        return parse_spec(self.spec)[1]

    @property
    def url(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")


def parse_spec(spec: str) -> tuple[str, str]:
    """``openai:<model>`` or ``ollama:<model>`` as (provider, model)."""
    provider, _, model = spec.strip().partition(":")
    if provider not in LLM_PROVIDERS or not model.strip():
        raise LLMSetupError(
            f"KHABAR_LLM={spec!r}: expected openai:<model> (any OpenAI-compatible server) or "
            "ollama:<model>, e.g. openai:gpt-4o-mini or ollama:qwen2.5:7b; empty = no model")
    return provider, model.strip()


def chat_model(config: LLMConfig) -> BaseChatModel:
    """The LangChain chat model for ``config``: deterministic, no retries of its own (one
    retry is done here, inside the answer's deadline), the answer length capped."""
    provider, model = parse_spec(config.spec)
    try:
        if provider == "openai":
            from langchain_openai import ChatOpenAI

            # Local servers need no key, but the client refuses to start without one.
            return ChatOpenAI(model=model, base_url=config.url, api_key=config.api_key or "none",
                              timeout=config.timeout + _CLIENT_GRACE_S, max_retries=0,
                              max_tokens=config.max_tokens, temperature=0)
        from langchain_ollama import ChatOllama

        return ChatOllama(model=model, base_url=config.url, num_predict=config.max_tokens,
                          temperature=0,
                          client_kwargs={"timeout": config.timeout + _CLIENT_GRACE_S})
    except ImportError:
        raise LLMSetupError(
            f"KHABAR_LLM={config.spec} needs the LangChain integrations: "
            "pip install 'khabar[llm]' (langchain-openai, langchain-ollama)") from None


def probe(config: LLMConfig) -> str | None:
    """Ask the server which models it has, cheaply, at start-up.

    A model the server does not list or a refused key is a setting to fix: ``LLMSetupError``.
    An unreachable server is returned as a one-line warning: questions are then answered
    extractively (with the reason) until it is back.
    """
    import httpx

    if config.provider == "openai":
        url = config.url + "/models"
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    else:
        url, headers = config.url + "/api/tags", {}
    try:
        response = httpx.get(url, headers=headers, timeout=min(config.timeout, _PROBE_TIMEOUT_S))
    except httpx.HTTPError as exc:
        return (f"KHABAR_LLM={config.spec}: {config.url} is not answering ({classify(exc)}); "
                "answers are extractive until it is")
    if response.status_code in (401, 403):
        raise LLMSetupError(f"KHABAR_LLM={config.spec}: {config.url} refused the API key "
                            "(KHABAR_LLM_API_KEY, or OPENAI_API_KEY)")
    if response.status_code != 200:  # a server without a model list: nothing to check
        return None
    try:
        payload = response.json()
        if config.provider == "openai":
            served = {m["id"] for m in payload.get("data") or ()}
        else:
            served = {m.get("name") or m.get("model") for m in payload.get("models") or ()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    model = config.model
    if served and model not in served and f"{model}:latest" not in served:
        raise LLMSetupError(
            f"KHABAR_LLM={config.spec}: {config.url} has no model {model!r}; it serves "
            + ", ".join(sorted(served)[:12]))
    return None


def classify(exc: BaseException) -> str:
    """One line saying why a call to the model failed, from the exception and its causes.

    LangChain wraps the SDK's errors, which wrap those of the HTTP client underneath, and the
    SDKs do not share one HTTP client (openai ships its own fork of httpx): causes are matched
    by class name, most telling first.
    """
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for e in chain:
        status = getattr(e, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return f"HTTP {status} from the model server"
    names = [type(e).__name__ for e in chain]
    for marker, reason in (("Timeout", "the model server timed out"),
                           ("RemoteProtocolError", "the model server broke off its answer"),
                           ("JSONDecodeError", "the model server sent a malformed answer"),
                           ("Connect", "cannot connect to the model server")):
        if any(marker in name for name in names):
            return reason
    return f"the model call failed ({type(exc).__name__})"


def _retry_after(exc: BaseException) -> float | None:
    """Seconds to wait before the one retry, for HTTP 429 and 5xx; None = do not retry."""
    current: BaseException | None = exc
    while current is not None:
        status = getattr(current, "status_code", None)
        if isinstance(status, int) and (status == 429 or status >= 500):
            response = getattr(current, "response", None)
            header = response.headers.get("retry-after") if response is not None else None
            try:
                return min(max(float(header), 0.0), _MAX_BACKOFF_S) if header else _BACKOFF_S
            except ValueError:
                return _BACKOFF_S
        current = current.__cause__ or current.__context__
    return None


def _finish(metadata: dict[str, Any]) -> str | None:
    """The finish reason a provider reports at the end of an answer (OpenAI ``finish_reason``,
    Ollama ``done_reason``)."""
    return metadata.get("finish_reason") or metadata.get("done_reason") or (
        "stop" if metadata.get("done") is True else None)


def source_text(c: Citation) -> str:
    """A passage as the model is shown it, and as its claims are checked: header, then text."""
    meta = ", ".join(x for x in (c.outlet, c.date) if x)
    return (c.title or c.doc) + (f" — {meta}" if meta else "") + "\n" + c.snippet


def answer_messages(question: str, lang: str, sources: Sequence[Citation]) -> list[BaseMessage]:
    """The prompt: rules in the system message, the numbered passages and the question."""
    from langchain_core.messages import HumanMessage, SystemMessage

    language = LANGUAGES.get(lang, "the language of the question")
    system = (
        "You answer questions about news articles using only the numbered passages given.\n"
        f"- Answer in {language}, whatever the language of the passages.\n"
        f"- At most {MAX_SENTENCES} short sentences. No introduction, no headings, no lists.\n"
        "- Every sentence states only facts found in the passages and ends with the number "
        "of each passage it comes from, like [1] or [1][3].\n"
        "- Write every number with digits, exactly as its passage gives it.\n"
        "- Write names as the passages do, or in their usual spelling in your language.\n"
        "- Put words in quotation marks only when they are copied exactly from a passage, in "
        "the passage's language.\n"
        f"- If the passages do not answer the question, reply only: {NO_ANSWER}"
    )
    passages = "\n\n".join(f"[{c.n}] {source_text(c)}" for c in sources)
    return [SystemMessage(system),
            HumanMessage(f"Passages:\n\n{passages}\n\nQuestion: {question}")]


def verify_messages(question: str, sources: Sequence[Citation]) -> list[BaseMessage]:
    """The prompt asking only whether the passages answer the question.

    Asked to answer or say NO_ANSWER, a small model answers nearly always: Qwen2.5-Coder-1.5B
    said NO_ANSWER to none of 41 archive near-misses. Asked this alone, it said NO to 5 of them
    and to none of 43 answerable questions (docs/experiments.md)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    passages = "\n\n".join(f"[{c.n}] {source_text(c)}" for c in sources[:VERIFY_SOURCES])
    return [SystemMessage(VERIFY_SYSTEM),
            HumanMessage(f"Passages:\n\n{passages}\n\nQuestion: {question}\n\nDo the passages "
                         "state the answer to this exact question (the same event, person, "
                         "place and time)? Reply with one word: YES or NO.")]


def says_no(reply: str) -> bool:
    """Whether a verification reply is a no ("NO", "No.", "**NO**"); anything else lets the
    model answer, so an unclear reply costs nothing."""
    words = re.findall(r"[A-Za-z]+", reply)
    return bool(words) and words[0].upper() in ("NO", "NOT")


def condense_messages(question: str, history: Sequence[str]) -> list[BaseMessage]:
    """The prompt that turns a follow-up into a question that stands on its own."""
    from langchain_core.messages import HumanMessage, SystemMessage

    system = ("Rewrite the user's last question so that it can be understood without the "
              "conversation: replace pronouns and references with what they refer to, keep "
              "its language, add nothing else. If it is already clear on its own, repeat it "
              "unchanged. Reply with the question only.")
    earlier = "\n".join(f"- {h}" for h in history)
    return [SystemMessage(system),
            HumanMessage(f"Earlier questions:\n{earlier}\n\nLast question: {question}")]


@dataclass(frozen=True, slots=True)
class Generated:
    """The generation stage's result. With ``fallback`` set, the extractive answer is shown;
    ``removed`` lists the sentences the checks took out either way."""

    found: bool
    text: str
    removed: tuple[Removed, ...]
    fallback: str | None
    ms: float


class LLM:
    """A chat model behind the deadline, retry and checks every generated answer goes through.

    ``stream`` chooses how answers are fetched when nobody watches them (``on_text`` unset):
    streamed, or in one response. ``expects_finish`` says whether the provider reports a
    finish reason; where it does, a stream that ends without one was cut off. ``verify`` asks
    the model whether the passages answer the question before it writes an answer, as
    ``KHABAR_LLM_VERIFY`` does for a configured model (on by default in both).
    """

    def __init__(self, model: BaseChatModel, *, name: str, timeout: float = 60.0,
                 max_tokens: int = 400, expects_finish: bool = False, verify: bool = True,
                 config: LLMConfig | None = None) -> None:
        self.model = model
        self.name = name
        self.verify = verify
        self.timeout = timeout
        self.max_chars = max_tokens * _CHARS_PER_TOKEN
        self.expects_finish = expects_finish
        self.config = config

    @classmethod
    def from_config(cls, config: LLMConfig) -> LLM:
        return cls(chat_model(config), name=config.spec, timeout=config.timeout,
                   max_tokens=config.max_tokens, expects_finish=True, verify=config.verify,
                   config=config)

    def probe(self) -> str | None:
        """Start-up check of the server (see ``probe``); None for an in-process model."""
        return probe(self.config) if self.config else None

    def generate(self, messages: list[BaseMessage],
                 on_text: Callable[[str], None] | None = None,
                 deadline: float | None = None) -> str:
        """The model's reply, streamed to ``on_text`` as it comes when given, within
        ``timeout`` seconds all told (or by ``deadline``, a ``time.monotonic`` value shared
        with an earlier call); one retry after HTTP 429/5xx. Raises ``LLMFailure``."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        try:
            return self._attempt(messages, on_text, deadline)
        except LLMFailure as exc:
            wait = exc.retry_after
            if wait is None or deadline - time.monotonic() <= wait:
                raise
            log.info("llm_retry", extra={"model": self.name, "reason": exc.reason,
                                         "wait_s": wait})
            time.sleep(wait)
            return self._attempt(messages, on_text, deadline)

    def _attempt(self, messages: list[BaseMessage], on_text: Callable[[str], None] | None,
                 deadline: float) -> str:
        """One call to the model. It runs in a worker thread so that the deadline holds
        whatever the server does (httpx's timeouts are per read: a server trickling tokens
        would never trip them); past the deadline the worker is abandoned and stops at its
        next chunk or read timeout."""
        events: queue.Queue[tuple[str, Any, str | None]] = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                if on_text is None:
                    reply = self.model.invoke(messages)
                    events.put(("text", reply.content, _finish(reply.response_metadata)))
                else:
                    for chunk in self.model.stream(messages):
                        if stop.is_set():
                            return
                        events.put(("text", chunk.content, _finish(chunk.response_metadata)))
                events.put(("end", None, None))
            except Exception as exc:  # any failure of the server becomes the caller's fallback
                events.put(("error", exc, None))

        threading.Thread(target=produce, name="khabar-llm", daemon=True).start()
        parts: list[str] = []
        size, finish, emitted = 0, None, False
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    kind, value, finished = events.get(timeout=max(remaining, 0))
                except queue.Empty:
                    raise LLMFailure(f"the model took longer than {self.timeout:g} s") from None
                if kind == "error":
                    raise LLMFailure(classify(value),
                                     retry_after=None if emitted else _retry_after(value))
                if kind == "end":
                    break
                if not isinstance(value, str):
                    raise LLMFailure("the model server sent a malformed answer")
                finish = finished or finish
                if value:
                    parts.append(value)
                    size += len(value)
                    emitted = True
                    if size > self.max_chars:
                        raise LLMFailure("the answer ran far past KHABAR_LLM_MAX_TOKENS")
                    if on_text is not None:
                        on_text(value)
        finally:
            stop.set()
        text = "".join(parts)
        if self.expects_finish and finish is None:
            raise LLMFailure("the model's answer was cut off (no finish reason)")
        if not text.strip():
            raise LLMFailure("the model returned an empty answer")
        return text

    def condense(self, question: str, history: Sequence[str], max_chars: int) -> str:
        """``question`` rewritten to stand on its own after ``history`` (oldest first)."""
        reply = self.generate(condense_messages(question, history))
        lines = [line.strip().strip("\"'«»“”") for line in reply.strip().splitlines()]
        standalone = next((line for line in lines if line), "")
        if not standalone or len(standalone) > max_chars:
            raise LLMFailure("the model did not rewrite the follow-up as one question")
        return standalone

    def answer(self, question: str, lang: str, sources: Sequence[Citation],
               on_text: Callable[[str], None] | None = None) -> Generated:
        """A checked answer from ``sources`` (citation ``n`` is passage ``[n]``); on any
        failure, the reason to fall back to the extractive answer."""
        started = time.perf_counter()
        sources = sources[:MAX_SOURCES]
        removed: tuple[Removed, ...] = ()
        not_found = say("not_found", lang)
        deadline = time.monotonic() + self.timeout  # one deadline for both calls
        try:
            if self.verify:
                verdict = self.generate(verify_messages(question, sources), deadline=deadline)
                log.info("llm_verified", extra={"model": self.name, "verdict": verdict[:20]})
                if says_no(verdict):
                    return Generated(False, not_found, (), None, _ms(started))
            reply = self.generate(answer_messages(question, lang, sources), on_text, deadline)
        except LLMFailure as exc:
            fallback = exc.reason
        else:
            if NO_ANSWER in reply and not citations(reply):
                return Generated(False, not_found, (), None, _ms(started))
            checked = check(reply, [source_text(c) for c in sources])
            removed, fallback = checked.removed, checked.fallback
            log.info("llm_checked", extra={"model": self.name, "kept": len(checked.kept),
                                           "removed": len(removed),
                                           "reasons": "; ".join(r.reason for r in removed)})
            if fallback is None:
                return Generated(True, checked.text, removed, None, _ms(started))
        log.warning("llm_fallback", extra={"model": self.name, "reason": fallback})
        return Generated(True, "", removed, fallback, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
