"""The web chat in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against ``khabar serve`` on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import follow_corpus
import pytest
from conftest import SEEDS
from real_server import serve

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
QUESTION = "ماذا طلب بوتين بشأن العقوبات المفروضة على كوريا الشمالية؟"
FOLLOW_UP = "ومن الذي فرضها؟"
# Without the background-networking flags Chromium keeps calling out to Google's services.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--lang=ar")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromium-driver (.ci/run installs "
                              "them: apt-get install chromium chromium-driver)"),
]


@pytest.fixture
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "ar"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_window_size(1280, 900)
    try:
        yield driver
    finally:
        driver.quit()


def test_arabic_conversation_citations_and_follow_up(seeds_index, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    index = tmp_path / "index"
    shutil.copytree(seeds_index, index)
    with serve(SEEDS, index, tmp_path) as server:
        browser.get(server.url + "/")
        assert browser.execute_script("return document.documentElement.dir") == "rtl"
        assert browser.find_element(By.ID, "send").text == "اسأل"

        ask = browser.find_element(By.ID, "question")
        ask.send_keys(QUESTION)
        browser.find_element(By.ID, "send").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".turn .answer:not(.pending)"))
        answer = browser.find_element(By.CSS_SELECTOR, ".turn .answer")
        assert "error" not in answer.get_attribute("class")
        text = answer.find_element(By.CLASS_NAME, "answer-text")
        assert text.value_of_css_property("direction") == "rtl"
        assert answer.find_element(By.CLASS_NAME, "sources-label").text == "المصادر"
        shown = [(a.find_element(By.CLASS_NAME, "article-title").text,
                  a.find_element(By.CLASS_NAME, "meta").text,
                  [b.get_attribute("data-n") for b in a.find_elements(By.CSS_SELECTOR, ".cite")])
                 for a in answer.find_elements(By.CSS_SELECTOR, ".citation")]
        with server.client() as http:
            expected = http.post("/v1/ask", json={"question": QUESTION}).json()["citations"]
        articles: dict[str, tuple[str, str, list[str]]] = {}
        for c in expected:  # one block per article: title, outlet · date, its [n] snippets
            meta = " · ".join(x for x in (c["outlet"], c["date"]) if x)
            articles.setdefault(c["doc"], (c["title"] or c["doc"], meta, []))[2].append(
                str(c["n"]))
        assert shown == list(articles.values())

        first = answer.find_element(By.CSS_SELECTOR, "button.cite")
        first.click()
        mark = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel mark"))[0]
        assert mark.is_displayed() and len(mark.text) > 20
        assert mark.value_of_css_property("background-color") == "rgba(255, 229, 138, 1)"
        passage = browser.find_element(By.CSS_SELECTOR, "#panel .passage")
        assert mark.text in passage.text
        browser.find_element(By.ID, "panel-close").click()

        ask.send_keys(FOLLOW_UP)
        browser.find_element(By.ID, "send").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                 ".turn .answer:not(.pending)")) == 2)
        follow = browser.find_elements(By.CSS_SELECTOR, ".turn .answer")[1]
        assert "العقوبات" in follow.find_element(By.CLASS_NAME, "read-as").text
        assert "مجلس الأمن" in follow.find_element(By.CLASS_NAME, "answer-text").text

        browser.find_element(By.ID, "new-btn").click()
        assert not browser.find_elements(By.CSS_SELECTOR, ".turn")
        browser.find_element(By.ID, "sources-btn").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#panel .source-item")) == 5)

        browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth")


STORY_QUESTION = "متى ستكتمل منارة الإسكندرية؟"
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")


def test_follow_a_story_from_an_answer_its_timeline_and_an_alert(seeds_index, embedder,
                                                                tmp_path, browser):
    """Follow from an answer, read the story's timeline (dates down the axis, right to left),
    open an entry in its article, get an alert when the story's next article is indexed, and
    unfollow. With ``KHABAR_SCREENSHOTS=DIR`` the timeline view is saved as DIR/timeline.png
    (``docs/timeline.png`` is made so)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    seeds, index = follow_corpus.build(seeds_index, tmp_path, embedder)
    with serve(seeds, index, tmp_path) as server:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "question").send_keys(STORY_QUESTION)
        browser.find_element(By.ID, "send").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".turn .answer:not(.pending)"))
        answer = browser.find_element(By.CSS_SELECTOR, ".turn .answer")
        follow = answer.find_element(By.CSS_SELECTOR, "button.follow")
        assert follow.get_attribute("aria-pressed") == "false" and follow.text == "تابع هذه القصة"
        follow.click()
        wait.until(lambda d: follow.get_attribute("aria-pressed") == "true")
        topic = follow.get_attribute("data-topic")
        assert topic == STORY_QUESTION

        browser.find_element(By.ID, "following-btn").click()
        item = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel .topic-item"))[0]
        assert item.find_element(By.CLASS_NAME, "topic-text").text == topic
        item.find_element(By.CSS_SELECTOR, "button.timeline-btn").click()
        entries = _timeline(browser, wait, server, topic)
        assert len(entries) >= 2

        first = entries[0]
        snippet = first.find_element(By.CLASS_NAME, "tl-snippet").text
        first.find_element(By.CSS_SELECTOR, "button.tl-card").click()
        mark = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel mark"))[0]
        assert mark.is_displayed() and " ".join(mark.text.split()) == " ".join(snippet.split())
        browser.find_element(By.CSS_SELECTOR, "#panel button.back").click()
        assert len(_timeline(browser, wait, server, topic)) == len(entries)

        follow_corpus.add_new(seeds, index, embedder)  # the indexer's run queues the alert
        # The page polls every 30 s and whenever its window gains the focus: focus it.
        card = wait.until(lambda d: d.execute_script(
            "window.dispatchEvent(new Event('focus'));"
            "return document.querySelector('#alerts .alert-card');"))
        assert "وضع الطبقة الأولى" in card.find_element(By.CLASS_NAME, "article-title").text
        assert topic in card.find_element(By.CLASS_NAME, "alert-topic").text
        card.find_element(By.CSS_SELECTOR, "button.cite").click()
        mark = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel mark"))[0]
        assert "منارة الإسكندرية" in mark.text

        answer.find_element(By.CSS_SELECTOR, "button.timeline-btn").click()  # from the answer
        entries = _timeline(browser, wait, server, topic)
        assert entries[-1].find_element(By.TAG_NAME, "time").get_attribute("datetime") \
            == "2025-01-20"
        shots = os.environ.get("KHABAR_SCREENSHOTS")
        browser.save_screenshot(str(Path(shots or tmp_path) / "timeline.png"))

        browser.find_element(By.ID, "following-btn").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel button.unfollow"))[0] \
            .click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel .note"))
        assert not browser.find_elements(By.CSS_SELECTOR, "#panel .topic-item")
        assert follow.get_attribute("aria-pressed") == "false"


def _timeline(browser, wait, server, topic: str) -> list:
    """The timeline's entries once drawn, checked against ``GET /v1/timeline``: dates in order
    down the axis, outlet, title and cited sentence per entry, right to left for Arabic."""
    from selenium.webdriver.common.by import By

    entries = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel .tl-entry"))
    with server.client() as http:
        expected = http.get("/v1/timeline", params={"topic": topic}).json()["entries"]
    shown = [(e.find_element(By.TAG_NAME, "time").get_attribute("datetime"),
              e.find_element(By.CLASS_NAME, "tl-source").text,
              e.find_element(By.CLASS_NAME, "tl-title").text) for e in entries]
    assert shown == [(x["date"], x["citation"]["outlet"], x["citation"]["title"])
                     for x in expected]
    dates = [date for date, _, _ in shown]
    assert dates == sorted(dates)
    ys = [e.location["y"] for e in entries]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # one axis, down the page
    timeline = browser.find_element(By.CSS_SELECTOR, "#panel .timeline")
    assert timeline.value_of_css_property("direction") == "rtl"
    for entry in entries:
        when = entry.find_element(By.TAG_NAME, "time")
        card = entry.find_element(By.CLASS_NAME, "tl-card")
        assert when.location["x"] > card.location["x"]  # the dates stand on the right
        sentence = entry.find_element(By.CLASS_NAME, "tl-snippet")
        if ARABIC_SCRIPT.search(sentence.text):
            assert sentence.value_of_css_property("direction") == "rtl"
    return entries
