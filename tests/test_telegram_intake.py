"""Adding articles from the chat, and feeds polled by the bot: the real PTB stack against the
fake Bot API, with pages served by a local web server, all on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from conftest import SMALL_CORPUS, write_articles
from fake_telegram import FakeBotAPI
from fake_web import FakeWeb, rss
from test_intake import PAGE_EN, PAGE_FA, PERSIAN_SENTENCE, PERSIAN_TITLE, ZWNJ
from test_telegram import _run, check_html, running_bot

from khabar.retrieval.engine import Khabar
from khabar.retrieval.ingest.fetch import FetchOptions

ADMIN, READER = 7, 8
DAM = (b"Dam inspection\n\nEngineers inspected the Mosul dam on Friday and declared it safe for "
       b"the winter floods, the ministry of water resources said.\n")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def web():
    with FakeWeb() as server:
        yield server


def _engine(tmp_path, embedder, allow_private=True) -> Khabar:
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder,
                    fetch_options=FetchOptions(allow_private=allow_private, timeout=2.0))
    engine.index()
    return engine


def _texts(fake: FakeBotAPI, chat: int) -> list[str]:
    """What the user saw in ``chat``, direction marks left out."""
    return [(check_html(p["text"]) if p.get("parse_mode") == "HTML" else p["text"])
            .replace("\u200e", "").replace("\u200f", "") for p in fake.sent(chat_id=chat)]


def test_an_admin_adds_a_file_and_links_then_asks_about_them(tmp_path, embedder, web):
    engine = _engine(tmp_path, embedder)
    page = web.add("/world/grain-ship", PAGE_EN)
    persian = web.add("/fa/festival", PAGE_FA)

    async def scenario():
        async with running_bot(engine, admins=str(ADMIN)) as fake:
            await fake.push(fake.document("dam.txt", DAM, user_id=ADMIN))
            await fake.wait_for(lambda: len(fake.sent(chat_id=ADMIN)) == 1, timeout=60)
            reply = _texts(fake, ADMIN)[0]
            assert "✅ Added: Dam inspection" in reply and "telegram/dam.txt" in reply
            assert "1 passages" in reply and fake.sent("download")

            await fake.push(fake.message(f"{page}\n{persian}", user_id=ADMIN))
            await fake.wait_for(lambda: len(fake.sent(chat_id=ADMIN)) == 2, timeout=60)
            reply = _texts(fake, ADMIN)[1]
            assert "Grain ship reaches Odesa" in reply and "Port Wire · 2024-07-02" in reply
            assert PERSIAN_TITLE in reply  # with its ZWNJ

            for question, doc in (("Who declared the Mosul dam safe?", "telegram/dam.txt"),
                                  ("How much wheat did the Aurora carry?", "portwire.example/"),
                                  (f"جشنواره بین{ZWNJ}المللی فیلم کودک شیراز چند فیلم نمایش داد؟",
                                   "127.0.0.1/festival-")):
                before = len(fake.sent(chat_id=ADMIN))
                await fake.push(fake.message(question, user_id=ADMIN))
                await fake.wait_for(lambda b=before: len(fake.sent(chat_id=ADMIN)) > b)
                answer = _texts(fake, ADMIN)[-1]
                assert "[1]" in answer and doc in answer, (question, answer)
            assert PERSIAN_SENTENCE in answer  # answered and cited with ZWNJ intact

            await fake.push(fake.document("dam.txt", DAM, user_id=ADMIN))
            await fake.wait_for(lambda: any("Already indexed" in t
                                            for t in _texts(fake, ADMIN)), timeout=60)
    _run(scenario())


def test_only_admins_add_and_bad_documents_lose_nothing(tmp_path, embedder, web):
    engine = _engine(tmp_path, embedder)
    page = web.add("/page", PAGE_EN)

    async def scenario():
        async with running_bot(engine, admins=str(ADMIN)) as fake:
            await fake.push(fake.document("dam.txt", DAM, user_id=READER))
            await fake.push(fake.message(page, user_id=READER))
            await fake.wait_for(lambda: len(fake.sent(chat_id=READER)) == 2)
            assert all("Only admins can add articles" in t for t in _texts(fake, READER))
            assert not fake.sent("getFile") and not web.hits

            await fake.push(fake.document("huge.pdf", b"%PDF-", size=25_000_000,
                                          user_id=ADMIN))
            await fake.wait_for(lambda: len(fake.sent(chat_id=ADMIN)) == 1)
            assert "25.0 MB; I can add files up to 20 MB" in _texts(fake, ADMIN)[0]
            assert not fake.sent("getFile")
            for i, (name, data) in enumerate((
                    ("photo.txt", b"\x89PNG\x00\x00\x01\x02" * 50),
                    ("setup.exe", b"MZ\x90\x00"),
                    ("empty.html", b"<html><body><nav>Home</nav></body></html>"),
                    ("b.txt", b"not the article b.txt holds"))):
                await fake.push(fake.document(name, data, user_id=ADMIN))
                await fake.wait_for(lambda i=i: len(fake.sent(chat_id=ADMIN)) == i + 2,
                                    timeout=60)
            texts = _texts(fake, ADMIN)
            assert "Not added: photo.txt" in texts[1] and "binary content" in texts[1]
            assert "Not added: setup.exe" in texts[2] and "not a file type" in texts[2]
            assert "Not added: empty.html" in texts[3] and "no article text" in texts[3]
            assert "✅ Added" in texts[4] and "telegram/b.txt" in texts[4]
    _run(scenario())
    # Nothing indexed was lost: the three articles are there, and b.txt is still the one in
    # seeds/ (the upload of the same name went to its own folder).
    docs = {d.path for d in engine.documents()}
    assert {"a.txt", "b.txt", "c.txt", "telegram/b.txt"} == docs
    assert not (engine.seeds / "telegram" / "photo.txt").exists()


def test_a_link_to_the_server_itself_is_refused_with_the_reason(tmp_path, embedder, web):
    engine = _engine(tmp_path, embedder, allow_private=False)
    page = web.add("/page", PAGE_EN)

    async def scenario():
        async with running_bot(engine, admins=str(ADMIN)) as fake:
            await fake.push(fake.message(page, user_id=ADMIN))
            await fake.wait_for(lambda: fake.sent(chat_id=ADMIN), timeout=60)
            reply = _texts(fake, ADMIN)[0]
            assert "Not added" in reply and "127.0.0.1 is a loopback address" in reply
            assert "KHABAR_FETCH_ALLOW_PRIVATE=1" in reply
    _run(scenario())
    assert not web.hits


def test_the_bot_polls_feeds_and_shows_them_to_admins(tmp_path, embedder, web):
    engine = _engine(tmp_path, embedder)
    page = web.add("/world/grain-ship", PAGE_EN)
    feed = web.add("/rss", rss([("g1", page, "Grain ship")]), content_type="application/rss+xml")
    broken = web.add("/broken", "<rss><channel><title>x</ti", content_type="application/xml")

    async def scenario():
        async with running_bot(engine, admins=str(ADMIN), feeds=[feed, broken]) as fake:
            deadline = asyncio.get_running_loop().time() + 60
            while not all(s.last_poll for s in engine.intake.status([feed, broken])):
                assert asyncio.get_running_loop().time() < deadline, "the feeds were not polled"
                await asyncio.sleep(0.05)
            await fake.push(fake.message("/feeds", user_id=READER))
            await fake.push(fake.message("/feeds", user_id=ADMIN))
            await fake.wait_for(lambda: fake.sent(chat_id=ADMIN) and fake.sent(chat_id=READER))
            assert "only admins" in _texts(fake, READER)[0]
            shown = _texts(fake, ADMIN)[0]
            assert f"{feed}\nnew items · last poll 0 min ago · 1 new" in shown
            assert "malformed feed" in shown
            await fake.push(fake.message("How much wheat did the Aurora carry?", user_id=ADMIN))
            await fake.wait_for(lambda: len(fake.sent(chat_id=ADMIN)) == 2)
            assert "portwire.example/" in _texts(fake, ADMIN)[1]
    _run(scenario())
    assert web.hits["/world/grain-ship"] == 1
