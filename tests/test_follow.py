"""Following a story in the engine: topics, matching of new articles, the outbox, wire copies,
digests and timelines, with the real embedder, FAISS and SQLite."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SEEDS, write_articles

from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import QuestionError
from khabar.retrieval.follow.digest import check_time, collect, due
from khabar.retrieval.follow.store import FollowError

CAIRO_FOLLOW_UP = (
    "قمة المناخ في القاهرة تختتم أعمالها\n\nDate: 2024-03-02\n\n"
    "اختتمت قمة المناخ في القاهرة أعمالها أمس بإقرار خطة وزراء البيئة لخفض الانبعاثات "
    "بنسبة ثلاثين في المئة، على أن تقدم الدول الموقعة تقارير سنوية عن التقدم المحرز.\n")
FOOTBALL = (
    "Late goal wins the derby\n\nDate: 2024-03-02\n\n"
    "A header in the last minute gave the home side a two-one win in the city derby on "
    "Saturday, lifting them to third place in the league table.\n")


@pytest.fixture
def engine(small_corpus: Path, tmp_path: Path, embedder) -> Khabar:
    e = Khabar(tmp_path / "index", seeds=small_corpus, embedder=embedder)
    e.index()
    yield e
    e.close()


def test_a_topic_alerts_once_for_a_new_article_of_its_story(engine: Khabar):
    topic = engine.follow("t:1", "the climate summit in Cairo")
    engine.follow("t:1", "نمایشگاه کتاب تهران")
    assert topic.lang == "en" and [t.text for t in engine.following("t:1")] == [
        "the climate summit in Cairo", "نمایشگاه کتاب تهران"]
    assert engine.match_follows().articles == 0  # what was indexed before is not news
    write_articles(engine.seeds, {"d.txt": CAIRO_FOLLOW_UP, "e.txt": FOOTBALL})
    engine.index()
    alerts = engine.follows.pending("t:")
    assert [(a.topic.id, a.match.path) for a in alerts] == [(topic.id, "d.txt")]
    c = alerts[0].match.citation
    assert engine.article("d.txt").text[c["start"]:c["end"]] == c["snippet"]
    assert c["title"] == "قمة المناخ في القاهرة تختتم أعمالها" and c["date"] == "2024-03-02"
    engine.follows.sent(alerts[0].id)
    engine.index()  # nothing new: nothing queued, nothing sent again
    assert engine.follows.pending("t:") == []


def test_wire_copies_alert_once_naming_the_other_outlets(engine: Khabar):
    engine.follow("t:1", "climate plan of the environment ministers in Cairo")
    copy = CAIRO_FOLLOW_UP.replace("Date: 2024-03-02", "Date: 2024-03-02\nSource: Wire Two")
    write_articles(engine.seeds, {"d.txt": CAIRO_FOLLOW_UP})
    engine.index()
    write_articles(engine.seeds, {"d2.txt": copy})
    engine.index()
    alerts = engine.follows.pending("t:")
    assert [a.match.path for a in alerts] == ["d.txt"]
    assert [a["doc"] for a in alerts[0].match.citation["also_in"]] == ["d2.txt"]


def test_topics_are_checked_like_questions_and_limited_per_chat(small_corpus, tmp_path,
                                                                 embedder):
    from khabar.retrieval.config import DEFAULTS

    config = DEFAULTS.model_copy(update={"max_topics_per_chat": 2})
    e = Khabar(tmp_path / "index", seeds=small_corpus, embedder=embedder, config=config)
    e.index()
    e.follow("t:1", "Cairo climate plan")
    with pytest.raises(FollowError) as dup:
        e.follow("t:1", "  cairo CLIMATE plan ")
    assert dup.value.check == "duplicate"
    e.follow("t:1", "Tehran book fair")
    with pytest.raises(FollowError) as limit:
        e.follow("t:1", "Alexandria harbour")
    assert limit.value.check == "limit" and "KHABAR_MAX_TOPICS_PER_CHAT" in str(limit.value)
    e.follow("t:2", "Alexandria harbour")  # the limit is per chat
    with pytest.raises(QuestionError):
        e.follow("t:2", "   ")
    with pytest.raises(QuestionError):
        e.follow("t:2", "x" * 5000)
    with pytest.raises(FollowError) as unknown:
        e.unfollow("t:2", "99")
    assert unknown.value.check == "unknown"
    assert e.unfollow("t:1", "tehran book fair").text == "Tehran book fair"
    assert [t.text for t in e.following("t:1")] == ["Cairo climate plan"]
    assert e.follows.drop_chat("t:2") == 1 and e.following("t:2") == []
    e.close()


def test_a_fault_while_matching_is_one_line_and_the_articles_wait(engine: Khabar, caplog):
    engine.follow("t:1", "the climate summit in Cairo")
    write_articles(engine.seeds, {"d.txt": CAIRO_FOLLOW_UP})
    real = engine.follows.unseen

    def locked(paths):
        raise sqlite3.OperationalError("database is locked")

    engine.follows.unseen = locked
    report = engine.index()  # the run itself succeeds
    assert report.added == 1 and engine.follows.pending("t:") == []
    lines = [r for r in caplog.records if r.getMessage() == "follow_match_failed"]
    assert len(lines) == 1 and not lines[0].exc_info
    engine.follows.unseen = real
    engine.index()  # the next run matches what the failed one could not
    assert [a.match.path for a in engine.follows.pending("t:")] == ["d.txt"]


def test_digest_groups_new_stories_and_is_due_once_a_day(engine: Khabar):
    with pytest.raises(FollowError) as bad_time:
        check_time("25:00", "UTC")
    assert bad_time.value.check == "time"
    with pytest.raises(FollowError) as bad_zone:
        check_time("08:00", "Mars/Olympus")
    assert bad_zone.value.check == "zone"
    assert check_time("8:05", "Asia/Tehran") == ("08:05", "Asia/Tehran")
    engine.follow("t:1", "the climate summit in Cairo")
    digest = engine.follows.set_digest("t:1", "08:00", "Asia/Tehran", "en")
    # 04:29 UTC is 07:59 in Tehran: not yet; 04:30 is 08:00.
    assert due(digest, datetime(2024, 3, 3, 4, 29, tzinfo=UTC)) is None
    day = due(digest, datetime(2024, 3, 3, 4, 30, tzinfo=UTC))
    assert day == "2024-03-03"
    assert collect(engine.follows, digest, day) is None  # nothing new: nothing to send
    write_articles(engine.seeds, {"d.txt": CAIRO_FOLLOW_UP, "e.txt": FOOTBALL})
    engine.index()
    text = collect(engine.follows, digest, day)
    assert [n.topic.text for n in text.topics] == ["the climate summit in Cairo"]
    assert [s["doc"] for s in text.topics[0].stories] == ["d.txt"]
    engine.follows.digest_sent("t:1", day, text.last_match)
    digest = engine.follows.digests()[0]
    assert due(digest, datetime(2024, 3, 3, 12, 0, tzinfo=UTC)) is None  # sent today
    assert collect(engine.follows, digest, "2024-03-04") is None  # nothing newer
    assert engine.follows.stop_digest("t:1") and engine.follows.digests() == []


def test_timeline_orders_the_story_by_date_with_exact_spans(seeds_engine: Khabar):
    timeline = seeds_engine.timeline("Putin and North Korea")
    dates = [e.date for e in timeline.entries]
    assert len(dates) >= 3 and dates == sorted(dates)
    for e in timeline.entries:
        c = e.citation
        assert seeds_engine.article(c["doc"]).text[c["start"]:c["end"]] == c["snippet"]
    relative = [d for e in timeline.entries for d in e.dates]
    assert any(d["text"].startswith("اليوم") for d in relative)  # "today Wednesday", resolved
    assert seeds_engine.timeline("Tour de France cycling results").entries == ()


@pytest.mark.parametrize(("question", "history", "topic"), [
    ("timeline of the Abha bombing", (), "the Abha bombing"),
    ("What happened in this story?", ("Who signed the treaty?",), "Who signed the treaty?"),
    ("ما تسلسل الأحداث في قضية زنجبار؟", (), "قضية زنجبار"),
    ("ماذا حدث في هذه القصة؟", ("من وقع المعاهدة؟",), "من وقع المعاهدة؟"),
    ("سیر رویدادهای زلزله بم", (), "زلزله بم"),
    ("در این ماجرا چه گذشت؟", ("پوتین کجا رفت؟",), "پوتین کجا رفت؟"),
    ("What happened in Abha?", (), None),
    ("Who won the derby?", (), None),
])
def test_timeline_questions_are_recognised(question, history, topic):
    assert Khabar.timeline_topic(question, history) == topic


def test_terminal_follow_commands_and_alerts(small_corpus, tmp_path, embedder):
    from khabar.bot.chat import ChatSession

    e = Khabar(tmp_path / "index", seeds=small_corpus, embedder=embedder)
    e.index()
    session = ChatSession(e)
    assert session.handle("/follow the climate summit in Cairo").startswith("Following 1.")
    assert "1. the climate summit in Cairo" in session.handle("/following")
    write_articles(small_corpus, {"d.txt": CAIRO_FOLLOW_UP})
    e.index()
    reply = session.handle("Where did the ministers meet?")
    assert "New in “the climate summit in Cairo”" in reply and "d.txt" in reply
    assert "New in" not in session.handle("Where did the ministers meet?")  # shown once
    assert "Timeline: the climate summit in Cairo" in session.handle(
        "/timeline the climate summit in Cairo")
    assert session.handle("/unfollow 1").startswith("Stopped following")
    assert "Cannot do that" in session.handle("/unfollow 7")
    e.close()


@pytest.mark.slow
def test_seeds_story_matches_across_languages(tmp_path, embedder):
    """A Persian topic about the seeds' Arabic story alerts on its articles as they arrive,
    and an English topic about something else does not."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    e = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    story = e.follow("t:1", "پیمان روسیه و کره شمالی")
    other = e.follow("t:1", "the Tour de France cycling race")
    for path in sorted(SEEDS.glob("*.txt")):
        shutil.copy2(path, seeds / path.name)
        e.index()
    matched = {a.match.path for a in e.follows.pending("t:") if a.topic.id == story.id}
    matched |= {s["doc"] for a in e.follows.pending("t:") if a.topic.id == story.id
                for s in a.match.citation["also_in"]}
    assert len(matched) >= 4
    assert not [a for a in e.follows.pending("t:") if a.topic.id == other.id]
    e.close()


def _cli(args, index, seeds):
    from click.testing import CliRunner

    from khabar.bot.cli import main

    return CliRunner().invoke(main, [*args, "--index", str(index), "--seeds", str(seeds)],
                              catch_exceptions=False)


@pytest.mark.slow
def test_cli_follow_alerts_timeline_and_replay(seeds_index, tmp_path):
    import json

    index, seeds = tmp_path / "index", tmp_path / "seeds"
    shutil.copytree(seeds_index, index)
    shutil.copytree(SEEDS, seeds)
    assert "Following 1. Putin's treaty with North Korea" in _cli(
        ["follow", "Putin's treaty with North Korea"], index, seeds).output
    assert _cli(["follow", "Putin's treaty with North Korea"], index, seeds).exit_code == 1
    assert "1. Putin's treaty" in _cli(["following"], index, seeds).output
    first = sorted(SEEDS.glob("*.txt"))[0]
    (seeds / "copy.txt").write_text(first.read_text(encoding="utf-8").replace(
        "موسكو-سانا", "موسكو-وكالات"), encoding="utf-8")
    assert _cli(["index"], index, seeds).exit_code == 0
    alerts = [json.loads(line) for line in _cli(["alerts", "--json"], index, seeds).output
              .splitlines()]
    assert [a["citation"]["doc"] for a in alerts] == ["copy.txt"]
    assert _cli(["alerts"], index, seeds).output == ""  # each alert is shown once
    timeline = json.loads(_cli(["timeline", "Putin's treaty with North Korea", "--json"],
                               index, seeds).output)
    dates = [e["date"] for e in timeline["entries"]]
    assert dates == sorted(dates) and len(dates) >= 3
    assert "Stopped following" in _cli(["unfollow", "1"], index, seeds).output

    # A replay set: the seeds are one story, the small corpus three others.
    from conftest import SMALL_CORPUS

    corpus = tmp_path / "set" / "corpus"
    shutil.copytree(SEEDS, corpus)
    write_articles(corpus, SMALL_CORPUS)
    selection = [{"file": p.name, "group": "putin-dprk"} for p in SEEDS.glob("*.txt")]
    selection += [{"file": name, "group": name} for name in SMALL_CORPUS]
    (tmp_path / "set" / "selection.json").write_text(json.dumps(selection), encoding="utf-8")
    topics = tmp_path / "topics.jsonl"
    topics.write_text(json.dumps({"id": "fa-1", "lang": "fa", "topic": "پیمان روسیه و کره شمالی",
                                  "groups": ["putin-dprk"]}) + "\n", encoding="utf-8")
    result = _cli(["replay", str(tmp_path / "set"), "--topics", str(topics), "--json"],
                  index, seeds)
    data = json.loads(result.output)
    assert data["topics"] == 1 and data["articles"] == 8
    assert data["precision"] == 1.0 and data["recall"] >= 0.8
    assert data["exact_spans"] == data["matched"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"topic": "x"}\n', encoding="utf-8")
    result = _cli(["replay", str(tmp_path / "set"), "--topics", str(bad)], index, seeds)
    assert result.exit_code == 1 and "bad.jsonl:1: not a topic line" in result.output


def test_two_readers_at_once_take_each_alert_once(tmp_path):
    """Two connections (two server workers, two tabs) reading one chat's alerts at the same
    moment: reading and marking sent are one transaction, so each alert goes to one reader."""
    import threading

    import numpy as np

    from khabar.retrieval.follow.store import FollowStore, NewMatch

    path = tmp_path / "follows.sqlite"
    store = FollowStore(path)
    topic = store.follow("web:a", "a story", "en", "spec", np.ones(4, dtype=np.float32), 5)
    matches = [NewMatch(topic.id, f"{i}.txt", None, frozenset({(str(i), "x", "y")}),
                        {"doc": f"{i}.txt", "snippet": "x", "start": 0, "end": 1})
               for i in range(60)]
    assert len(store.record([m.path for m in matches], matches)) == 60
    readers = [FollowStore(path), FollowStore(path)]
    got: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def read(i: int) -> None:
        start.wait(timeout=10)
        while batch := readers[i].take("web:a", limit=3):
            got[i] += [a.id for a in batch]

    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(got[0] + got[1]) == sorted(set(got[0] + got[1])) and len(got[0] + got[1]) == 60
    assert store.take("web:a") == [] and store.take("web:ab") == []
