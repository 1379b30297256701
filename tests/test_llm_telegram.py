"""A generated answer streamed through the real python-telegram-bot stack: a placeholder,
draft edits no faster than about once a second, then the checked answer with its buttons."""

from __future__ import annotations

import itertools

import pytest
from conftest import SEEDS
from fake_llm import MODEL, FakeLLM, Reply
from test_telegram import _run, check_html, running_bot

from khabar.bot.telegram.stream import EDIT_INTERVAL
from khabar.retrieval.engine import Khabar
from khabar.retrieval.stages.llm import LLMConfig

KEPT = ("Dmitry Peskov is the press secretary of the Russian president [1]. "
        "Putin accepted Kim Jong Un's invitation [1].")
BAD = "He was born in 1990 [1]."


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.slow
@pytest.mark.parametrize("throttled", [0, 1])
def test_streamed_answer_is_paced_and_ends_checked(seeds_index, embedder, throttled):
    with FakeLLM(Reply(f"{BAD} {KEPT}", chunk_delay=0.15)) as llm_server:
        engine = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                        llm=LLMConfig(f"openai:{MODEL}", llm_server.url + "/v1", timeout=30))

        async def scenario():
            async with running_bot(engine) as fake:
                fake.throttle_edits = throttled
                await fake.push(fake.message("من هو السكرتير الصحفي للرئيس الروسي؟", lang="ar"))
                await fake.wait_for(lambda: any(p.get("reply_markup")
                                                for p in fake.sent("editMessageText")), 60)
                return fake.calls

        calls = _run(scenario())
    placeholder = next(t for m, p, t in calls if m == "sendMessage")
    assert next(p for m, p, _ in calls if m == "sendMessage")["text"] == "جارٍ كتابة الإجابة…"
    edits = [(p, t) for m, p, t in calls if m in ("editMessageText", "429")]
    times = [placeholder] + [t for _, t in edits]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(edits) >= 3 and min(gaps) >= EDIT_INTERVAL * 0.95, gaps
    drafts, final = [p for p, _ in edits[:-1]], edits[-1][0]
    assert any(BAD.split(" [")[0] in d["text"] for d in drafts)  # the draft showed it ...
    shown = check_html(final["text"])
    assert final["parse_mode"] == "HTML" and KEPT in shown
    assert "1990" not in shown and "removed" in shown  # ... the checked answer does not
    assert final["reply_markup"]["inline_keyboard"][0][0]["text"] == "[1]"
    assert not [m for m, _, _ in calls if m == "sendMessage"][1:]  # one message, edited
    if throttled:
        assert next(m for m, _, _ in calls if m in ("editMessageText", "429")) == "429"
