"""A mixed-language corpus: e5 pulls a question toward passages in its own language, relevant
or not. The seeds are that case (four Arabic articles, one Persian on the same story), and
their cross-language questions (eval/conv/seeds-questions.jsonl) measure the correction."""

import json
from pathlib import Path

from conftest import ROOT, SEEDS

from khabar.retrieval.engine import Khabar, Options
from khabar.retrieval.normalize import contains
from khabar.retrieval.stages.retrieve import RetrieveOptions

QUESTIONS = ROOT / "eval" / "conv" / "seeds-questions.jsonl"


def _cross_language() -> list[dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    return [q for q in rows if q["kind"] == "cross-lang"]


def _answered(engine: Khabar, questions: list[dict]) -> int:
    return sum(any(contains(engine.ask(q["q"]).answer, key) for key in q["answers"])
               for q in questions)


def test_centring_on_article_languages_answers_across_languages(seeds_index: Path, embedder):
    questions = _cross_language()
    assert len(questions) >= 30
    centred = _answered(Khabar(seeds_index, seeds=SEEDS, embedder=embedder), questions)
    plain = _answered(Khabar(seeds_index, seeds=SEEDS, embedder=embedder, options=Options(
        retrieve=RetrieveOptions(center_languages=False))), questions)
    assert centred / len(questions) >= 0.45, (centred, plain)
    assert centred >= plain + 4, (centred, plain)  # docs/experiments.md has the rows
