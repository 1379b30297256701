"""Optional: quality floors on the shared eval sets, when ``KHABAR_TEST_SHARED_EVAL`` names
them (CI sets it; a user's clone has no such sets and skips these)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SHARED_EVAL, shared_eval

from khabar.bot.cli import main

pytestmark = [shared_eval, pytest.mark.shared, pytest.mark.slow]


def _eval(tmp_path, set_name: str, *extra: str) -> dict:
    args = ["eval", str(SHARED_EVAL / set_name), "--json", "--index", str(tmp_path / "index"),
            *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["metrics"]["all"]


def test_seeds_dev_floor(tmp_path):
    metrics = _eval(tmp_path, "seeds-dev")
    assert metrics["doc@3"] == 1.0 and metrics["abstain"] == 1.0
    assert metrics["ans@answer"] >= 0.75


@pytest.mark.timeout(900)
def test_persianqa_floor(tmp_path):
    metrics = _eval(tmp_path, "persianqa-dev")
    assert metrics["doc@1"] >= 0.99 and metrics["ans@answer"] >= 0.78
    assert metrics["false_abstain"] <= 0.02
