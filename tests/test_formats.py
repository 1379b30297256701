"""Every supported format and encoding, through the real indexer, store and answerer."""

from __future__ import annotations

import codecs
import json
import logging
from pathlib import Path

import pytest

from khabar.retrieval.engine import Khabar
from khabar.retrieval.ingest.formats import read_articles

MARKDOWN = """---
title: "Drought in Isfahan"
date: 2024-06-02
source: Zayandeh Daily
url: https://zayandeh.example/drought
---

# Drought in Isfahan

The **Zayandeh Rud** river has been dry for [four months](https://x.example/dry), the
provincial water company said on Sunday, and farmers asked for compensation.

Read also: Rain expected next week
"""

HTML = """<!doctype html><html><head><meta charset="utf-8">
<title>Metro line opens in Mashhad | City Wire</title>
<link rel="canonical" href="https://citywire.example/mashhad-metro">
<meta property="og:site_name" content="City Wire">
<meta property="article:published_time" content="2024-09-14T08:00:00+03:30">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Metro line opens in Mashhad</h1>
<p>The third metro line of Mashhad opened on Saturday with twenty-two stations, the city
council said, cutting the trip from the airport to the shrine to thirty minutes.</p>
<p>Officials said the line will carry two hundred thousand passengers a day.</p></article>
<aside><h3>Most read</h3><ul><li><a href="/a">Football results tonight</a></li></ul></aside>
<footer>Contact us · Privacy</footer></body></html>
"""

RECORDS = [
    {"title": "Bridge closed in Baghdad", "text": "The Jumhuriya bridge in Baghdad was closed "
     "on Monday for repairs that will last six weeks, the municipality said.",
     "date": "2024-02-05", "url": "https://wire.example/1", "outlet": "Wire"},
    {"title": "No text here", "date": "2024-02-06"},
    {"title": "Dates harvest", "text": "Iraqi farmers expect a record harvest of dates this "
     "year, about eight hundred thousand tonnes, the agriculture ministry said.",
     "date": "2024-02-07", "outlet": "Wire"},
]


def _engine(seeds: Path, tmp: Path, embedder) -> Khabar:
    return Khabar(tmp / "index", seeds=seeds, embedder=embedder)


def _cited(answer, doc: str) -> bool:
    return any(c.doc == doc for c in answer.citations[:2])


def test_markdown_front_matter_and_syntax(tmp_path, embedder):
    doc = read_articles("notes/drought.md", MARKDOWN.encode()).documents[0]
    assert (doc.title, doc.date, doc.outlet, doc.url) == (
        "Drought in Isfahan", "2024-06-02", "Zayandeh Daily", "https://zayandeh.example/drought")
    body = " ".join(doc.text[b.start:b.end] for b in doc.blocks)
    assert "Zayandeh Rud river has been dry for four months" in body
    assert "**" not in body and "https://x.example" not in body and "---" not in body
    assert "Rain expected" not in body  # a "read also" line is chrome in every format


def test_html_page_main_text_and_metadata():
    doc = read_articles("saved/metro.html", HTML.encode()).documents[0]
    assert doc.title == "Metro line opens in Mashhad"
    assert doc.date == "2024-09-14"
    assert doc.url == "https://citywire.example/mashhad-metro"
    assert doc.outlet == "City Wire"
    body = " ".join(doc.text[b.start:b.end] for b in doc.blocks)
    assert "twenty-two stations" in body
    assert not any(chrome in body for chrome in ("Football results", "Privacy", "Sport"))


def test_html_in_windows_1256_follows_its_meta_charset():
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; '
            'charset=windows-1256"><title>افتتاح مستشفى</title></head><body><article>'
            '<p>افتتحت وزارة الصحة مستشفى جديدا في مدينة حلب يضم مئتي سرير، وقال الوزير إن '
            'المستشفى سيخدم نصف مليون نسمة.</p></article></body></html>')
    doc = read_articles("legacy.htm", page.encode("cp1256")).documents[0]
    assert "مئتي سرير" in doc.text


@pytest.mark.slow
def test_all_formats_and_encodings_are_indexed_and_cited(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    (seeds / "exports").mkdir(parents=True)
    (seeds / "drought.md").write_text(MARKDOWN, encoding="utf-8")
    (seeds / "metro.html").write_text(HTML, encoding="utf-8")
    (seeds / "exports" / "feed.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n", encoding="utf-8")
    (seeds / "exports" / "one.json").write_text(json.dumps(
        {"title": "Port strike", "text": "Dock workers in Basra went on strike on Tuesday "
         "over unpaid wages, halting container traffic."}), encoding="utf-8")
    arabic = "خبر\n\nأعلنت البلدية أن سوق الخضار الجديد في الموصل سيفتح أبوابه في شهر آذار.\n"
    persian = "خبر\n\nشهرداری شیراز گفت که باغ ارم از هفته آینده شب‌ها هم باز خواهد بود.\n"
    (seeds / "cp1256.txt").write_bytes(arabic.encode("cp1256"))
    (seeds / "utf16le.txt").write_bytes(codecs.BOM_UTF16_LE + persian.encode("utf-16-le"))
    (seeds / "utf16be.txt").write_bytes(
        codecs.BOM_UTF16_BE + "Wire\n\nThe dam in Mosul was inspected by engineers on Friday "
        "and declared safe.\n".encode("utf-16-be"))
    (seeds / "bom.txt").write_bytes(codecs.BOM_UTF8 + b"Note\n\nA new library opened in "
                                    b"Tabriz with forty thousand books.\n")
    engine = _engine(seeds, tmp_path, embedder)
    report = engine.index()
    assert [(s.path, "text" in s.reason) for s in report.skipped] == [
        ("exports/feed.jsonl#2", True)]
    assert report.added == 8 and report.documents == 9

    service = engine
    cases = {
        "How long was the Zayandeh Rud dry?": ("drought.md", "four months"),
        "How many stations does the new Mashhad metro line have?": ("metro.html", "twenty-two"),
        "How long will the Jumhuriya bridge repairs last?": ("exports/feed.jsonl#1", "six weeks"),
        "How big is the dates harvest expected to be?": ("exports/feed.jsonl#3", "eight hundred"),
        "Why did Basra dock workers strike?": ("exports/one.json", "unpaid wages"),
        "متى يفتح سوق الخضار في الموصل؟": ("cp1256.txt", "آذار"),
        "باغ ارم شیراز از کی شب‌ها باز است؟": ("utf16le.txt", "شب"),
        "Was the Mosul dam declared safe?": ("utf16be.txt", "safe"),
        "How many books does the Tabriz library have?": ("bom.txt", "forty thousand"),
    }
    assert {m.path for m in service.documents()} == {doc for doc, _ in cases.values()}
    for question, (doc, key) in cases.items():
        answer = service.ask(question)
        assert _cited(answer, doc), (question, [c.doc for c in answer.citations])
        assert key in answer.answer, (question, answer.answer)
    meta = {c.doc: c for c in service.ask("Mashhad metro line").citations}
    assert meta["metro.html"].url == "https://citywire.example/mashhad-metro"
    assert meta["metro.html"].outlet == "City Wire"


def test_appending_to_a_feed_embeds_only_the_new_record(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    feed = seeds / "feed.jsonl"
    good = [RECORDS[0], RECORDS[2]]
    feed.write_text("\n".join(json.dumps(r) for r in good) + "\n", encoding="utf-8")
    engine = _engine(seeds, tmp_path, embedder)
    first = engine.index()
    assert first.ok and first.documents == 2
    extra = {"title": "Airport reopens", "text": "Mosul airport reopened to civilian flights "
             "on Thursday after nine years.", "date": "2024-02-08"}
    feed.write_text(feed.read_text(encoding="utf-8") + json.dumps(extra) + "\n", encoding="utf-8")
    second = engine.index()
    assert (second.updated, second.documents, second.embedded_passages) == (1, 3, 1)
    answer = engine.ask("When did Mosul airport reopen?")
    assert answer.citations[0].doc == "feed.jsonl#3"
    feed.write_text(json.dumps(extra) + "\n", encoding="utf-8")  # the feed was rotated
    third = engine.index()
    assert third.documents == 1 and third.passages == 1


@pytest.mark.parametrize("name, data, reason", [
    ("broken.json", b'{"title": "x", "text": ', "invalid JSON"),
    ("number.json", b"42", "one article object"),
    ("blank.jsonl", b"\n\n", "empty"),
    ("empty.html", b"<html><body><nav>Home</nav></body></html>", "no article text"),
])
def test_unusable_exports_and_pages_are_reported(tmp_path, embedder, name, data, reason):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / name).write_bytes(data)
    (seeds / "ok.txt").write_text("News\n\nThe new bridge in Basra opened on Monday.\n",
                                  encoding="utf-8")
    report = _engine(seeds, tmp_path, embedder).index()
    assert report.added == 1 and [s.path for s in report.skipped] == [name]
    assert reason in report.skipped[0].reason


def test_unknown_extensions_are_logged_once_and_ignored(tmp_path, embedder, caplog):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ok.txt").write_text("News\n\nThe new bridge in Basra opened on Monday.\n",
                                  encoding="utf-8")
    for name in ("photo.jpg", "sheet.xlsx", "notes.docx"):
        (seeds / name).write_bytes(b"\x00\x01")
    with caplog.at_level(logging.INFO, logger="khabar.retrieval.index.indexer"):
        report = _engine(seeds, tmp_path, embedder).index()
    assert report.ok and report.documents == 1
    lines = [r for r in caplog.records if r.getMessage() == "unknown_extensions_skipped"]
    assert len(lines) == 1 and lines[0].count == 3


ZWNJ, RLM = "\u200c", "\u200f"
PERSIAN_PAGE = ("<!doctype html><html><head><meta charset=\"utf-8\">"
                "<title>جشنواره&zwnj;های موسیقی در اصفهان</title></head><body><article>"
                "<h1>جشنواره&zwnj;های موسیقی در اصفهان</h1>"
                f"<p>جشنواره بین{ZWNJ}المللی موسیقی اصفهان امسال با حضور هشتاد گروه از بیست "
                "کشور در تالارهای شهر برگزار شد و برگزارکنندگان می&#8204;گویند بلیت&#x200C;ها در "
                f"سه روز فروخته شد.</p><p>{RLM}رئیس جشنواره گفت که سال آینده گروه{ZWNJ}های بیشتری "
                "دعوت خواهند شد و اجراها در میدان نقش جهان هم برگزار می&zwnj;شود.</p>"
                "</article></body></html>")


def test_persian_html_keeps_zwnj_and_direction_marks():
    doc = read_articles("fa/music.html", PERSIAN_PAGE.encode()).documents[0]
    assert doc.title == f"جشنواره{ZWNJ}های موسیقی در اصفهان"
    for word in (f"بین{ZWNJ}المللی", f"می{ZWNJ}گویند", f"بلیت{ZWNJ}ها", f"گروه{ZWNJ}های",
                 f"می{ZWNJ}شود", f"{RLM}رئیس"):
        assert word in doc.text, word
    assert "بینالمللی" not in doc.text and "\U00010000" not in doc.text


def test_zwnj_survives_into_answers_and_snippets(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "music.html").write_text(PERSIAN_PAGE, encoding="utf-8")
    engine = _engine(seeds, tmp_path, embedder)
    assert engine.index().ok
    answer = engine.ask(f"جشنواره بین{ZWNJ}المللی موسیقی اصفهان با حضور چند گروه برگزار شد؟")
    assert answer.found and f"بین{ZWNJ}المللی موسیقی اصفهان" in answer.answer
    cited = answer.citations[0]
    assert f"می{ZWNJ}گویند" in cited.snippet and cited.title.startswith(f"جشنواره{ZWNJ}های")
    # Matching still folds ZWNJ: the question typed with a space finds the same article.
    assert engine.ask("جشنواره بین المللی موسیقی اصفهان").citations[0].doc == "music.html"


def test_pdf_text_per_page_and_citations_name_the_page(tmp_path, embedder):
    from fake_web import build_pdf

    from khabar.bot.render import answer_text
    from khabar.bot.telegram.format import answer_blocks
    from khabar.retrieval.types import page_at

    pdf = build_pdf([
        ["Ministry of Water: summer report"],
        ["The Karun river carried a third less water this summer than last,",
         "the ministry said, and two dams in Khuzestan are half empty."],
        [f"وزارت نیرو می{ZWNJ}گوید سد کرج تنها بیست درصد آب دارد."],
    ], title="Summer water report")
    doc = read_articles("reports/water.pdf", pdf).documents[0]
    assert doc.title == "Summer water report"
    assert page_at(doc.text, doc.text.index("Karun")) == 2
    assert page_at(doc.text, doc.text.index("سد کرج")) == 3
    assert f"وزارت نیرو می{ZWNJ}گوید سد کرج تنها بیست درصد آب دارد." in doc.text

    seeds = tmp_path / "seeds"
    (seeds / "reports").mkdir(parents=True)
    (seeds / "reports" / "water.pdf").write_bytes(pdf)
    engine = _engine(seeds, tmp_path, embedder)
    assert engine.index().ok
    answer = engine.ask("How much less water did the Karun carry this summer?")
    cited = next(c for c in answer.citations if "Karun" in c.snippet)
    assert cited.page == 2 and "\f" not in answer.answer
    assert f"[{cited.n}] p. 2 " in answer_text(answer)
    assert "p. 2" in "".join(answer_blocks(answer))
    assert answer.to_json()["citations"][cited.n - 1]["page"] == 2
    answer = engine.ask("سد کرج چند درصد آب دارد؟")
    cited = next(c for c in answer.citations if "کرج" in c.snippet)
    assert cited.page == 3 and f"می{ZWNJ}گوید" in cited.snippet


def test_scanned_damaged_and_partly_scanned_pdfs(tmp_path, embedder):
    from fake_web import build_pdf

    from khabar.retrieval.ingest.decoding import UnreadableFileError

    scanned = build_pdf([[], []])
    with pytest.raises(UnreadableFileError, match="a scanned PDF: none of its 2 page"):
        read_articles("scan.pdf", scanned)
    text = build_pdf([["Port news"], ["The port of Bandar Abbas reopened on Monday after the "
                                      "storm, officials said."]])
    with pytest.raises(UnreadableFileError, match="not a readable PDF"):
        read_articles("cut.pdf", text[:200])
    partly = read_articles("partly.pdf", build_pdf([[], ["The port of Bushehr reopened on "
                                                         "Monday, officials said."]]))
    assert partly.warnings == [("partly.pdf", "page(s) 1 have no text layer (scanned?); only "
                                              "the other pages are indexed")]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "scan.pdf").write_bytes(scanned)
    (seeds / "cut.pdf").write_bytes(text[:200])
    (seeds / "ok.pdf").write_bytes(text)
    report = _engine(seeds, tmp_path, embedder).index()
    assert report.added == 1 and sorted(s.path for s in report.skipped) == ["cut.pdf", "scan.pdf"]


def test_an_export_record_dated_only_by_its_address_yields_to_a_date_in_its_text():
    record = {"title": "Putin", "url": "https://x.example/news/2024/06/19/putin",
              "text": "Putin spoke about the treaty at length in the capital."}
    dated = dict(record, text="Date: 2024-06-20\n\n" + record["text"])
    data = (json.dumps(record) + "\n" + json.dumps(dated) + "\n").encode()
    assert [d.date for d in read_articles("a.jsonl", data).documents] == ["2024-06-19",
                                                                          "2024-06-20"]
