"""The web chat in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against ``khabar serve`` on 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

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
