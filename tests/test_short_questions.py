"""Short questions ("من هو X؟", "X کیست؟", "Who is X?") score lower cosines against long passages
than long questions do, so the evidence bar for them was too high: a passage that holds every
word of the question lowers it (``Retrieved.covered``, ``ComposeOptions.covered_below``)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import SEEDS

from khabar.retrieval.engine import Khabar, Options
from khabar.retrieval.normalize import FUSED_QUESTION_WORDS, STOPWORDS, tokens
from khabar.retrieval.stages.compose import ComposeOptions

PESKOV = "من هو دميتري بيسكوف؟"


def _searched(engine: Khabar, question: str) -> SimpleNamespace:
    trace = engine.trace(question)
    return SimpleNamespace(covered=trace.retrieved.covered(trace.ranking.hits[0].passage_id),
                           unseen=trace.retrieved.unseen)


@pytest.mark.parametrize("question", [PESKOV, "ما هو فوستوشني؟", "فوستوشني چیست؟"])
def test_a_short_question_about_what_an_article_names_is_answered(seeds_engine, question):
    answer = seeds_engine.ask(question)
    assert _searched(seeds_engine, question).covered
    assert answer.found and answer.citations


def test_peskov_is_answered_with_his_role(seeds_engine):
    assert "السكرتير الصحفي" in seeds_engine.ask(PESKOV).answer


@pytest.mark.parametrize("question", ["کیم جونگ اون کیست؟", "تاس چیست؟", "استیو ویتکاف کیست؟"])
def test_persian_who_and_what_questions_about_names_the_articles_hold(seeds_engine, question):
    # "کیست" asks, as "who is" does: it is no word the corpus fails to cover. "جونگ" is the
    # Arabic articles' "جونغ", however short, and "استیو" (و for "v") their "ستيف".
    searched = _searched(seeds_engine, question)
    assert searched.unseen == 0.0
    assert seeds_engine.ask(question).found


def test_without_the_lower_bar_the_same_question_was_declined(seeds_index: Path, embedder):
    strict = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                    options=Options(compose=ComposeOptions(covered_below=1.0)))
    assert not strict.ask(PESKOV).found


@pytest.mark.parametrize("question", [
    "من هو نجيب محفوظ؟",            # no article names him
    "دیمیتری مدودف کیست؟",          # another Dmitry of the same government
    "من هو سيرغي شويغو؟",           # another Russian minister
    "من هو دميتري بيسكوف الطباخ؟",  # a word no passage holds beside the name
])
def test_a_short_question_about_someone_absent_is_declined(seeds_engine, question):
    assert not _searched(seeds_engine, question).covered
    assert not seeds_engine.ask(question).found


def test_the_lexicons_readings_never_cover_a_question(seeds_engine):
    # "press" and "secretary" are read as Arabic terms for ranking; they are still words the
    # articles never use, so nothing holds "every word of the question".
    assert not _searched(seeds_engine, "Who is the press secretary?").covered


def test_persian_question_words_with_is_fused_on_are_not_the_subject():
    for question, subject in [("پوتین کیست؟", {"پوتين"}), ("فوستوشني چیست؟", {"فوستوشني"}),
                              ("زاهدان کجاست؟", {"زاهدان"})]:
        assert set(tokens(question)) - STOPWORDS - FUSED_QUESTION_WORDS == subject
