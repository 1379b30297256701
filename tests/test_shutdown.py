"""SIGTERM in every service role: the work in flight finishes, the exit status is 0 within 10 s,
and the index still opens.

Each role runs as a real ``khabar`` process against fakes on 127.0.0.1 only: the fake model
server holds an answer for a while (``Reply(delay=...)``), so the signal arrives while a
question is being answered; the fake web holds a feed item's page; the watcher is signalled
while its new generation is being written. Every wait is polled with a bound.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import SEEDS, write_articles
from fake_llm import MODEL, FakeLLM, Reply
from fake_telegram import FakeBotAPI
from fake_web import FakeWeb, rss
from real_server import free_port

KHABAR = str(Path(sys.executable).with_name("khabar"))
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
QUESTION = "Who confirmed that North Korean troops had been deployed in Russia?"
STOP_WITHIN_S = 10.0
pytestmark = pytest.mark.slow


def _copy(seeds_index: Path, base: Path) -> tuple[Path, Path]:
    """A private copy of the seeds and their index (mtimes kept: nothing needs embedding)."""
    seeds, index = base / "seeds", base / "index"
    shutil.copytree(SEEDS, seeds)
    shutil.copytree(seeds_index, index)
    return seeds, index


def _start(args: list[str], base: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``khabar`` as a deployment runs it: in a folder with no ``.env``, its log in a file."""
    environ = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", **(env or {})}
    for name in ("KHABAR_LLM", "TELEGRAM_BOT_TOKEN", "KHABAR_FEEDS"):
        if name not in (env or {}):
            environ.pop(name, None)
    with open(base / "role.log", "wb") as out:
        return subprocess.Popen([KHABAR, *args], cwd=base, env=environ, stdout=out,
                                stderr=subprocess.STDOUT)


def _log(base: Path) -> str:
    return (base / "role.log").read_text(encoding="utf-8", errors="replace")


def _until(predicate: Callable[[], bool], proc: subprocess.Popen, base: Path,
           timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "khabar exited early:\n" + _log(base)
        assert time.monotonic() < deadline, "timed out:\n" + _log(base)
        time.sleep(0.01)


def _terminate(proc: subprocess.Popen, base: Path) -> float:
    """SIGTERM; the seconds until the process exited with status 0."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"still running {STOP_WITHIN_S} s after SIGTERM:\n" + _log(base))
    assert code == 0, f"exit status {code}:\n" + _log(base)
    seconds = time.monotonic() - sent
    print(f"{proc.args[1]}: exit {code} {seconds:.1f} s after SIGTERM")
    return seconds


def _index_opens(seeds: Path, index: Path) -> str:
    checked = subprocess.run([KHABAR, "index", "--check", "--seeds", str(seeds), "--index",
                              str(index)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    return checked.stdout


def _llm_env(fake: FakeLLM) -> dict[str, str]:
    return {"KHABAR_LLM": f"openai:{MODEL}", "KHABAR_LLM_BASE_URL": fake.url + "/v1",
            "KHABAR_LLM_TIMEOUT": "20"}


def test_serve_finishes_the_answer_in_flight(seeds_index, tmp_path):
    seeds, index = _copy(seeds_index, tmp_path)
    port = free_port()
    with FakeLLM(Reply(echo=True, delay=2.0)) as fake:
        proc = _start(["serve", "--seeds", str(seeds), "--index", str(index), "--port",
                       str(port)], tmp_path, _llm_env(fake))
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                              trust_env=False) as http:
                def ready() -> bool:
                    try:
                        return http.get("/readyz").status_code == 200
                    except httpx.TransportError:
                        return False

                _until(ready, proc, tmp_path)
                assert http.get("/livez").json() == {"status": "ok"}
                answered: list[httpx.Response] = []
                asking = threading.Thread(target=lambda: answered.append(
                    http.post("/v1/ask", json={"question": QUESTION})))
                asking.start()
                _until(lambda: bool(fake.chats()), proc, tmp_path)
                seconds = _terminate(proc, tmp_path)
                asking.join(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert answered and answered[0].status_code == 200, answered
    assert answered[0].json()["mode"] == "llm"  # the answer waited for the model
    assert seconds < STOP_WITHIN_S
    log = _log(tmp_path)
    assert "event=request" in log and "event=stopped" in log
    _index_opens(seeds, index)


def test_telegram_finishes_the_answer_in_flight(seeds_index, tmp_path):
    seeds, index = _copy(seeds_index, tmp_path)

    async def scenario(fake: FakeLLM) -> float:
        bot = FakeBotAPI(TOKEN)
        await bot.start()
        proc = _start(["telegram", "--seeds", str(seeds), "--index", str(index)], tmp_path,
                      {**_llm_env(fake), "TELEGRAM_BOT_TOKEN": TOKEN,
                       "TELEGRAM_API_BASE_URL": bot.base_url})
        try:
            await bot.wait_for(lambda: bool(bot.sent("setMyCommands")), timeout=120)
            await bot.push(bot.message(QUESTION))
            await asyncio.to_thread(_until, lambda: bool(fake.chats()), proc, tmp_path)
            signalled = time.monotonic()
            seconds = await asyncio.to_thread(_terminate, proc, tmp_path)
        finally:
            if proc.poll() is None:
                proc.kill()
            await bot.stop()
        # The model answered after the signal: whatever reached the user then is the answer.
        after = [p for m, p, at in bot.calls if at > signalled and p.get("chat_id") == 7
                 and m in ("sendMessage", "editMessageText")]
        assert after, bot.calls
        return seconds

    with FakeLLM(Reply(echo=True, delay=2.0)) as fake:
        seconds = asyncio.run(scenario(fake))
    assert seconds < STOP_WITHIN_S
    log = _log(tmp_path)
    assert "event=answered" in log and TOKEN.split(":")[1] not in log
    _index_opens(seeds, index)


LATE = 24


def test_index_watch_finishes_the_run_in_flight(seeds_index, tmp_path):
    seeds, index = _copy(seeds_index, tmp_path)
    before = _index_opens(seeds, index)
    proc = _start(["index", "--watch", "--seeds", str(seeds), "--index", str(index)], tmp_path)
    try:
        _until(lambda: "event=watching" in _log(tmp_path), proc, tmp_path)
        write_articles(seeds / "late", {
            f"late-{i}.txt": f"Harbour report {i}\n\nThe port of Alexandria reopened on day {i} "
                             "after a storm closed it; officials said ships were waiting.\n"
            for i in range(LATE)})
        # Signalled while the run writes its temporary generation folder: embedding 24
        # articles takes a second or more, so the poll sees it; a run that still finished
        # between two polls (a loaded machine) ends the wait too, rather than a timeout.
        _until(lambda: any(p.is_dir() for p in index.glob("gen-*.tmp-*"))
               or "generation=gen-000002" in _log(tmp_path), proc, tmp_path)
        seconds = _terminate(proc, tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seconds < STOP_WITHIN_S
    after = _index_opens(seeds, index)
    # The run finished and was published.
    assert after != before and f"{5 + LATE} documents" in after
    log = _log(tmp_path)
    assert "event=indexed" in log and f"added={LATE}" in log and "event=stopped" in log


def test_feeds_finishes_the_poll_in_flight(seeds_index, tmp_path):
    seeds, index = _copy(seeds_index, tmp_path)
    with FakeWeb() as web:
        page = web.add("/news/port.html",
                       "<html><head><title>Port reopens</title></head><body><article><h1>Port "
                       "reopens</h1><p>The port of Aqaba reopened on Friday after a storm "
                       "closed it for three days, the authority said in a statement.</p>"
                       "<p>Forty ships were waiting outside the harbour, officials said.</p>"
                       "</article></body></html>", hold=2.0)
        feed = web.add("/feed.xml", rss([("port-1", page, "Port reopens")]),
                       content_type="application/rss+xml")
        proc = _start(["feeds", "--feed", feed, "--seeds", str(seeds), "--index", str(index)],
                      tmp_path, {"KHABAR_FETCH_ALLOW_PRIVATE": "1",
                                 "KHABAR_FEED_INTERVAL": "3600"})
        try:
            _until(lambda: web.hits["/news/port.html"] > 0, proc, tmp_path)
            seconds = _terminate(proc, tmp_path)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert seconds < STOP_WITHIN_S
    log = _log(tmp_path)
    assert "event=feed_polled" in log and "event=added" in log and "event=stopped" in log
    assert "6 documents" in _index_opens(seeds, index)
