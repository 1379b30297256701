"""Telegram's own faults through the real PTB stack and the fake Bot API: each incident is one
log line (and one when it is over), never a traceback, and every question is answered once.
Webhook mode: only calls that carry the secret reach the bot."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import time

import httpx
import pytest
from fake_telegram import FakeBotAPI
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from test_telegram import TOKEN, _run, running_bot

from khabar.bot.logs import StructuredFormatter
from khabar.bot.settings import Settings
from khabar.bot.telegram.faults import Incidents, classify
from khabar.bot.telegram.updates import Webhook, webhook
from khabar.retrieval.errors import SettingsError

QUESTION = "من هو بيسكوف؟"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def logged():
    """Everything logged at INFO and above, formatted as ``khabar`` prints it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter((TOKEN,)))
    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    levels = root.level, httpx_log.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    httpx_log.setLevel(logging.WARNING)  # as logs.setup does: its request lines are noise
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        httpx_log.setLevel(levels[1])


def lines(stream: io.StringIO, event: str) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if f"event={event} " in line + " "]


async def until(predicate, timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds, bounded (for what the fake does not record: logs)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def answered_once(fake: FakeBotAPI, chat_id: int = 7) -> None:
    """The question to ``chat_id`` was answered, and once: a later command from the same chat
    (handled after it) gets its reply while the answer is still alone."""
    await fake.wait_for(lambda: fake.sent(chat_id=chat_id))
    await fake.push(fake.message("/id", user_id=chat_id))
    await fake.wait_for(lambda: any("id" in p["text"] for p in fake.sent(chat_id=chat_id)[1:]))
    replies = fake.sent(chat_id=chat_id)
    assert len(replies) == 2 and "بيسكوف" in replies[0]["text"], replies


def test_conflict_on_getupdates_is_one_line_with_the_fix(seeds_engine, logged):
    async def scenario():
        async with running_bot(seeds_engine, faults=[("getUpdates", "409", 4)]) as fake:
            await fake.push(fake.message(QUESTION))
            await answered_once(fake)
            assert fake.failed("getUpdates", "409") == 4
    _run(scenario())
    log = logged.getvalue()
    assert "Traceback" not in log and TOKEN not in log
    [conflict] = lines(logged, "telegram_conflict")
    assert "level=WARNING" in conflict and "channel=polling" in conflict
    assert "stop the other instance" in conflict and "KHABAR_TELEGRAM_WEBHOOK_URL" in conflict
    [recovered] = lines(logged, "telegram_recovered")
    assert "fault=conflict" in recovered and "failed_calls=4" in recovered


def test_bad_gateway_and_a_dropped_poll_lose_nothing(seeds_engine, logged):
    # Two 502s, then a poll whose answer (carrying the question) is lost on the way back.
    faults = [("getUpdates", "502", 2), ("getUpdates", "drop", 1)]

    async def scenario():
        async with running_bot(seeds_engine, faults=faults) as fake:
            await fake.push(fake.message(QUESTION))
            await answered_once(fake)
            assert fake.failed("getUpdates", "502") == 2
            assert fake.failed("getUpdates", "drop") == 1
    _run(scenario())
    assert "Traceback" not in logged.getvalue()
    [down] = lines(logged, "telegram_unreachable")
    assert "channel=polling" in down and "Bad Gateway (502)" in down and "<html>" not in down
    [recovered] = lines(logged, "telegram_recovered")
    assert "fault=unreachable" in recovered and "failed_calls=3" in recovered


def test_failed_sends_go_again_and_the_answer_arrives_once(seeds_engine, logged):
    faults = [("sendMessage", "502", 1), ("sendMessage", "drop", 1)]

    async def scenario():
        async with running_bot(seeds_engine, faults=faults) as fake:
            await fake.push(fake.message(QUESTION))
            await answered_once(fake)
            assert fake.failed("sendMessage", "502") == fake.failed("sendMessage", "drop") == 1
    _run(scenario())
    assert "Traceback" not in logged.getvalue()
    [down] = lines(logged, "telegram_unreachable")
    assert "channel=sending" in down and "method=sendMessage" in down and "chat_id=7" in down
    [recovered] = lines(logged, "telegram_recovered")
    assert "channel=sending" in recovered and "failed_calls=2" in recovered
    assert not lines(logged, "handler_error")


def test_polls_that_time_out_are_one_incident_and_polling_goes_on(seeds_engine, logged):
    async def scenario():
        async with running_bot(seeds_engine, read_timeout=1) as fake:
            # Each hung poll is answered 4 s after its long-poll wait (2 s in running_bot): the
            # bot gave up on it at 2 + 1 s. Polls in flight already are answered as usual.
            fake.fail("getUpdates", "hang", 2, delay=4)
            await until(lambda: lines(logged, "telegram_recovered"), timeout=30)
            assert fake.failed("getUpdates", "hang") == 2
            await fake.push(fake.message(QUESTION))
            await answered_once(fake)
    _run(scenario())
    assert "Traceback" not in logged.getvalue()
    [down] = lines(logged, "telegram_unreachable")
    assert "channel=polling" in down and "method=getUpdates" in down
    assert 'detail="timed out waiting for the answer"' in down
    [recovered] = lines(logged, "telegram_recovered")
    assert "channel=polling" in recovered and "failed_calls=2" in recovered


def test_a_send_that_timed_out_is_not_sent_again(seeds_engine, logged):
    async def scenario():
        async with running_bot(seeds_engine, read_timeout=1) as fake:
            fake.fail("sendMessage", "hang", 1, chat_id=7, delay=2)
            await fake.push(fake.message(QUESTION))
            await until(lambda: lines(logged, "telegram_send_failed"), timeout=30)
            # Telegram carried the answer out: sent again, it would show twice.
            [hung] = [p for m, p, _ in fake.calls if m == "sendMessage!hang"]
            assert "بيسكوف" in hung["text"] and not fake.sent(chat_id=7)
            await fake.push(fake.message(QUESTION))  # the next question is answered, once
            await answered_once(fake)
    _run(scenario())
    assert "Traceback" not in logged.getvalue() and not lines(logged, "handler_error")
    [failed] = lines(logged, "telegram_send_failed")
    assert "method=sendMessage" in failed and "chat_id=7" in failed and "attempts=1" in failed
    assert 'detail="timed out waiting for the answer"' in failed
    assert 'reason="Telegram may have delivered it: not sent again"' in failed
    # One line for the incident: no "retrying" line for a send that does not go again.
    assert not lines(logged, "telegram_unreachable") and not lines(logged, "telegram_recovered")


def test_a_429_is_waited_out_then_the_answer_sent(seeds_engine, logged):
    faults = [("sendMessage", "429", 1)]  # retry_after 1

    async def scenario():
        async with running_bot(seeds_engine, faults=faults) as fake:
            await fake.push(fake.message(QUESTION))
            await answered_once(fake)
            refused = next(t for m, _, t in fake.calls if m == "sendMessage!429")
            sent = next(t for m, _, t in fake.calls if m == "sendMessage")
            assert sent - refused >= 0.95  # retry_after: 1
    _run(scenario())
    assert "Traceback" not in logged.getvalue()
    [throttled] = lines(logged, "telegram_throttled")
    assert "retry_after_s=1.0" in throttled and "action=waiting" in throttled
    assert len(lines(logged, "telegram_recovered")) == 1


def test_a_chat_that_blocked_the_bot_is_one_line_and_forgotten(seeds_engine, logged):
    async def scenario():
        async with running_bot(seeds_engine) as fake:
            state = fake.app.bot_data["khabar"]
            await fake.push(fake.message(QUESTION))
            await fake.wait_for(lambda: fake.sent(chat_id=7))
            await until(lambda: state.conversations.history((7,)))
            fake.fail("sendMessage", "403", 2, chat_id=7)  # the user blocks the bot
            await fake.push(fake.message("وما هي الفرقاطة؟"))
            await fake.push(fake.message("Who confirmed North Korean troops?"))
            await fake.wait_for(lambda: fake.failed("sendMessage", "403") == 2)
            await until(lambda: not state.conversations.history((7,)))
            await fake.push(fake.message("/id", user_id=8))  # the others are still answered
            await fake.wait_for(lambda: fake.sent(chat_id=8))
            assert len(fake.sent(chat_id=7)) == 1  # no "something went wrong" tried either
    _run(scenario())
    log = logged.getvalue()
    assert "Traceback" not in log and not lines(logged, "handler_error")
    [blocked] = lines(logged, "telegram_chat_blocked")
    assert "chat_id=7" in blocked and "blocked by the user" in blocked


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_answers_only_calls_with_the_secret(seeds_engine, logged):
    hook = Webhook("https://bot.example/khabar/hook", "127.0.0.1", _free_port(), "s3cret_x-1")

    async def scenario():
        async with running_bot(seeds_engine, hook=hook) as fake:
            assert fake.webhook["url"] == hook.url
            assert fake.webhook["secret_token"] == hook.secret
            assert not [m for m, _, _ in fake.calls if m == "getUpdates"]
            assert await fake.deliver(fake.message(QUESTION, user_id=55), None) == 403
            assert await fake.deliver(fake.message(QUESTION, user_id=56), "wrong") == 403
            assert await fake.deliver(fake.message(QUESTION), hook.secret) == 200
            await fake.wait_for(lambda: fake.sent(chat_id=7))
            assert await fake.deliver(fake.message("/id"), hook.secret) == 200
            await fake.wait_for(lambda: len(fake.sent(chat_id=7)) == 2)
            assert "بيسكوف" in fake.sent(chat_id=7)[0]["text"]
            assert not fake.sent(chat_id=55) and not fake.sent(chat_id=56)
    _run(scenario())
    assert hook.secret not in logged.getvalue()


def test_webhook_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env
    assert webhook(Settings.load()) is None  # polling is the default
    monkeypatch.setenv("KHABAR_TELEGRAM_WEBHOOK_URL", "https://bot.example/tg")
    first, second = Settings.load(), Settings.load()
    hook = webhook(first)
    assert (hook.host, hook.port, hook.path) == ("0.0.0.0", 8443, "tg")
    assert len(hook.secret) >= 32 and hook.secret != second.telegram_webhook_secret
    assert hook.secret in first.secrets()  # redacted from every log line
    monkeypatch.setenv("KHABAR_TELEGRAM_WEBHOOK_LISTEN", "[::1]:9000")
    monkeypatch.setenv("KHABAR_TELEGRAM_WEBHOOK_SECRET", "mine_1")
    hook = webhook(Settings.load())
    assert (hook.host, hook.port, hook.secret) == ("::1", 9000, "mine_1")
    for name, value, said in (("KHABAR_TELEGRAM_WEBHOOK_URL", "http://bot.example/", "https"),
                              ("KHABAR_TELEGRAM_WEBHOOK_LISTEN", "8443", "host:port"),
                              ("KHABAR_TELEGRAM_WEBHOOK_SECRET", "has space", "a letter")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            with pytest.raises(SettingsError) as err:
                Settings.load()
            assert name in str(err.value) and said in str(err.value)
    with monkeypatch.context() as m:
        m.setenv("KHABAR_TELEGRAM_WEBHOOK_SECRET", "has space")
        with pytest.raises(SettingsError) as err:
            Settings.load()
        assert "has space" not in str(err.value)  # a secret is never echoed


def test_faults_are_classified_and_flapping_is_one_incident(caplog):
    def timed_out(cause: Exception) -> TimedOut:
        try:
            raise TimedOut() from cause
        except TimedOut as exc:
            return exc

    assert classify(Conflict("Conflict: terminated by other getUpdates request")).kind \
        == "conflict"
    assert "deleteWebhook" in classify(Conflict("can't use getUpdates method while webhook is "
                                                "active")).advice
    assert classify(RetryAfter(3)).retry_after == 3.0
    assert classify(Forbidden("Forbidden: bot was blocked by the user")).kind == "blocked"
    assert classify(NetworkError("Bad Gateway (502)")).resend
    assert classify(BadRequest("message is too long")) is None  # our bug: keeps its traceback
    assert classify(ValueError()) is None
    assert classify(timed_out(httpx.ConnectTimeout("x"))).resend
    assert not classify(timed_out(httpx.ReadTimeout("x"))).resend  # may have been delivered

    now = [0.0]
    polling = Incidents("polling", settle=30, clock=lambda: now[0])
    conflict = classify(Conflict("Conflict: terminated by other getUpdates request"))
    with caplog.at_level(logging.INFO, logger="khabar.bot.telegram.faults"):
        for _ in range(5):  # two bots on one token take turns: fail, succeed, fail, ...
            polling.failed(conflict)
            now[0] += 10
            polling.succeeded()
            now[0] += 10
        for _ in range(4):  # the other one stopped
            polling.succeeded()
            now[0] += 10
    events = [r.getMessage() for r in caplog.records]
    assert events == ["telegram_conflict", "telegram_recovered"]
    assert caplog.records[1].failed_calls == 5 and caplog.records[1].after_s == 90.0

