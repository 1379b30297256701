import json

import pytest
from click.testing import CliRunner
from conftest import SEEDS

from khabar.bot.cli import main


@pytest.mark.slow
def test_tiny_bench_reports_every_figure(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--sizes", "60", "--live-articles", "40",
                                       "--json", "--seeds", str(SEEDS),
                                       "--index", str(tmp_path / "index")],
                           env={"KHABAR_CHUNK_CHARS": "450"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["embedder"]["query_p50_ms"] > 0 and report["embedder"]["tokens_per_s"] > 0
    assert 0 < report["indexing"]["ratio_to_bare"] <= 1.5
    assert report["cold_start_s"] > 0
    # The configured engine's values, not a default chunker's.
    assert report["settings"]["chunking"]["chars"] == 450
    assert report["settings"]["reranker"] == "best-sentence"
    cross = report["cross_language"]
    assert cross["questions"] >= 20 and cross["ask_p50_ratio"] > 0
    live = report["live"]
    assert live["articles"] == 40 and live["passages"] >= 40
    assert live["add_one_embedded_texts"] > 0 and live["add_one_ratio"] > 0 and live["adds"] == 5
    follow = report["followups"]
    assert follow["pairs"] >= 10 and follow["read_as_followups"] >= follow["pairs"] // 2
    assert follow["followup_ratio"] > 0
    (size,) = report["sizes"]
    assert size["passages"] == 60 and size["vector_index"] == "flat"
    assert size["ask_p50_ms"] > 0 and size["serving_rss_mb"] > 50
    assert not list((tmp_path / "bench").glob("run-*"))  # cleaned up


def test_bench_rejects_bad_sizes(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--sizes", "ten", "--index", str(tmp_path / "i")])
    assert result.exit_code == 1 and "comma-separated integers" in result.output
