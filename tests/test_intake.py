"""Links, files and feeds: fetched from a real server on 127.0.0.1, saved into seeds/, indexed
in targeted runs and answered; every fault of the web gives its own reason and stops nothing.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
from click.testing import CliRunner
from conftest import SMALL_CORPUS, write_articles
from fake_web import FakeWeb, atom, build_pdf, rss

from khabar.bot.cli import main
from khabar.retrieval.engine import Khabar
from khabar.retrieval.ingest import fetch
from khabar.retrieval.ingest.fetch import (
    PAGE_TYPES,
    Fetcher,
    FetchError,
    FetchOptions,
    UnsafeAddressError,
)

ZWNJ = "\u200c"
PAGE_EN = """<!doctype html><html><head><meta charset="utf-8">
<title>Grain ship reaches Odesa | Port Wire</title>
<meta property="og:site_name" content="Port Wire">
<meta property="article:published_time" content="2024-07-02T09:00:00Z">
<link rel="canonical" href="https://portwire.example/news/grain-ship-odesa">
</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Grain ship reaches Odesa</h1>
<p>The bulk carrier Aurora reached Odesa on Tuesday carrying sixty thousand tonnes of wheat,
the port authority said.</p>
<p>It was the first grain ship to dock there in three weeks.</p></article></body></html>"""
# Served as windows-1256 with the charset in the HTTP header only.
PAGE_AR = ("<html><head><title>افتتاح جسر في الموصل</title></head><body><article>"
           "<h1>افتتاح جسر في الموصل</h1><p>افتتحت محافظة نينوى جسراً جديداً على نهر دجلة في "
           "مدينة الموصل يوم الخميس، وقال المحافظ إن الجسر يربط ضفتي المدينة لأول مرة منذ عشر "
           "سنوات.</p></article></body></html>")
PERSIAN_TITLE = f"جشنواره{ZWNJ}های فیلم کودک در شیراز"
PERSIAN_SENTENCE = (f"جشنواره بین{ZWNJ}المللی فیلم کودک شیراز امسال با نمایش سیصد فیلم از چهل "
                    f"کشور برگزار شد و برگزارکنندگان می{ZWNJ}گویند استقبال تماشاگران بیشتر شد.")
PAGE_FA = (f'<html><head><meta charset="utf-8"><title>{PERSIAN_TITLE}</title></head><body>'
           f"<article><h1>{PERSIAN_TITLE}</h1><p>{PERSIAN_SENTENCE}</p></article></body></html>")
PDF_LINES = [["Annual report of the port of Basra"],
             ["The harbour of Basra handled four million tonnes of cargo last year,",
              "the port authority said in its annual report on Monday."],
             [f"گزارش سالانه بندر بصره نشان می{ZWNJ}دهد که صادرات خرما دو برابر شد."]]


@pytest.fixture
def web():
    with FakeWeb() as server:
        yield server


def _options(**kw) -> FetchOptions:
    return FetchOptions(**{"allow_private": True, "timeout": 1.0, "backoff": 0.01,
                           "max_bytes": 100_000, **kw})


def _engine(tmp_path, embedder, **fetch_kw) -> Khabar:
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder,
                    fetch_options=_options(**fetch_kw))
    engine.index()
    return engine


def test_fetch_refuses_what_it_must_not_reach(web, monkeypatch):
    fetcher = Fetcher(FetchOptions(timeout=1.0))
    page = web.add("/page", PAGE_EN)
    refused = {
        page: "127.0.0.1 is a loopback address",
        f"http://localhost:{web.port}/page": "localhost (127.0.0.1) is a loopback address",
        "http://[::1]/": "::1 is a loopback address",
        "http://169.254.169.254/latest/meta-data/": "link-local (cloud metadata",
        "http://10.1.2.3/": "10.1.2.3 is a private address",
        "http://100.64.0.1/": "reserved or shared",
        "http://0.0.0.0/": "unspecified",
        "ftp://example.com/a.html": "only http and https",
        "file:///etc/passwd": "only http and https",
        "https://user:secret@example.com/": "user name or password",
    }
    for url, reason in refused.items():
        with pytest.raises(FetchError) as caught:
            fetcher.get(url, PAGE_TYPES)
        assert reason in str(caught.value), (url, str(caught.value))
    with pytest.raises(UnsafeAddressError, match="KHABAR_FETCH_ALLOW_PRIVATE=1"):
        fetcher.get(page, PAGE_TYPES)
    assert not web.hits  # nothing was sent anywhere

    # Checked after DNS resolution: a public-looking name that resolves inside.
    real = socket.getaddrinfo

    def resolve(host, *args, **kw):
        if host == "metadata.example":
            return real("169.254.169.254", *args, **kw)
        return real(host, *args, **kw)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", resolve)
    with pytest.raises(UnsafeAddressError, match=r"metadata.example \(169.254.169.254\)"):
        fetcher.get("http://metadata.example/latest/", PAGE_TYPES)

    # And on every redirect: the test server stands in for a public site that redirects.
    public = fetch.address_kind
    monkeypatch.setattr(fetch, "address_kind",
                        lambda ip: None if str(ip) == "127.0.0.1" else public(ip))
    hop = web.redirect("/go", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(UnsafeAddressError, match="link-local"):
        fetcher.get(hop, PAGE_TYPES)
    assert web.hits["/go"] == 1
    assert fetcher.get(page, PAGE_TYPES).status == 200


def test_each_fault_of_the_web_has_its_reason(web):
    fetcher = Fetcher(_options())
    web.redirect("/loop-a", web.url("/loop-b"))
    web.redirect("/loop-b", "/loop-a")
    faults = {
        "/missing": "HTTP 404 Not Found",
        "/stall": "no answer within 1 s (KHABAR_FETCH_TIMEOUT)",
        "/loop-a": "too many redirects (more than 5)",
        "/big": "larger than the 100,000-byte limit (KHABAR_MAX_PAGE_BYTES)",
        "/big-stream": "larger than the 100,000-byte limit",
        "/image": "unexpected content type image/png",
        "/busy": "HTTP 429 after 3 attempts",
    }
    web.add("/stall", stall=True)
    web.add("/big", "<p>" + "x" * 200_000)
    web.add("/big-stream", b"<p>" + b"x" * 10_000, stream_chunks=50)
    web.add("/image", b"\x89PNG", content_type="image/png")
    web.add("/busy", "", statuses=[429])
    for path, reason in faults.items():
        with pytest.raises(FetchError) as caught:
            fetcher.get(web.url(path), PAGE_TYPES)
        assert reason in str(caught.value), (path, str(caught.value))
    assert web.hits["/busy"] == 3
    web.add("/flaky", PAGE_EN, statuses=[503, 502, 200])
    assert fetcher.get(web.url("/flaky"), PAGE_TYPES).status == 200
    assert web.hits["/flaky"] == 3
    web.add("/undeclared", b"%PDF-1.4 ...", content_type="application/octet-stream")
    assert fetcher.get(web.url("/undeclared"), PAGE_TYPES).content_type == "application/pdf"


def test_one_request_at_a_time_per_site(web):
    fetcher = Fetcher(_options(timeout=5.0))
    url = web.add("/slow", PAGE_EN, hold=0.2)
    threads = [threading.Thread(target=fetcher.get, args=(url, PAGE_TYPES)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert web.hits["/slow"] == 3 and web.max_in_flight == 1


def test_add_links_and_files_each_with_its_outcome(tmp_path, embedder, web):
    engine = _engine(tmp_path, embedder)
    seeds = engine.seeds
    pdf = build_pdf(PDF_LINES, title="Port of Basra: annual report")
    urls = {
        "en": web.add("/world/grain-ship.html?utm=x", PAGE_EN),
        "ar": web.add("/ar/bridge", PAGE_AR.encode("cp1256"),
                      content_type="text/html; charset=windows-1256"),
        "fa": web.add("/fa/نمایشگاه-کتاب", PAGE_FA),
        "pdf": web.add("/reports/basra.pdf", pdf, content_type="application/pdf"),
        "missing": web.url("/gone"),
        "stall": web.add("/stall", stall=True),
        "loop": web.redirect("/loop", "/loop"),
        "big": web.add("/big", "<p>" + "x" * 200_000),
    }
    local = tmp_path / "notes.txt"
    local.write_text("Dam inspection\n\nEngineers inspected the Mosul dam on Friday and "
                     "declared it safe for the winter floods.\n", encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x01" * 20)
    docx = tmp_path / "memo.docx"
    docx.write_bytes(b"PK\x03\x04")
    report = engine.intake.add([*urls.values(), str(local), str(binary), str(docx),
                                str(tmp_path / "nowhere.txt")])

    failed = {f.item: f.reason for f in report.failed}
    assert failed[urls["missing"]] == "HTTP 404 Not Found"
    assert "no answer within 1 s" in failed[urls["stall"]]
    assert "too many redirects" in failed[urls["loop"]]
    assert "larger than the 100,000-byte limit" in failed[urls["big"]]
    assert "binary content" in failed[str(binary)]
    assert "not a file type Khabar reads" in failed[str(docx)]
    assert failed[str(tmp_path / "nowhere.txt")] == "no such file"
    assert not report.ok and len(report.failed) == 7

    added = {a.item: a for a in report.added}
    assert set(added) == {urls["en"], urls["ar"], urls["fa"], urls["pdf"], str(local)}
    en = added[urls["en"]]
    assert (en.title, en.outlet, en.date, en.url) == (
        "Grain ship reaches Odesa", "Port Wire", "2024-07-02",
        "https://portwire.example/news/grain-ship-odesa")
    assert en.path.startswith("portwire.example/grain-ship-odesa-") and en.passages >= 1
    assert added[str(local)].path == "files/notes.txt"
    fa = added[urls["fa"]]
    assert fa.title == PERSIAN_TITLE and fa.path.startswith("127.0.0.1/نمایشگاه-کتاب-")
    assert fa.url == urls["fa"].replace("نمایشگاه-کتاب", "%D9%86%D9%85%D8%A7%DB%8C%D8%B4%DA%AF"
                                        "%D8%A7%D9%87-%DA%A9%D8%AA%D8%A7%D8%A8")
    assert added[urls["pdf"]].title == "Port of Basra: annual report"
    assert added[urls["pdf"]].url == urls["pdf"]

    # The pages are kept as fetched, under a line naming the final URL (and the charset the
    # server declared, which the page itself did not).
    saved_ar = (seeds / added[urls["ar"]].path).read_bytes()
    assert saved_ar.startswith(b"<!-- saved from url=(")
    assert b'<meta charset="windows-1256">' in saved_ar
    assert saved_ar.endswith(PAGE_AR.encode("cp1256"))
    assert (seeds / added[urls["pdf"]].path).read_bytes().startswith(pdf)
    assert report.index is not None and report.index.added == 5

    answer = engine.ask("How much wheat did the Aurora carry to Odesa?")
    assert "sixty thousand tonnes" in answer.answer
    assert answer.citations[0].url == "https://portwire.example/news/grain-ship-odesa"
    assert "نهر دجلة" in engine.ask("على أي نهر افتتح الجسر الجديد في الموصل؟").answer
    answer = engine.ask(f"در جشنواره بین{ZWNJ}المللی فیلم کودک شیراز چند فیلم نمایش داده شد؟")
    assert answer.found and PERSIAN_SENTENCE in answer.answer
    cited = answer.citations[0]
    assert cited.doc == fa.path and PERSIAN_SENTENCE in cited.snippet
    assert cited.title == PERSIAN_TITLE
    answer = engine.ask("How much cargo did the harbour of Basra handle last year?")
    cited = next(c for c in answer.citations if "four million" in c.snippet)
    assert "four million tonnes" in answer.answer and cited.page == 2
    answer = engine.ask("صادرات خرما بندر بصره چه تغییری کرد؟")
    cited = next(c for c in answer.citations if "خرما" in c.snippet)
    assert cited.page == 3 and f"می{ZWNJ}دهد" in cited.snippet

    # Again: the same URL, the same bytes elsewhere, the same canonical URL with other bytes.
    web.add("/mirror", PAGE_EN)
    web.add("/amp", PAGE_EN.replace("<nav>", "<nav><!-- amp -->"))
    again = engine.intake.add([urls["en"], web.url("/mirror"), web.url("/amp"), str(local)])
    assert not again.added and not again.failed
    assert {u.path for u in again.unchanged} == {en.path, "files/notes.txt"}
    assert again.index is not None and again.index.embedded_passages == 0
    assert engine.ask("How much wheat did the Aurora carry?").citations[0].doc == en.path


def test_a_file_sent_twice_or_with_a_taken_name(tmp_path, fake_embedder):
    engine = _engine(tmp_path, fake_embedder)
    first = b"Fire\n\nA fire broke out in the Tabriz bazaar on Sunday night.\n"
    other = b"Fire\n\nFirefighters put out the Tabriz bazaar fire by Monday morning.\n"
    assert engine.intake.add_file("../../etc/fire.txt", first).added[0].path == "telegram/fire.txt"
    assert engine.intake.add_file("fire.txt", first).unchanged[0].path == "telegram/fire.txt"
    assert engine.intake.add_file("fire.txt", other).added[0].path == "telegram/fire-2.txt"
    hidden = engine.intake.add_file(".\u202efire.txt", b"Storm\n\nA storm hit Bushehr port "
                                    b"on Monday and closed it for a day.\n")
    assert hidden.added[0].path == "telegram/fire-3.txt"
    assert not any(p.name.startswith(".") for p in (engine.seeds / "telegram").iterdir())
    bad = engine.intake.add_file("empty.html", b"<html><body><nav>Home</nav></body></html>")
    assert bad.failed[0].reason.startswith("no article text found")
    assert engine.index().ok  # nothing bad was written


def test_an_item_saved_while_the_index_is_busy_is_indexed_by_the_next_add(tmp_path,
                                                                           fake_embedder):
    engine = _engine(tmp_path, fake_embedder)
    story = b"Quake\n\nA small earthquake shook Kerman on Monday; nobody was hurt.\n"
    with engine.index_dir.lock():  # another writer holds the index
        busy = engine.intake.add_file("quake.txt", story)
    assert "saved as telegram/quake.txt but not indexed" in busy.failed[0].reason
    assert "being indexed by" in busy.failed[0].reason
    again = engine.intake.add_file("quake.txt", story)
    assert again.unchanged[0].path == "telegram/quake.txt" and again.index.added == 1
    cited = [c.doc for c in engine.ask("Did anybody get hurt in the Kerman earthquake?").citations]
    assert "telegram/quake.txt" in cited  # indexed and searchable


def test_targeted_index_reads_only_the_named_files(tmp_path, fake_embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=fake_embedder)
    assert engine.index(only=["a.txt"]).documents == 3  # no index yet: everything is built
    (seeds / "junk.txt").write_bytes(b"\x00\x01\x02")
    write_articles(seeds, {"later.txt": "Later\n\nThe library of Herat reopened on Monday.\n",
                           "new.txt": "New\n\nA new bridge over the Karun opened in Ahvaz.\n"})
    report = engine.index(only=["new.txt"])
    assert (report.added, report.unchanged, report.skipped, report.documents) == (1, 0, [], 4)
    assert engine.index(only=["new.txt", "a.txt"]).embedded_passages == 0
    (seeds / "new.txt").unlink()
    assert engine.index(only=["new.txt"]).removed == 1
    full = engine.index()
    assert full.added == 1 and [s.path for s in full.skipped] == ["junk.txt"]


def test_feeds_add_new_items_once_and_a_broken_one_stops_nothing(tmp_path, fake_embedder, web):
    engine = _engine(tmp_path, fake_embedder)
    story = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1><p>{p}</p>"
             "</article></body></html>")
    one = web.add("/s/1", story.format(t="Flood in Basra", p="Floods closed the main road "
                                       "of Basra on Monday after three days of heavy rain."))
    two = web.add("/s/2", story.format(t="Metro in Tehran", p="A new metro line opened in "
                                       "Tehran on Tuesday with eleven stations."))
    three = web.add("/s/3", story.format(t="Dates harvest", p="Farmers in Khuzestan expect "
                                         "a record harvest of dates this autumn."))
    feed = web.add("/rss", rss([("g1", one, "Flood"), ("g2", two, "Metro"),
                                ("g9", web.url("/s/gone"), "Gone")]),
                   content_type="application/rss+xml")
    agency = web.add("/atom", atom([("urn:3", three, "Dates")]),
                     content_type="application/atom+xml", etag='"v1"')
    broken = web.add("/broken", '<?xml version="1.0"?><rss><channel><title>x</ti',
                     content_type="application/xml")
    feeds = [feed, broken, agency]

    first = engine.intake.poll(feeds)
    status = {f.feed: f for f in first.feeds}
    assert (status[feed].status, status[feed].new_items) == ("new items", 2)
    assert (status[agency].status, status[agency].new_items) == ("new items", 1)
    assert status[broken].status == "error" and "malformed feed" in status[broken].error
    assert {a.item for a in first.items.added} == {one, two, three}
    assert [(f.item, f.reason) for f in first.items.failed] == [(web.url("/s/gone"),
                                                                 "HTTP 404 Not Found")]
    assert not first.ok

    second = engine.intake.poll(feeds)
    assert not second.items.added and web.hits["/s/1"] == 1  # nothing new, nothing refetched
    status = {f.feed: f for f in second.feeds}
    assert status[feed].status == "no new items" and status[agency].status == "not modified"
    assert ("/atom", '"v1"') in [(p, h.get("If-None-Match")) for p, h in web.headers]
    engine.intake.poll(feeds)
    engine.intake.poll(feeds)
    assert web.hits["/s/gone"] == 3  # given up after three tries
    assert engine.ask("How many stations does the new Tehran metro line have?"
                      ).citations[0].doc.startswith("127.0.0.1/2-")
    shown = {s.feed: s for s in engine.intake.status(feeds)}
    assert shown[agency].status == "not modified" and shown[agency].last_poll
    assert shown[broken].status == "error"


@pytest.mark.slow
def test_khabar_add_and_feeds_commands(tmp_path, web, monkeypatch):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    for name in ("KHABAR_FETCH_ALLOW_PRIVATE", "KHABAR_FEEDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    base = ["--seeds", str(seeds), "--index", str(tmp_path / "index")]
    page = web.add("/en/grain", PAGE_EN)

    result = CliRunner().invoke(main, ["add", page, *base])
    assert result.exit_code == 1
    assert ("127.0.0.1 is a loopback address; Khabar fetches only from public addresses "
            "(KHABAR_FETCH_ALLOW_PRIVATE=1 lifts this)") in result.output
    assert not web.hits

    monkeypatch.setenv("KHABAR_FETCH_ALLOW_PRIVATE", "1")
    result = CliRunner().invoke(main, ["add", page, web.url("/nothing"), "--json", *base])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert set(out) == {"added", "unchanged", "failed"}
    assert out["added"][0]["title"] == "Grain ship reaches Odesa"
    assert out["failed"] == [{"item": web.url("/nothing"), "reason": "HTTP 404 Not Found"}]
    result = CliRunner().invoke(main, ["add", page, *base])
    assert result.exit_code == 0 and "unchanged " + page in result.output

    feed = web.add("/rss", rss([("g1", page, "Grain")]), content_type="application/rss+xml")
    result = CliRunner().invoke(main, ["feeds", "--once", "--feed", feed, "--json", *base])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["feeds"] == [{"feed": feed, "status": "no new items", "new_items": 0,
                             "error": None}]
    assert out["unchanged"][0]["item"] == page
    monkeypatch.setenv("KHABAR_FEEDS", "")
    result = CliRunner().invoke(main, ["feeds", "--once", *base])
    assert result.exit_code == 1 and "set KHABAR_FEEDS" in result.output
    (tmp_path / "feeds.txt").write_text(f"# our outlets\n{feed}\n", encoding="utf-8")
    monkeypatch.setenv("KHABAR_FEEDS", str(tmp_path / "feeds.txt"))
    result = CliRunner().invoke(main, ["feeds", "--once", *base])
    assert result.exit_code == 0 and f"feed {feed}: no new items" in result.output
