"""Telegram's own faults: what each one is, one log line per incident, and sends that go again.

Telegram fails in a few ways that are not Khabar's bugs: another process polls with the same
token (409), its front answers 5xx or nothing at all, a connection drops, it asks a bot to slow
down (429), a user blocks the bot (403). python-telegram-bot retries polling by itself but logs
every retry with a traceback, and gives up on a send at the first fault. Here each incident is
one line when it starts and one when it is over, sends go again when that cannot make a copy,
and PTB's own traceback lines for these faults are dropped (``quiet_ptb``).

Two places see every call: ``PollingRequest`` (getUpdates, which PTB keeps out of rate
limiters) and ``Sender`` (every other method, through PTB's rate-limiter hook, which is handed
the method name and its chat).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

EVENTS = {"conflict": "telegram_conflict", "unreachable": "telegram_unreachable",
          "throttled": "telegram_throttled", "blocked": "telegram_chat_blocked"}
_WEBHOOK_SET = ("a webhook is set for this bot: delete it (deleteWebhook) or run this one in "
                "webhook mode (KHABAR_TELEGRAM_WEBHOOK_URL)")
_OTHER_POLLER = ("another process is polling with this bot token: stop the other instance "
                 "(one process per token), or run in webhook mode (KHABAR_TELEGRAM_WEBHOOK_URL)")


@dataclass(frozen=True)
class Retry:
    """How long to keep trying: sends wait ``first`` seconds, times ``factor`` each time up to
    ``cap``, ``attempts`` tries in all; an incident on the polling line is over once polls have
    succeeded for ``settle`` seconds (two bots on one token take turns, and each turn is not a
    new incident). Tests make these small."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    attempts: int = 6
    settle: float = 30.0


PATIENT = Retry()


@dataclass(frozen=True)
class Fault:
    """One of Telegram's faults: its kind, what Telegram or the network said (never a URL,
    which holds the token), and whether a send that met it can go again without a copy."""

    kind: str  # conflict | unreachable | throttled | blocked
    detail: str
    resend: bool = False
    retry_after: float = 0.0

    @property
    def advice(self) -> str:
        if self.kind != "conflict":
            return ""
        return _WEBHOOK_SET if "webhook" in self.detail.lower() else _OTHER_POLLER


def classify(exc: BaseException) -> Fault | None:
    """The fault ``exc`` is, or None when it is not one of Telegram's (a bug: keep the
    traceback)."""
    if isinstance(exc, RetryAfter):
        return Fault("throttled", exc.message, resend=True, retry_after=_seconds(exc))
    if isinstance(exc, Forbidden):
        return Fault("blocked", exc.message)
    if isinstance(exc, Conflict):
        return Fault("conflict", exc.message)
    if isinstance(exc, BadRequest):  # PTB derives it from NetworkError; it is our request's fault
        return None
    if isinstance(exc, TimedOut):
        # Past a read timeout Telegram may have done what was asked: sending again could show
        # the user the answer twice. Any other timeout (connect, write, pool) sent nothing.
        read = isinstance(exc.__cause__, httpx.ReadTimeout)
        return Fault("unreachable", "timed out" + (" waiting for the answer" if read else ""),
                     resend=not read)
    if isinstance(exc, NetworkError):
        # 5xx from Telegram's front, a refused or reset connection, a closed one: the request
        # was not carried out (a reset after Telegram acted on it is possible but rare, and a
        # lost answer is the likelier harm).
        return Fault("unreachable", exc.message.split(". Parsing the server response")[0],
                     resend=True)
    return None


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


@dataclass
class _Open:
    fault: Fault
    since: float
    failures: int = 1
    ok_since: float | None = None


class Incidents:
    """One line of one channel (polling, sending): the first failure of an incident is logged,
    later ones only counted; the recovery is logged with how long it took and how many calls
    failed. A different kind of fault while one is open is a new incident (its advice differs).
    """

    def __init__(self, channel: str, settle: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.channel = channel
        self.settle = settle
        self.clock = clock
        self.open: _Open | None = None

    def failed(self, fault: Fault, **fields: Any) -> None:
        now = self.clock()
        current = self.open
        if current is not None and current.fault.kind == fault.kind:
            current.failures += 1
            current.ok_since = None
            return
        self.open = _Open(fault, now if current is None else current.since)
        extra = {"channel": self.channel, **fields, "detail": fault.detail}
        if fault.advice:
            extra["advice"] = fault.advice
        if fault.kind == "throttled":
            extra["retry_after_s"] = fault.retry_after
        extra["action"] = "waiting" if fault.kind == "throttled" else "retrying"
        log.warning(EVENTS[fault.kind], extra=extra)

    def succeeded(self) -> None:
        current = self.open
        if current is None:
            return
        now = self.clock()
        if current.ok_since is None:
            current.ok_since = now
        if now - current.ok_since < self.settle:
            return
        self.open = None
        log.info("telegram_recovered", extra={
            "channel": self.channel, "fault": current.fault.kind,
            "after_s": round(current.ok_since - current.since, 1),
            "failed_calls": current.failures})


class PollingRequest(HTTPXRequest):
    """getUpdates' connection, watched: PTB's polling loop retries with backoff (1 s, growing
    to 30 s) and tells nobody about timeouts or recoveries, so its outcomes are read here."""

    def __init__(self, incidents: Incidents, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.incidents = incidents

    async def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await super().post(url, *args, **kwargs)
        except TelegramError as exc:
            fault = classify(exc)
            if fault is not None:
                self.incidents.failed(fault, method="getUpdates")
            raise
        self.incidents.succeeded()
        return result


class Sender(BaseRateLimiter[None]):
    """Every Bot API call but getUpdates: a 429 waits as long as Telegram asks, a fault that
    sent nothing goes again with backoff, a chat that blocked the bot is forgotten
    (``on_blocked`` forgets it and returns what it dropped, for the one log line).

    PTB's rate-limiter hook is the one place that sees each call with its method and chat; it
    is meant for 429s, and the other faults that can go again without a copy are retried with
    them, so no handler needs a retry loop of its own.
    """

    def __init__(self, retry: Retry,
                 on_blocked: Callable[[int], Awaitable[dict[str, Any]]]) -> None:
        self.retry = retry
        self.on_blocked = on_blocked
        self.incidents = Incidents("sending")
        self.blocked: set[int] = set()

    async def initialize(self) -> None:
        """Nothing to set up: the sender holds no connection."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]],
                              args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: None) -> Any:
        chat_id = data.get("chat_id")
        delay, attempt = self.retry.first, 0
        while True:
            attempt += 1
            try:
                result = await callback(*args, **kwargs)
            except TelegramError as exc:
                fault = classify(exc)
                if fault is None:
                    raise
                if fault.kind == "blocked":
                    await self._blocked(chat_id, fault)
                    raise
                if fault.resend:
                    # One that cannot go again is not retried: its one line is the one below.
                    self.incidents.failed(fault, method=endpoint, chat_id=chat_id)
                if not fault.resend or attempt >= self.retry.attempts:
                    log.warning("telegram_send_failed", extra={
                        "method": endpoint, "chat_id": chat_id, "attempts": attempt,
                        "detail": fault.detail,
                        "reason": "gave up" if fault.resend
                        else "Telegram may have delivered it: not sent again"})
                    raise
                await asyncio.sleep(fault.retry_after or delay)
                delay = min(self.retry.cap, delay * self.retry.factor)
                continue
            self.incidents.succeeded()
            if chat_id is not None:
                self.blocked.discard(chat_id)
            return result

    async def _blocked(self, chat_id: Any, fault: Fault) -> None:
        """Forget the chat at every refusal (forgetting twice costs nothing, and whatever was
        queued for it in between goes too), but log once per chat: a long answer is several
        sends."""
        if not isinstance(chat_id, int):
            return
        dropped = await self.on_blocked(chat_id)
        if chat_id in self.blocked:
            return
        self.blocked.add(chat_id)
        log.warning(EVENTS["blocked"], extra={"chat_id": chat_id, "detail": fault.detail,
                                              "action": "chat forgotten", **dropped})


class _DropFaultTracebacks(logging.Filter):
    """Drops PTB's own records that carry one of these faults: they are logged once above."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if record.name == _PARSER:
            # The HTML page Telegram's front sends with a 5xx, which PTB logs with a traceback
            # before raising the error it is classified by; the raise is what is handled.
            return not isinstance(exc, ValueError)
        return classify(exc) is None


_FILTER = _DropFaultTracebacks()
_PARSER = "telegram.request.BaseRequest"
# Where PTB logs polling retries, its default polling error callback, its shutdown poll and
# the answers it cannot parse.
_PTB_LOGGERS = ("telegram.ext", "telegram.ext.Updater", "telegram.ext.Application", _PARSER)


def quiet_ptb() -> None:
    """Keep PTB from printing a traceback for a fault ``classify`` knows (idempotent)."""
    for name in _PTB_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
