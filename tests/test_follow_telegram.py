"""Following stories through the real python-telegram-bot stack and the fake Bot API on
127.0.0.1: the commands in each language, the follow button, alerts when a matching article
is indexed (and their faults), daily digests, timelines; and, with real ``khabar`` processes,
every alert delivered exactly once across a SIGKILL, and an alert within 10 s of a file
landing in seeds/ under ``khabar index --watch``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import test_telegram_faults
from aiohttp import web
from conftest import SEEDS, write_articles
from fake_telegram import BOT_USER, FakeBotAPI
from test_shutdown import KHABAR
from test_telegram import TOKEN, _run, check_html, running_bot
from test_telegram_faults import lines, until

from khabar.bot.telegram.format import MAX_MESSAGE, RLM, pack, timeline_blocks
from khabar.retrieval.config import EngineConfig
from khabar.retrieval.engine import Khabar
from khabar.retrieval.follow.store import FollowStore, NewMatch
from khabar.retrieval.follow.timeline import Entry, Timeline

logged = test_telegram_faults.logged  # the fixture: the log as khabar prints it
ALERT_MIN_SCORE = TIMELINE_MIN_SCORE = EngineConfig().follow_min_score  # the default
TOPIC = "معاهدة المساعدة المتبادلة بين روسيا وكوريا الشمالية"
ALERT = "New on a story you follow"
_BODY = ("قال الرئيس الروسي فلاديمير بوتين، اليوم الأربعاء، عقب محادثات في بيونغ يانغ إن المعاهدة "
         "الجديدة الموقعة بين روسيا وكوريا الشمالية تنص على \"المساعدة المتبادلة\" في حال تعرّض "
         "أي من البلدين \"للعدوان\". ونقلت وكالات الأنباء الروسية عن بوتين قوله إن \"معاهدة "
         "الشراكة الشاملة الموقعة اليوم تنص، من بين أمور أخرى، على المساعدة المتبادلة في حالة "
         "العدوان على أحد أطراف هذه المعاهدة\".\n")
UNRELATED = {
    "climate.txt": "قمة المناخ في القاهرة\n\nاجتمع وزراء البيئة في القاهرة يوم الاثنين لمناقشة "
                   "خطة خفض الانبعاثات بنسبة ثلاثين في المئة بحلول عام 2030. وقال الوزير إن "
                   "الخطة طموحة.\n",
    "harbour.txt": "Harbour reopens after storm\n\nThe port of Alexandria reopened on Tuesday "
                   "after a storm closed it for three days. Officials said forty ships were "
                   "waiting outside.\n",
}


def wire_copy(outlet: str, date: str = "2024-06-20") -> str:
    """Seed 002's lead as another outlet files it: a new article of the same story."""
    return (f"Title: روسيا وكوريا الشمالية توقعان معاهدة للمساعدة المتبادلة\nDate: {date}\n"
            f"Source: {outlet}\n\n{_BODY}")


def _engine(seeds_index: Path, embedder, base: Path, min_score: float) -> Khabar:
    """A private copy of the seeds and their index (nothing to embed)."""
    seeds, index = base / "seeds", base / "index"
    shutil.copytree(SEEDS, seeds)
    shutil.copytree(seeds_index, index)
    return Khabar(index, seeds=seeds, embedder=embedder,
                  config=EngineConfig(follow_min_score=min_score, max_topics_per_chat=2))


@pytest.fixture
def engine(seeds_index, embedder, tmp_path):
    engine = _engine(seeds_index, embedder, tmp_path, ALERT_MIN_SCORE)
    yield engine
    engine.close()


@pytest.fixture
def timeline_engine(seeds_index, embedder, tmp_path):
    engine = _engine(seeds_index, embedder, tmp_path, TIMELINE_MIN_SCORE)
    yield engine
    engine.close()


async def said(fake: FakeBotAPI, text: str, *, user: int = 7, lang: str = "en") -> str:
    """Send ``text`` as ``user``, wait for the bot's reply and return its text."""
    before = len(fake.sent(chat_id=user))
    await fake.push(fake.message(text, user_id=user, lang=lang))
    await fake.wait_for(lambda: len(fake.sent(chat_id=user)) > before)
    return fake.sent(chat_id=user)[-1]["text"]


def alerts(fake: FakeBotAPI, chat: int = 7) -> list[dict]:
    return [p for p in fake.sent(chat_id=chat) if ALERT in p["text"]]


def queue(store: FollowStore, topic_id: int, items: list[tuple[int, str, str, int]]) -> None:
    """Queue matches as indexing would: (number, date, outlet, story) each; matches of one
    story after its first are wire copies, named under it instead of alerting."""
    matches = [NewMatch(topic_id, f"wire/{i:03d}.txt", date, frozenset({("story", str(story))}),
                        {"n": 1, "doc": f"wire/{i:03d}.txt", "title": f"Story {i}",
                         "outlet": outlet, "date": date, "url": None,
                         "snippet": f"Marker {i}: the port reopened after the storm.",
                         "start": 0, "end": 44, "score": 0.5, "passage_id": 0, "also_in": [],
                         "page": None})
               for i, date, outlet, story in items]
    store.record([m.path for m in matches], matches, lambda a, b: a == b)


# --- commands -------------------------------------------------------------------------------

def test_follow_following_unfollow_in_each_language(engine):
    async def scenario():
        async with running_bot(engine) as fake:
            assert "/follow" in await said(fake, "/follow")
            en = "Russia North Korea treaty"
            followed = await said(fake, f"/follow {en}")
            [topic] = engine.following("tg:7")
            assert followed.startswith(f"Following #{topic.id}: {en}")
            assert f"already follow this (#{topic.id})" in await said(fake, f"/follow  {en} ")
            listing = await said(fake, "/following")
            assert listing.startswith("You follow:") and f"#{topic.id} {en}" in listing

            ar = "معاهدة روسيا وكوريا الشمالية"
            assert "أرسل" in await said(fake, "/follow ؟", user=8, lang="ar")  # no word in it
            assert "تتم متابعة" in await said(fake, f"/follow {ar}", user=8, lang="ar")
            assert "لا تتابع موضوعاً باسم «99»" in await said(fake, "/unfollow 99", user=8,
                                                                  lang="ar")
            assert "أُلغيت متابعة" in await said(fake, f"/unfollow {ar}", user=8, lang="ar")
            assert engine.following("tg:8") == []

            for words in ("پیمان روسیه و کره شمالی", "تحریم‌های کره شمالی"):
                assert "دنبال‌کردن #" in await said(fake, f"/follow {words}", user=9, lang="fa")
            limit = await said(fake, "/follow سفر پوتین به پیونگ یانگ", user=9, lang="fa")
            assert "2 موضوع را دنبال می‌کنید" in limit
            long = await said(fake, "/follow " + "کلمه " * 300, user=9, lang="fa")
            assert "1499 نویسه" in long
            assert len(engine.following("tg:9")) == 2

            assert f"Stopped following #{topic.id}" in await said(fake, f"/unfollow #{topic.id}")
            assert "You follow no stories yet" in await said(fake, "/following")
            commands = {c["command"] for c in fake.sent("setMyCommands")[0]["commands"]}
            assert commands >= {"follow", "following", "unfollow", "digest", "timeline"}
    _run(scenario())


def test_the_follow_button_follows_the_answers_question(engine):
    async def scenario():
        async with running_bot(engine) as fake:
            await said(fake, "Who signed the treaty in Pyongyang?")
            answer = fake.sent(chat_id=7)[-1]
            rows = answer["reply_markup"]["inline_keyboard"]
            assert rows[0][0]["text"] == "[1]"  # the citations first, as before
            assert rows[-1] == [{"text": "🔔 Follow this story", "callback_data": "f"}]
            shown = {"message_id": answer["_message_id"], "date": 0, "from": BOT_USER,
                     "chat": {"id": 7, "type": "private"}, "text": "answer"}
            await fake.push(fake.callback("f", shown))
            await fake.wait_for(lambda: "Following #" in fake.sent(chat_id=7)[-1]["text"])
            assert [t.text for t in engine.following("tg:7")] == [
                "Who signed the treaty in Pyongyang?"]
            await fake.push(fake.callback("f", {**shown, "message_id": 1}))  # not remembered
            await fake.wait_for(lambda: "no longer know" in fake.sent(chat_id=7)[-1]["text"])
    _run(scenario())


# --- alerts -------------------------------------------------------------------------------

def test_an_alert_for_a_matching_article_and_none_for_an_unrelated_one(engine):
    async def scenario():
        async with running_bot(engine) as fake:
            await said(fake, f"/follow {TOPIC}")
            write_articles(engine.seeds / "wire", UNRELATED)
            await asyncio.to_thread(engine.index)
            assert engine.follows.matches_since("tg:7", 0) == []  # nothing queued
            write_articles(engine.seeds / "wire", {"treaty-a.txt": wire_copy("Wire One"),
                                                   "treaty-b.txt": wire_copy("Wire Two")})
            await asyncio.to_thread(engine.index)
            await fake.wait_for(lambda: alerts(fake))
            await said(fake, "/id")  # handled after the alert: any second one would be here
            [alert] = alerts(fake)
            shown = check_html(alert["text"])
            cited = engine.follows.matches_since("tg:7", 0)[0].citation
            assert cited["doc"] == "wire/treaty-a.txt"
            for part in (TOPIC, cited["title"], "Wire One", "2024-06-20", "wire/treaty-a.txt",
                         cited["snippet"], "also in: Wire Two"):
                assert part in shown, part
            text = (engine.seeds / cited["doc"]).read_text(encoding="utf-8")
            assert text[cited["start"]:cited["end"]] == cited["snippet"]  # an exact span
            assert "<blockquote>" in alert["text"]
            assert alert["reply_markup"]["inline_keyboard"][0][0]["text"] == "[1]"
            # Marked sent once Telegram's answer is back (the fake records the message first).
            await until(lambda: engine.follows.pending("tg:") == [])
    _run(scenario())


def test_a_blocked_chat_loses_its_follows_in_one_line(engine, logged):
    async def scenario():
        async with running_bot(engine) as fake:
            await said(fake, f"/follow {TOPIC}")
            await said(fake, "/digest daily 08:00")
            fake.fail("sendMessage", "403", 3, chat_id=7)  # the user blocks the bot
            queue(engine.follows, engine.following("tg:7")[0].id,
                  [(1, "2024-06-20", "Wire One", 1), (2, "2024-06-21", "Wire One", 2)])
            await until(lambda: not engine.following("tg:7"))
            await said(fake, "/id", user=8)  # the bot goes on for the others
            assert fake.failed("sendMessage", "403") == 1
            assert engine.follows.pending("tg:") == [] and engine.follows.digests() == []
    _run(scenario())
    assert "Traceback" not in logged.getvalue()
    [blocked] = lines(logged, "telegram_chat_blocked")
    assert "chat_id=7" in blocked and "topics_dropped=1" in blocked


@pytest.mark.slow
def test_a_429_is_waited_out_and_the_alert_arrives_once(engine, logged):
    async def scenario():
        async with running_bot(engine) as fake:
            await said(fake, f"/follow {TOPIC}")
            fake.fail("sendMessage", "429", 1, chat_id=7, retry_after=1)
            queue(engine.follows, engine.following("tg:7")[0].id,
                  [(1, "2024-06-20", "Wire One", 1)])
            await fake.wait_for(lambda: alerts(fake))
            await said(fake, "/id")
            refused = next(t for m, _, t in fake.calls if m == "sendMessage!429")
            sent = next(t for m, p, t in fake.calls if m == "sendMessage" and ALERT in p["text"])
            assert sent - refused >= 0.95 and len(alerts(fake)) == 1
    _run(scenario())
    [throttled] = lines(logged, "telegram_throttled")
    assert "retry_after_s=1.0" in throttled and "Traceback" not in logged.getvalue()


@pytest.mark.slow
def test_telegram_down_alerts_wait_and_arrive_once(engine, logged):
    async def scenario():
        async with running_bot(engine) as fake:
            await said(fake, f"/follow {TOPIC}")
            # Eight 502s: more than one send's retries (six), so the outbox itself waits.
            fake.fail("sendMessage", "502", 8, chat_id=7)
            queue(engine.follows, engine.following("tg:7")[0].id,
                  [(1, "2024-06-20", "Wire One", 1), (2, "2024-06-21", "Wire One", 2)])
            await fake.wait_for(lambda: len(alerts(fake)) == 2)
            await said(fake, "/id")
            assert [re.search(r"Marker (\d+)", p["text"])[1] for p in alerts(fake)] == ["1", "2"]
            assert fake.failed("sendMessage", "502") == 8
    _run(scenario())
    assert "Traceback" not in logged.getvalue()
    [waiting] = lines(logged, "alerts_waiting")
    assert "Bad Gateway" in waiting and len(lines(logged, "telegram_unreachable")) == 1


@pytest.mark.slow
def test_a_timed_out_alert_is_not_sent_again(engine, logged):
    async def scenario():
        async with running_bot(engine, read_timeout=1) as fake:
            await said(fake, f"/follow {TOPIC}")
            fake.fail("sendMessage", "hang", 1, chat_id=7, delay=2)  # delivered, answered late
            queue(engine.follows, engine.following("tg:7")[0].id,
                  [(1, "2024-06-20", "Wire One", 1)])
            await until(lambda: lines(logged, "telegram_send_failed"), timeout=30)
            await until(lambda: not engine.follows.pending("tg:"))
            await said(fake, "/id")
            assert fake.failed("sendMessage", "hang") == 1 and alerts(fake) == []
    _run(scenario())
    [failed] = lines(logged, "telegram_send_failed")
    assert 'reason="Telegram may have delivered it: not sent again"' in failed


@pytest.mark.slow
def test_an_alert_that_cannot_be_rendered_is_held_and_the_others_go_on(engine, logged):
    async def scenario():
        async with running_bot(engine) as fake:
            await said(fake, f"/follow {TOPIC}")
            topic_id = engine.following("tg:7")[0].id
            engine.follows.record(["wire/bad.txt"], [NewMatch(
                topic_id, "wire/bad.txt", None, frozenset(), {"doc": "wire/bad.txt"})])
            queue(engine.follows, topic_id, [(1, "2024-06-20", "Wire One", 1)])
            await fake.wait_for(lambda: alerts(fake))
            await until(lambda: len(engine.follows.pending("tg:")) == 1)  # marked sent
            [held] = engine.follows.pending("tg:")
            assert held.match.path == "wire/bad.txt" and held.attempts == 1
    _run(scenario())
    [failed] = lines(logged, "alert_failed")
    assert "attempts=1" in failed and "retry_in_s=60.0" in failed
    assert logged.getvalue().count("Traceback") == 1  # once, at the first failure


# --- digests ------------------------------------------------------------------------------

def test_the_digest_goes_out_at_its_time_grouped_and_only_with_news(engine):
    def at(day: int, hour: int, minute: int) -> datetime:
        return datetime(2024, 6, day, hour, minute, tzinfo=UTC)

    async def scenario():
        async with running_bot(engine) as fake:
            following = fake.app.bot_data["follow"]
            following.clock = lambda: at(1, 0, 0)  # the job's own looks find nothing due
            assert "HH:MM" in await said(fake, "/digest daily 25:00")
            assert "not a time zone" in await said(fake, "/digest daily 08:00 Mars/Olympus")
            reply = await said(fake, "/digest daily 08:00 Asia/Tehran")
            assert "08:00 (Asia/Tehran)" in reply and "UTC" not in reply
            assert "so that is UTC" in await said(fake, "/digest daily 07:30", user=8)
            for words in ("Alexandria port", "Cairo climate"):
                await said(fake, f"/follow {words}")
            assert "Daily digest at 08:00 (Asia/Tehran)" in await said(fake, "/following")
            port, climate = engine.following("tg:7")
            queue(engine.follows, port.id, [(1, "2024-06-19", "Wire One", 1),
                                            (2, "2024-06-19", "Wire Two", 1),
                                            (3, "2024-06-21", "Wire One", 3)])
            queue(engine.follows, climate.id, [(4, "2024-06-20", "Wire Three", 4)])
            await fake.wait_for(lambda: len(alerts(fake)) == 3)  # the copy is no alert
            before = len(fake.sent(chat_id=7))

            # 07:59 in Tehran (UTC+3:30) is not yet; 08:01 is.
            assert await following.send_digests(fake.app.bot, at(21, 4, 29)) == 0
            assert await following.send_digests(fake.app.bot, at(21, 4, 31)) == 1
            [digest] = fake.sent(chat_id=7)[before:]
            shown = check_html(digest["text"])
            order = [shown.index(s) for s in ("Daily digest, 2024-06-21", "Alexandria port",
                                              "Marker 3", "Marker 1", "also in: Wire Two",
                                              "Cairo climate", "Marker 4")]
            assert order == sorted(order) and "Marker 2" not in shown
            assert await following.send_digests(fake.app.bot, at(21, 5, 0)) == 0  # sent today
            # The next day has nothing new, and user 8 follows nothing: nothing is sent.
            assert await following.send_digests(fake.app.bot, at(22, 7, 31)) == 0
            assert len(fake.sent(chat_id=7)) == before + 1 and len(fake.sent(chat_id=8)) == 1

            assert await said(fake, "/digest off") == "Daily digest stopped."
            assert await said(fake, "/digest off") == "There was no daily digest to stop."
            queue(engine.follows, port.id, [(5, "2024-06-23", "Wire One", 5)])
            await fake.wait_for(lambda: len(alerts(fake)) == 4)
            assert await following.send_digests(fake.app.bot, at(23, 4, 31)) == 0
    _run(scenario())


# --- timelines -----------------------------------------------------------------------------

TIMELINE_TOPIC = "Putin North Korea treaty mutual assistance"


def test_timeline_by_command_and_by_question(timeline_engine):
    engine = timeline_engine
    expected = engine.timeline(TIMELINE_TOPIC)
    assert len(expected.entries) >= 3 and any(e.dates for e in expected.entries)

    async def scenario():
        async with running_bot(engine) as fake:
            assert "/timeline" in await said(fake, "/timeline")
            shown = check_html(await said(fake, f"/timeline {TIMELINE_TOPIC}"))
            assert f"Timeline: {TIMELINE_TOPIC}" in shown
            plain = shown.replace("\u200e", "").replace("\u200f", "")
            where = [shown.index(f"{e.date}") for e in expected.entries]
            assert where == sorted(where)  # oldest first
            for entry in expected.entries:
                c = entry.citation
                assert f"{entry.date} — {c['outlet']}: {c['snippet']} [{c['title']}]" in plain
                for d in entry.dates:  # "اليوم الأربعاء" = 2024-06-19, "الشهر الماضي" = 2023-09
                    assert f"«{d['text']}» = {d['date']}" in plain
            markup = fake.sent(chat_id=7)[-1]["reply_markup"]["inline_keyboard"]
            assert markup == [[{"text": "🔔 Follow this story", "callback_data": "f"}]]

            await said(fake, "Who signed the treaty in Pyongyang?")
            story = check_html(await said(fake, "what happened in this story?"))
            assert "Timeline: Who signed the treaty in Pyongyang?" in story
            assert "2024-06-19" in story
            arabic = check_html(await said(
                fake, "ما تسلسل الأحداث في معاهدة روسيا وكوريا الشمالية؟", user=8, lang="ar"))
            assert "التسلسل الزمني: معاهدة روسيا وكوريا الشمالية" in arabic
    _run(scenario())

    # Long timelines are split under Telegram's limit; an Arabic entry reads right to left.
    long = Timeline("x", tuple(
        Entry(f"2024-01-{i % 28 + 1:02d}", {**expected.entries[1].citation,
                                             "snippet": "كلمة " * 80})
        for i in range(40)), undated=2)
    parts = pack(timeline_blocks(long, "ar"))
    assert len(parts) >= 3 and all(len(p) <= MAX_MESSAGE for p in parts)
    for part in parts:
        check_html(part)
    assert all(block.startswith(RLM) for block in timeline_blocks(long, "ar")[1:-1])


def test_a_timeline_names_a_wire_copys_other_outlet(timeline_engine):
    engine = timeline_engine
    write_articles(engine.seeds / "wire", {"treaty-a.txt": wire_copy("Wire One"),
                                           "treaty-b.txt": wire_copy("Wire Two")})
    engine.index()
    timeline = engine.timeline(TIMELINE_TOPIC)
    assert any(a["outlet"] == "Wire Two" for e in timeline.entries
               for a in e.citation["also_in"])


# --- real processes -----------------------------------------------------------------------

class SlowBotAPI(FakeBotAPI):
    """Telegram taking ``delay`` seconds over each sendMessage before acting on it: a request
    whose sender is gone by then never reached its back end and is not carried out."""

    def __init__(self, token: str, delay: float) -> None:
        super().__init__(token)
        self.delay = delay
        self.in_flight = 0

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != "sendMessage":
            return await super()._handle(request)
        async with self._changed:
            self.in_flight += 1
            self._changed.notify_all()
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if request.transport is None or request.transport.is_closing():
            return web.Response()  # nobody is waiting for the answer
        return await super()._handle(request)


def _start(args: list[str], base: Path, log: str, env: dict[str, str]) -> subprocess.Popen:
    environ = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", **env}
    for name in ("KHABAR_LLM", "KHABAR_FEEDS", *(() if "TELEGRAM_BOT_TOKEN" in env
                                                 else ("TELEGRAM_BOT_TOKEN",))):
        environ.pop(name, None)
    with open(base / log, "wb") as out:
        return subprocess.Popen([KHABAR, *args], cwd=base, env=environ, stdout=out,
                                stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


ALERTS = 50


@pytest.mark.slow
def test_every_alert_is_delivered_once_across_a_sigkill(engine, tmp_path):
    topic = engine.follow("tg:7", TOPIC, "en")
    queue(engine.follows, topic.id, [(i, "2024-06-20", "Wire One", i) for i in range(ALERTS)])
    engine.close()
    args = ["telegram", "--seeds", str(engine.seeds), "--index", str(engine.index_dir.root)]

    def markers(fake: FakeBotAPI) -> Counter:
        return Counter(int(m[1]) for p in alerts(fake)
                       if (m := re.search(r"Marker (\d+):", p["text"])))

    async def scenario() -> tuple[int, int]:
        fake = SlowBotAPI(TOKEN, delay=0.15)
        await fake.start()
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url}
        first = _start(args, tmp_path, "first.log", env)
        try:
            # Killed while Telegram holds an alert: sent and not yet answered.
            await fake.wait_for(lambda: len(alerts(fake)) >= 10 and fake.in_flight > 0, 120)
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        finally:
            _stop(first)
        before = len(alerts(fake))
        second = _start(args, tmp_path, "second.log", env)
        try:
            # Oldest first: a copy of an alert sent before the kill would come before these.
            await fake.wait_for(lambda: len(markers(fake)) == ALERTS, 120)
        finally:
            _stop(second)
            await fake.stop()
        counts = markers(fake)
        assert counts == Counter(range(ALERTS)), counts - Counter(range(ALERTS))
        return before, len(alerts(fake)) - before

    before, after = asyncio.run(asyncio.wait_for(scenario(), 240))
    print(f"\nrestart: {before} alerts before SIGKILL, {after} after the restart, "
          f"{ALERTS} delivered, each once")
    assert 10 <= before < ALERTS
    assert FollowStore(engine.index_dir.root / "follows.sqlite").pending("tg:") == []
    assert "Traceback" not in (tmp_path / "second.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_an_alert_within_10_s_of_a_file_landing_in_seeds(engine, tmp_path):
    incoming = tmp_path / "incoming.txt"
    incoming.write_text(wire_copy("Wire One"), encoding="utf-8")
    watcher = _start(["index", "--watch", "--seeds", str(engine.seeds), "--index",
                      str(engine.index_dir.root)], tmp_path, "watch.log",
                     {"KHABAR_FOLLOW_MIN_SCORE": str(ALERT_MIN_SCORE)})
    watch_log = tmp_path / "watch.log"

    async def scenario() -> float:
        async with running_bot(engine) as fake:
            await said(fake, f"/follow {TOPIC}")
            await until(lambda: "event=watching" in watch_log.read_text(), timeout=120)
            copied = time.monotonic()
            shutil.copy(incoming, engine.seeds / "treaty.txt")
            await fake.wait_for(lambda: alerts(fake), 60)
            [arrived] = [t for m, p, t in fake.calls if m == "sendMessage" and ALERT in p["text"]]
            return arrived - copied

    try:
        seconds = _run(scenario())
    finally:
        _stop(watcher)
    print(f"\nalert latency: {seconds:.2f} s from the file copied into seeds/ to Telegram")
    assert seconds < 10, watch_log.read_text()
