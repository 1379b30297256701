import json
from dataclasses import replace

import pytest

from khabar.retrieval.measure.evaluate import (
    EvalSetError,
    Question,
    evaluate,
    load_questions,
    question_files,
    table,
)
from khabar.retrieval.types import Answer, Citation


class _Scripted:
    """An AnswerService stand-in replaying fixed answers, so every metric can be hand-checked."""

    def __init__(self, answers: dict[str, Answer], embedder):
        self.answers = answers
        self.embedder = embedder

    def ask(self, question: str, k: int | None = None, history=()) -> Answer:
        return self.answers[question]


def _answer(q: str, found: bool, text: str, docs: list[str], snippets: list[str]) -> Answer:
    cites = tuple(Citation(i + 1, d, None, None, None, None, s, 0, len(s), 0.5)
                  for i, (d, s) in enumerate(zip(docs, snippets, strict=True)))
    return Answer(q, found, text, cites, {"embed": 10.0, "search": 1.0, "answer": 1.0,
                                          "total": 12.0})


def test_metrics_on_a_hand_made_set(embedder):
    questions = [
        Question("1", "ar", "q1", "a.txt", ("١٩٥٣",), True),       # digits differ: still a hit
        Question("2", "fa", "q2", "b.txt", ("موفق‌ترین",), True),   # ZWNJ vs space
        Question("3", "ar", "q3", "c.txt", ("كييف",), True),        # doc at rank 2, no answer
        Question("4", "en", "q4", "a.txt", ("Moscow",), True),      # abstained wrongly
        Question("5", "en", "q5", None, (), False),                 # abstained rightly
        Question("6", "fa", "q6", None, (), False),                 # answered: not abstained
    ]
    answers = {
        "q1": _answer("q1", True, "وقعت الحرب بين 1950 و1953 [1]", ["a.txt"], ["1953"]),
        "q2": _answer("q2", True, "رئال موفق ترین تیم است [1]", ["b.txt"], ["x"]),
        "q3": _answer("q3", True, "موسكو [1]", ["a.txt", "c.txt"], ["x", "y"]),
        "q4": _answer("q4", False, "not covered", ["a.txt"], ["Moscow is big"]),
        "q5": _answer("q5", False, "not covered", ["b.txt"], ["x"]),
        "q6": _answer("q6", True, "something", ["b.txt"], ["x"]),
    }
    records: list[dict] = []
    rows = evaluate(_Scripted(answers, embedder), questions, details=records.append)
    by_id = {r["id"]: r for r in records}
    assert [r["id"] for r in records] == ["1", "2", "3", "4", "5", "6"]
    assert by_id["3"]["rank"] == 2 and by_id["3"]["ans@answer"] is False
    assert by_id["4"]["found"] is False and by_id["4"]["ans@snip3"] is True
    assert by_id["6"]["found"] is True and by_id["6"]["rank"] is None
    assert by_id["1"]["ans@answer"] is True and by_id["1"]["cited"] == ["a.txt"]
    all_ = rows["all"]
    assert all_["n"] == 4 and all_["unanswerable"] == 2
    assert all_["doc@1"] == 0.75 and all_["doc@3"] == 1.0
    assert all_["mrr@10"] == round((1 + 1 + 0.5 + 1) / 4, 3)
    assert all_["ans@answer"] == 0.5          # q1, q2 (q4's key is only in a snippet)
    assert all_["ans@snip3"] == 0.5           # q1 snippet, q4 snippet
    assert all_["false_abstain"] == 0.25
    assert all_["abstain"] == 0.5
    assert rows["en"]["n"] == 1 and rows["en"]["abstain"] == 1.0
    assert rows["fa"]["abstain"] == 0.0
    assert all_["p50_ms"] == 12.0
    assert "ans@answer" in table(rows).splitlines()[0]


def test_eval_files_and_errors(tmp_path):
    (tmp_path / "questions.jsonl").write_text(
        json.dumps({"id": 1, "lang": "ar", "q": "x", "doc": None, "answers": [],
                    "answerable": False}) + "\n\n", encoding="utf-8")
    assert question_files(tmp_path, None) == [tmp_path / "questions.jsonl"]
    assert len(load_questions(tmp_path / "questions.jsonl")) == 1
    with pytest.raises(EvalSetError, match="not found"):
        question_files(tmp_path, "missing.jsonl")
    # Each kind of bad line names the file, the line and what is wrong with it.
    for text, says in [('{"q": "no id"}', "the field 'id' is missing"),
                       ('{"id": 1, "q": "x"', "not a JSON line"),
                       ('["a list"]', "not a question object")]:
        (tmp_path / "bad.jsonl").write_text('\n' + text + '\n', encoding="utf-8")
        with pytest.raises(EvalSetError, match=rf"bad\.jsonl:2: {says}.*README"):
            load_questions(tmp_path / "bad.jsonl")


@pytest.mark.slow
def test_eval_command_end_to_end(tmp_path, embedder):
    from click.testing import CliRunner
    from conftest import SMALL_CORPUS, write_articles

    from khabar.bot.cli import main

    write_articles(tmp_path / "set" / "corpus", SMALL_CORPUS)
    lines = [
        {"id": "1", "lang": "en", "q": "How many ships were waiting outside the port?",
         "doc": "c.txt", "answers": ["forty"], "answerable": True},
        {"id": "2", "lang": "ar", "q": "أين اجتمع وزراء البيئة؟", "doc": "a.txt",
         "answers": ["القاهرة"], "answerable": True},
        {"id": "3", "lang": "en", "q": "What is a good recipe for vegetable lasagna?",
         "doc": None, "answers": [], "answerable": False},
    ]
    (tmp_path / "set" / "questions.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    args = ["eval", str(tmp_path / "set"), "--json", "--index", str(tmp_path / "k" / "index")]
    result = CliRunner().invoke(main, [*args, "--details", str(tmp_path / "details.jsonl")])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in
               (tmp_path / "details.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["1", "2", "3"]
    assert records[0]["rank"] == 1 and records[2]["found"] is False
    metrics = json.loads(result.output)["metrics"]["all"]
    assert metrics["doc@1"] == 1.0 and metrics["ans@answer"] == 1.0 and metrics["abstain"] == 1.0
    assert list((tmp_path / "k" / "eval").iterdir())  # the index is cached for the next run
    again = CliRunner().invoke(main, [*args, "--variant", "nope"])
    assert again.exit_code == 1 and "Choose from hybrid" in again.output



def test_generated_answers_are_tallied(embedder):
    from khabar.retrieval.types import Removed

    base = _answer("q1", True, "Rome is the capital [1]. It has 3 million people [2].",
                   ["a.txt", "b.txt"], ["Rome is the capital of Italy", "Milan has 3 million"])
    generated = replace(base, mode="llm", removed=(Removed("Invented [9].", "cites [9]"),))
    fallback = replace(_answer("q2", True, "Paris [1]", ["c.txt"], ["Paris"]),
                       fallback="the model server timed out")
    questions = [Question("1", "en", "q1", "a.txt", ("Rome",), True),
                 Question("2", "en", "q2", "c.txt", ("Paris",), True)]
    rows = evaluate(_Scripted({"q1": generated, "q2": fallback}, embedder), questions,
                    llm=True)
    row = rows["all"]
    assert row["llm_asked"] == 2 and row["fallback_rate"] == 0.5
    assert row["removed_rate"] == round(1 / 3, 3)     # 1 removed of 2 kept + 1 removed
    assert row["cite_precision"] == 0.5                # [1] holds "Rome", [2] does not
    assert "cite_precision" in table(rows).splitlines()[0]
    plain = evaluate(_Scripted({"q1": generated, "q2": fallback}, embedder), questions)
    assert "cite_precision" not in plain["all"]


@pytest.mark.slow
def test_eval_llm_against_a_fake_server(tmp_path, monkeypatch):
    """``khabar eval --llm`` end to end; the echoing fake answers with passage [1]'s first
    sentence, so every number here is plumbing, not model quality."""
    from click.testing import CliRunner
    from conftest import SMALL_CORPUS, write_articles
    from fake_llm import MODEL, FakeLLM, Reply

    from khabar.bot.cli import main

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    write_articles(tmp_path / "set" / "corpus", SMALL_CORPUS)
    lines = [
        {"id": "1", "lang": "en", "q": "How many ships were waiting outside the port?",
         "doc": "c.txt", "answers": ["Alexandria"], "answerable": True},
        {"id": "2", "lang": "en", "q": "What is a good recipe for vegetable lasagna?",
         "doc": None, "answers": [], "answerable": False},
    ]
    (tmp_path / "set" / "questions.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    args = ["eval", str(tmp_path / "set"), "--json", "--llm", "--index",
            str(tmp_path / "k" / "index")]
    with FakeLLM(Reply(echo=True)) as fake:
        env = {"KHABAR_LLM": f"openai:{MODEL}", "KHABAR_LLM_BASE_URL": fake.url + "/v1"}
        result = CliRunner().invoke(main, args, env=env)
        assert len(fake.chats()) == 1  # the unanswerable question is abstained on first
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    metrics = payload["metrics"]["all"]
    assert payload["llm"] == f"openai:{MODEL}"
    assert metrics["llm_asked"] == 1 and metrics["fallback_rate"] == 0.0
    assert metrics["removed_rate"] == 0.0 and metrics["cite_precision"] == 1.0
    assert metrics["ans@answer"] == 1.0 and metrics["abstain"] == 1.0
    no_model = CliRunner().invoke(main, args, env={"KHABAR_LLM": ""})
    assert no_model.exit_code == 1 and "--llm needs a model" in no_model.output
