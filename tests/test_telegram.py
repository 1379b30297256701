"""The real python-telegram-bot Application against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import statistics
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from conftest import SMALL_CORPUS, write_articles
from fake_telegram import BOT_USER, FakeBotAPI

from khabar.bot.cli import main
from khabar.bot.logs import StructuredFormatter
from khabar.bot.telegram.app import READ_TIMEOUT, build_application, make_state
from khabar.bot.telegram.faults import Retry
from khabar.bot.telegram.format import MAX_MESSAGE, pack
from khabar.bot.telegram.updates import Webhook, polling_options, webhook_options
from khabar.retrieval.config import EngineConfig
from khabar.retrieval.engine import Khabar

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
STICKER = {"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1,
           "is_animated": False, "is_video": False, "type": "regular"}
# Retries in milliseconds, and an incident is over at the first good call.
FAST = Retry(first=0.05, cap=0.2, settle=0)
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                 "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji"}


class _TelegramHTML(HTMLParser):
    """Fails on tags Telegram does not know and on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        assert tag in TELEGRAM_TAGS, tag
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_html(markup: str) -> str:
    """Assert ``markup`` is valid Telegram HTML within the size limit; return its text."""
    assert len(markup) <= MAX_MESSAGE
    parser = _TelegramHTML()
    parser.feed(markup)
    parser.close()
    assert not parser.stack, parser.stack
    return "".join(parser.text)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@contextlib.asynccontextmanager
async def running_bot(engine: Khabar, *, allowed="", admins="", rate=0, feeds=None,
                      interval=3600, faults=(), hook: Webhook | None = None,
                      read_timeout: float = READ_TIMEOUT):
    """The bot running against a fake Bot API (``faults``: ``fail`` arguments, injected before
    the first call), by polling or, with ``hook``, by webhook; the fake holds it as ``app``."""
    fake = FakeBotAPI(TOKEN)
    await fake.start()
    for fault in faults:
        fake.fail(*fault)
    state = make_state(engine, allowed, admins, rate, feeds, interval)
    app = fake.app = build_application(TOKEN, fake.base_url, state, FAST, read_timeout)
    try:
        async with app:
            await app.post_init(app)
            if hook is None:
                # A poll interval makes PTB's backoff after a failed poll start there, not at 1 s.
                # As ``run_polling`` does: a failed poll goes to the application's error handler.
                await app.updater.start_polling(
                    **polling_options(poll_interval=0.01, timeout=2),
                    error_callback=lambda exc: app.create_task(
                        app.process_error(error=exc, update=None)))
            else:
                fake.webhook_port = hook.port
                await app.updater.start_webhook(**webhook_options(hook))
            await app.start()
            try:
                yield fake
            finally:
                await app.updater.stop()
                await app.stop()
    finally:
        await fake.stop()


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 180))


def test_answer_with_citations_buttons_and_passage(seeds_engine):
    async def scenario():
        async with running_bot(seeds_engine) as fake:
            assert [m for m, _, _ in fake.calls[:2]] == ["getMe", "setMyCommands"]
            await fake.push(fake.message("من هو السكرتير الصحفي للرئيس الروسي؟", lang="ar"))
            await fake.wait_for(lambda: fake.sent())
            action = fake.sent("sendChatAction")
            assert action and action[0]["action"] == "typing"
            reply = fake.sent()[0]
            assert reply["parse_mode"] == "HTML"
            shown = check_html(reply["text"])
            assert "بيسكوف" in shown and "004_e8a6cc70ddad2db4.txt" in shown
            assert "<blockquote expandable>" in reply["text"]
            assert shown.startswith("\u200f")
            buttons = reply["reply_markup"]["inline_keyboard"][0]
            assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)

            before = len(fake.sent())
            sent_message = {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"},
                            "from": BOT_USER, "text": "answer"}
            await fake.push(fake.callback(buttons[0]["callback_data"], sent_message))
            await fake.wait_for(lambda: len(fake.sent()) > before
                                and fake.sent("answerCallbackQuery"))
            passage = check_html(fake.sent()[-1]["text"])
            assert "بيسكوف" in passage and "الأسبوع" in passage
    _run(scenario())


def test_commands_registered_and_help_in_user_language(seeds_engine):
    async def scenario():
        async with running_bot(seeds_engine) as fake:
            commands = fake.sent("setMyCommands")[0]["commands"]
            assert {c["command"] for c in commands} >= {"ask", "sources", "help", "reindex"}
            await fake.push(fake.message("/start", lang="fa"))
            await fake.push(fake.message("/help", user_id=8, lang="de"))
            await fake.wait_for(lambda: len(fake.sent()) == 2)
            texts = {p["chat_id"]: p["text"] for p in fake.sent()}
            assert "5 مقاله" in texts[7] and "2024-11-08" in texts[7]  # the newest article
            assert texts[8].startswith("I answer questions about 5 news articles")
            await fake.push(fake.message("/sources"))
            await fake.wait_for(lambda: len(fake.sent()) == 3)
            listing = check_html(fake.sent()[-1]["text"])
            assert "5 articles" in listing and "الأسبوع" in listing
    _run(scenario())


def test_non_text_empty_and_long_questions(seeds_engine):
    async def scenario():
        async with running_bot(seeds_engine) as fake:
            await fake.push(fake.message(None, sticker=STICKER))
            await fake.push(fake.message("/ask", user_id=8))
            await fake.push(fake.message("سؤال " * 300, user_id=9, lang="ar"))
            await fake.wait_for(lambda: len(fake.sent()) == 3)
            texts = {p["chat_id"]: p["text"] for p in fake.sent()}
            assert "only read text" in texts[7]
            assert "/ask" in texts[8]
            assert "1499" in texts[9] and "1000" in texts[9]
            assert not fake.sent("sendChatAction")  # nothing was searched
    _run(scenario())


def test_allowlist_refuses_once_with_user_id(seeds_engine):
    async def scenario():
        async with running_bot(seeds_engine, allowed="@editor, 99") as fake:
            await fake.push(fake.message("Who is Peskov?", user_id=55, username="stranger"))
            await fake.push(fake.message("Who is Peskov?", user_id=55, username="stranger"))
            await fake.push(fake.message("من هو بيسكوف؟", user_id=56, username="Editor"))
            await fake.wait_for(lambda: fake.sent(chat_id=56))
            refusals = fake.sent(chat_id=55)
            assert len(refusals) == 1 and "55" in refusals[0]["text"]
            assert "بيسكوف" in fake.sent(chat_id=56)[0]["text"]
    _run(scenario())


def test_rate_limit_says_when_to_retry(seeds_engine):
    async def scenario():
        async with running_bot(seeds_engine, rate=2) as fake:
            for i in range(3):
                await fake.push(fake.message("من هو بيسكوف؟"))
                await fake.wait_for(lambda i=i: len(fake.sent()) > i)
            assert "try again in" in fake.sent()[-1]["text"]
            assert "بيسكوف" in fake.sent()[0]["text"]
    _run(scenario())


def test_group_answers_only_when_addressed(seeds_engine):
    async def scenario():
        async with running_bot(seeds_engine) as fake:
            group = {"chat_id": -100, "chat_type": "supergroup"}
            await fake.push(fake.message("من هو بيسكوف؟", **group))
            await fake.push(fake.message(None, sticker=STICKER, **group))
            await fake.push(fake.message("@khabar_test_bot من هو بيسكوف؟", **group))
            await fake.wait_for(lambda: len(fake.sent(chat_id=-100)) == 1)
            bot_message = {"message_id": 5, "date": 0, "chat": {"id": -100, "type": "supergroup"},
                           "from": BOT_USER, "text": "earlier answer"}
            await fake.push(fake.message("وما هي الفرقاطة؟", reply_to=bot_message, **group))
            await fake.wait_for(lambda: len(fake.sent(chat_id=-100)) == 2)
            await fake.push(fake.message("/ask Who confirmed North Korean troops?", **group))
            await fake.wait_for(lambda: len(fake.sent(chat_id=-100)) == 3)
            # Five updates, three replies: the unaddressed question and the sticker got nothing.
            replies = fake.sent(chat_id=-100)
            assert len(replies) == 3 and all("[1]" in p["text"] for p in replies)
            assert "بيسكوف" in replies[0]["text"]
    _run(scenario())


def test_hostile_seed_is_escaped_and_long_answers_split(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS | {
        "evil.txt": "عنوان <b>خبيث</b> & </blockquote>\n\nأعلنت شركة <i>النور</i> & شركاؤها "
                    "</blockquote><a href='x'>هنا</a> عن إطلاق قمر صناعي جديد للاتصالات.\n",
    })
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder,
                    config=EngineConfig(top_k=10))
    engine.index()

    async def scenario():
        async with running_bot(engine) as fake:
            await fake.push(fake.message("ما الذي أعلنت شركة النور عن إطلاقه؟", lang="ar"))
            await fake.wait_for(lambda: any(p.get("reply_markup") for p in fake.sent()))
            parts = [p["text"] for p in fake.sent()]
            shown = "".join(check_html(part) for part in parts)
            markup = "".join(parts)
            assert "&lt;/blockquote&gt;" in markup and "<i>" not in markup
            assert "</blockquote><a href='x'>" in shown
    _run(scenario())

    blocks = ["<b>x</b> " + "كلمة " * 900,
              "<blockquote expandable>" + "word. " * 900 + "</blockquote>"]
    parts = pack(blocks)
    assert len(parts) >= 3
    for part in parts:
        check_html(part)


def test_admin_reindex_swaps_index_without_restart(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    engine.index()

    async def scenario():
        async with running_bot(engine, admins="7") as fake:
            await fake.push(fake.message("/reindex", user_id=8))
            await fake.push(fake.message("/stats", user_id=8))
            await fake.wait_for(lambda: len(fake.sent(chat_id=8)) == 2)
            assert all("only admins" in p["text"] for p in fake.sent(chat_id=8))

            write_articles(seeds, {"new.txt": "Volcano erupts\n\nMount Etna erupted on Sunday, "
                                              "sending ash four kilometres into the sky."})
            await fake.push(fake.message("/reindex"))
            await fake.wait_for(lambda: any("indexed: 1 added" in p["text"]
                                            for p in fake.sent(chat_id=7)), timeout=120)
            await fake.push(fake.message("How high did the ash from Etna go?"))
            await fake.wait_for(lambda: any("new.txt" in p["text"] for p in fake.sent(chat_id=7)))
            await fake.push(fake.message("/stats"))
            await fake.wait_for(lambda: any("documents: 4" in p["text"]
                                            for p in fake.sent(chat_id=7)))
    _run(scenario())


def test_token_never_logged(seeds_engine):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter((TOKEN,)))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        async def scenario():
            async with running_bot(seeds_engine) as fake:
                await fake.push(fake.message("من هو بيسكوف؟"))
                await fake.wait_for(lambda: fake.sent())
        _run(scenario())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = stream.getvalue()
    assert "getUpdates" in logged or "sendMessage" in logged  # the log did capture traffic
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


def test_cli_refuses_missing_or_malformed_token(tmp_path, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["telegram"])
    assert result.exit_code == 1 and "TELEGRAM_BOT_TOKEN is not set" in result.output
    assert len(result.output.strip().splitlines()) == 1
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    result = CliRunner().invoke(main, ["telegram"])
    assert result.exit_code == 1 and "malformed" in result.output
    assert "not-a-token" not in result.output


@pytest.mark.slow
def test_load_200_questions_from_50_users(seeds_engine):
    questions = ["من هو بيسكوف؟", "Who confirmed North Korean troops were in Russia?",
                 "متى وقعت الحرب الكورية؟", "سفیر روسیه در سازمان ملل چه گفت؟",
                 "Which frigate did Kim Jong Un visit?", "ما الذي وصفه بوتين بأنه إنجاز حقيقي؟",
                 "Which agency reported the treaty signing?", "پوتین درباره پیمان چه گفت؟"]

    async def scenario():
        async with running_bot(seeds_engine) as fake:
            pushed: dict[int, list[float]] = {}
            for i in range(200):
                user = 1000 + i % 50
                q = f"{questions[i % len(questions)]} ({i // len(questions)})"
                await fake.push(fake.message(q, user_id=user))
                pushed.setdefault(user, []).append(fake.pushed_at[max(fake.pushed_at)])

            def answers(user: int) -> list[float]:
                return [t for m, p, t in fake.calls
                        if m == "sendMessage" and p["chat_id"] == user and p.get("reply_markup")]

            await fake.wait_for(lambda: sum(len(answers(u)) for u in pushed) >= 200, timeout=150)
            latencies = []
            for user, times in pushed.items():
                got = answers(user)
                assert len(got) == len(times) == 4  # exactly once each, none lost
                latencies += [a - q for a, q in zip(sorted(got), times, strict=True)]
            p50 = statistics.median(latencies) * 1000
            p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
            print(f"\nload: 200 questions / 50 users: reply p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    _run(scenario())

