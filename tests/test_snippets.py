"""A citation's snippet is a window of at most ``SNIPPET_CHARS`` of its passage, around the
answer sentence: a reader sees it as quoted text, so it must open and close on whole words."""

from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.records import DocMeta, StoredPassage
from khabar.retrieval.normalize import normalize
from khabar.retrieval.stages.compose import SNIPPET_CHARS, _snippet_span
from khabar.retrieval.types import ScoredSentence

_OPENING = ("أكد الرئيس الروسي أن مسألة تقديم المساعدة العسكرية المتبادلة بين البلدين مسألة "
            "سيادية تخص البلدين حصراً وأن أي قرار بشأنها يعود إليهما وحدهما دون غيرهما. ")


def _passage(text: str) -> StoredPassage:
    meta = DocMeta("a.txt", None, None, None, None, "ar")
    return StoredPassage(1, meta, 0, len(text), text, normalize(text), "arabic", text)


def test_a_window_pulled_back_from_a_late_answer_opens_on_a_word():
    answer = "ونقلت وكالة سبوتنيك عن بوتين قوله في مقابلة مع قناة روسيا 1 إن القرار سيادي."
    text = _OPENING * 5 + answer
    assert len(text) > SNIPPET_CHARS
    focus = ScoredSentence(1, text.index(answer), len(text), 1.0)
    start, end = _snippet_span(_passage(text), focus)
    # The window is pulled back from the passage's end to hold SNIPPET_CHARS; its first
    # character follows a space, so no word is cut in two ("تبادلة" of "المتبادلة").
    assert 0 < start <= focus.start and end == len(text)
    assert text[start - 1].isspace() and not text[start].isspace()
    assert end - start <= SNIPPET_CHARS


def test_a_window_at_the_answer_is_left_where_it_is():
    text = _OPENING * 8
    focus = ScoredSentence(1, len(_OPENING), 2 * len(_OPENING), 1.0)
    start, end = _snippet_span(_passage(text), focus)
    assert start == focus.start
    assert end - start <= SNIPPET_CHARS and text[end].isspace()


def test_every_seed_snippet_is_whole_words(seeds_engine: Khabar):
    questions = ["ما هي المادة الرابعة من الاتفاقية؟", "Which channel interviewed Putin?",
                 "پوتین در مصاحبه با کدام شبکه صحبت کرد؟", "When did Putin visit Pyongyang?",
                 "ماذا قال كيم جونغ أون عن روسيا؟"]
    seen = 0
    for question in questions:
        for c in seeds_engine.ask(question).citations:
            article = seeds_engine.article(c.doc)
            text = article.text
            assert text[c.start:c.end] == c.snippet
            # A passage may begin where boilerplate glued to it was cut off ("أخبار ذات
            # صلةقال"); inside the passage, the window's edges fall between words.
            span = next((a, b) for a, b in article.passages if a <= c.start and c.end <= b)
            assert c.start == span[0] or not (text[c.start - 1].isalnum()
                                               and text[c.start].isalnum())
            assert c.end == span[1] or not (text[c.end - 1].isalnum() and text[c.end].isalnum())
            seen += 1
    assert seen >= len(questions)
