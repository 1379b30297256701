"""``khabar health``: one line and an exit status, each check against a real thing on
127.0.0.1 (the fake Bot API, the fake model server, a port nobody listens on)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import SEEDS
from fake_llm import MODEL, FakeLLM
from fake_telegram import FakeBotAPI
from real_server import free_port

from khabar.bot.cli import main

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
OTHER_TOKEN = "987654321:another-token-entirely-for-this-fake-0"


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's ``.env`` and no setting from the environment decides a check."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "KHABAR_LLM", "KHABAR_BACKEND"):
        monkeypatch.delenv(name, raising=False)


def _health(index: Path, *extra: str, env: dict[str, str] | None = None,
            seeds: Path = SEEDS) -> Result:
    return CliRunner().invoke(main, ["health", "--seeds", str(seeds), "--index", str(index),
                                     *extra], env={"NO_PROXY": "127.0.0.1", **(env or {})})


def _line(result: Result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_healthy_index_is_exit_0_and_says_what_it_checked(seeds_index, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    for f in seeds.iterdir():  # older than the index: nothing to add
        os.utime(f, (1_000_000_000, 1_000_000_000))
    result = _health(seeds_index, seeds=seeds)
    assert result.exit_code == 0, result.output
    line = _line(result)
    assert line.startswith("healthy: index ok: generation ") and "5 articles" in line
    assert line.endswith("current")

    (seeds / "late.txt").write_text("Late\n\nA late article arrived after the index.\n")
    stale = _health(seeds_index, "--json", seeds=seeds)
    assert stale.exit_code == 0  # stale still answers
    report = json.loads(stale.output)
    assert report["ok"] and [c["name"] for c in report["checks"]] == ["index"]
    assert "stale: 1 file(s)" in report["checks"][0]["detail"]


def test_a_missing_index_is_exit_1_naming_khabar_index(tmp_path):
    result = _health(tmp_path / "nothing")
    assert result.exit_code == 1
    line = _line(result)
    assert line.startswith("unhealthy: index FAILED: no index at ") and "`khabar index" in line
    report = json.loads(_health(tmp_path / "nothing", "--json").output)
    assert report == {"ok": False, "checks": [{"name": "index", "ok": False,
                                               "detail": report["checks"][0]["detail"]}]}


def test_the_telegram_token_passes_or_fails_by_getme_and_is_never_printed(seeds_index):
    async def scenario() -> tuple[Result, Result]:
        fake = FakeBotAPI(TOKEN)
        await fake.start()
        try:
            env = {"TELEGRAM_API_BASE_URL": fake.base_url}
            good = await asyncio.to_thread(_health, seeds_index,
                                           env={**env, "TELEGRAM_BOT_TOKEN": TOKEN})
            bad = await asyncio.to_thread(_health, seeds_index,
                                          env={**env, "TELEGRAM_BOT_TOKEN": OTHER_TOKEN})
            return good, bad
        finally:
            await fake.stop()

    good, bad = asyncio.run(scenario())
    assert good.exit_code == 0, good.output
    assert "telegram ok: token valid (@khabar_test_bot)" in _line(good)
    assert bad.exit_code == 1
    line = _line(bad)
    assert line.startswith("unhealthy: telegram FAILED: Telegram rejected TELEGRAM_BOT_TOKEN "
                           "(401)") and "@BotFather" in line and "index ok" in line
    for result in (good, bad):
        for secret in (TOKEN, OTHER_TOKEN):
            assert secret.split(":")[1] not in result.output


def test_an_unreachable_bot_api_names_the_setting(seeds_index):
    url = f"http://127.0.0.1:{free_port()}/bot"
    result = _health(seeds_index, env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": url})
    assert result.exit_code == 1
    assert "TELEGRAM_API_BASE_URL" in _line(result) and TOKEN.split(":")[1] not in result.output


def test_the_model_server_up_then_down(seeds_index):
    with FakeLLM() as fake:
        env = {"KHABAR_LLM": f"openai:{MODEL}", "KHABAR_LLM_BASE_URL": fake.url + "/v1"}
        up = _health(seeds_index, env=env)
    assert up.exit_code == 0, up.output
    assert f"llm ok: openai:{MODEL} reachable" in _line(up)
    down = _health(seeds_index, env=env)
    assert down.exit_code == 1
    line = _line(down)
    assert line.startswith(f"unhealthy: llm FAILED: KHABAR_LLM=openai:{MODEL}: ")
    assert "KHABAR_LLM_BASE_URL" in line


def test_milvus_down_is_named_quickly_and_the_index_is_not_opened(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    env = {"KHABAR_BACKEND": "milvus", "KHABAR_MILVUS_URI": uri}
    result = _health(tmp_path / "index", env=env)
    assert result.exit_code == 1
    line = _line(result)
    assert line.startswith("unhealthy: milvus FAILED: cannot connect to Milvus at 127.0.0.1:")
    assert "KHABAR_MILVUS_URI" in line
    report = json.loads(_health(tmp_path / "index", "--json", env=env).output)
    assert [c["name"] for c in report["checks"]] == ["milvus"]
