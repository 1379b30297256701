"""How-many and when questions want a sentence that states a number or a date, and news gives
dates relative to the article's own ("الثلاثاء", "yesterday") as often as in digits."""

import numpy as np
import pytest

from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.records import DocMeta, StoredPassage
from khabar.retrieval.normalize import normalize, tokens
from khabar.retrieval.stages.rerank.best_sentence import states_quantity
from khabar.retrieval.types import Sentence


def _sentence(text: str, published: str | None = "2024-06-19") -> tuple[Sentence, StoredPassage]:
    meta = DocMeta("a.txt", None, published, None, None, None)
    passage = StoredPassage(1, meta, 0, len(text), text, normalize(text), "arabic", text)
    return Sentence(1, 0, len(text), " ".join(tokens(text)), np.zeros(4)), passage


@pytest.mark.parametrize("text", [
    "قتل 12 شخصا في الانفجار.",
    "بلغ عدد الضحايا ۱۵ نفر.",
    "The port was closed for 3 days.",
])
def test_numbers_count_in_any_digits(text):
    assert states_quantity(*_sentence(text), wants_date=False)


@pytest.mark.parametrize("text", [
    "One of the leaders spoke to reporters.",
    "یکی از رهبران با خبرنگاران صحبت کرد.",
    "وصل بوتين إلى كوريا الشمالية الثلاثاء في زيارة رسمية.",
])
def test_no_number_no_bonus_for_a_how_many_question(text):
    assert not states_quantity(*_sentence(text), wants_date=False)


@pytest.mark.parametrize("text", [
    "وصل بوتين إلى كوريا الشمالية الثلاثاء في زيارة رسمية.",
    "The minister arrived yesterday.",
    "پوتین دیروز به پیونگ یانگ رسید.",
])
def test_a_relative_date_answers_a_when_question(text):
    assert states_quantity(*_sentence(text), wants_date=True)


def test_a_relative_date_needs_the_articles_date():
    assert not states_quantity(*_sentence("The minister arrived yesterday.", None),
                                wants_date=True)


def test_the_issues_when_question_states_the_day(seeds_engine: Khabar):
    answer = seeds_engine.ask("When did Putin visit Pyongyang?")
    assert answer.found and "2024-06-18" in answer.answer  # "الثلاثاء", in an article of 06-19
