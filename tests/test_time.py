"""Time in questions: "latest", "آخر", "جدیدترین", "in 2023", "last June" rank the articles
of that time first, among those telling the same story; other questions rank as before."""

from datetime import date
from pathlib import Path

import pytest
from conftest import write_articles

from khabar.retrieval.dates import Period, asked_period, mentions, without_newest_words
from khabar.retrieval.engine import Khabar, Options
from khabar.retrieval.stages.rerank.base import RerankOptions
from khabar.retrieval.stages.retrieve import RetrieveOptions

TODAY = date(2025, 1, 15)


@pytest.mark.parametrize("question, expected", [
    ("What is the latest OPEC decision?", Period(newest=True)),
    ("ما آخر التطورات في قضية الدوابشة؟", Period(newest=True)),
    ("ما الجديد بشأن أوبك؟", Period(newest=True)),
    ("جدیدترین خبر درباره اوپک چیست؟", Period(newest=True)),
    ("What did OPEC decide in 2023?", Period(date(2023, 1, 1), date(2023, 12, 31))),
    ("ماذا قررت أوبك عام 2023؟", Period(date(2023, 1, 1), date(2023, 12, 31))),
    ("اوپک در سال ۱۴۰۲ چه تصمیمی گرفت؟", Period(date(2023, 3, 21), date(2024, 3, 19))),
    ("اوپک در خرداد ۱۴۰۳ چه گفت؟", Period(date(2024, 5, 21), date(2024, 6, 20))),
    ("What did OPEC say in October 2023?", Period(date(2023, 10, 1), date(2023, 10, 31))),
    ("What happened last June?", Period(date(2024, 6, 1), date(2024, 6, 30))),
    ("ماذا حدث في يونيو الماضي؟", Period(date(2024, 6, 1), date(2024, 6, 30))),
    ("What happened yesterday?", Period(date(2025, 1, 14), date(2025, 1, 14))),
    ("امسال چه شد؟", Period(date(2025, 1, 1), TODAY)),
])
def test_time_asked(question, expected):
    assert asked_period(question, TODAY) == expected


@pytest.mark.parametrize("question", [
    "ماذا ينص الاتفاق الجديد؟",                      # "the new treaty", not "what is new"
    "هل زار الرئيس بلداً آخر؟",                       # "آخر" = "another"
    "كم نقطة سجلوا في الدقائق الثلاث الأخيرة؟",        # "the last three minutes"
    "چرا امروزه فرش مهم است؟",                        # "امروزه" = nowadays, not today
    "How many soldiers did the 1500 figure include?",  # not a year of news
])
def test_no_time_asked(question):
    assert asked_period(question, TODAY) is None


def test_newest_words_are_not_searched():
    assert without_newest_words("What is the latest on OPEC?") == "What is the on OPEC?"
    assert without_newest_words("جدیدترین خبر درباره اوپک چیست؟") == "خبر درباره اوپک چیست؟"
    assert without_newest_words("latest") == "latest"  # nothing else to search: kept


def test_article_dates_in_english_word_order():
    assert [m.resolved for m in mentions("The talks last June were long", "2024-11-08")] == [
        "2024-06"]
    assert mentions("امروزه فرش مهم است", "2024-11-08") == []


OPEC = {
    "2023.txt": "Title: OPEC keeps oil output unchanged\nSource: Wire\nDate: 2023-02-10\n\n"
                "OPEC oil ministers agreed in Vienna to keep oil output unchanged, delegates "
                "said after the meeting. Prices rose after the OPEC decision on output.\n",
    "2024.txt": "Title: OPEC extends oil output cuts\nSource: Wire\nDate: 2024-06-02\n\n"
                "OPEC oil ministers agreed in Riyadh to extend oil output cuts into 2025, "
                "delegates said after the meeting. Prices rose after the OPEC decision.\n",
    "football.txt": "Title: Al Hilal win the Super Cup\nSource: Sport\nDate: 2024-09-01\n\n"
                    "Al Hilal beat Al Nassr two goals to one in the Saudi Super Cup final on "
                    "Sunday, the club said after the match.\n",
    "undated.txt": "Title: Harbour reopens after storm\n\nThe port of Alexandria reopened on "
                   "Tuesday after a storm closed it for three days.\n",
}


@pytest.fixture(scope="module")
def opec(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    root = tmp_path_factory.mktemp("opec")
    write_articles(root / "seeds", OPEC)
    Khabar(root / "index", seeds=root / "seeds", embedder=embedder).index()
    return root


def _engine(root: Path, embedder, **options) -> Khabar:
    """``options`` of the retrieve stage, or the reranker's ``sentence_weight``."""
    rerank = {k: options.pop(k) for k in list(options) if k == "sentence_weight"}
    engine = Khabar(root / "index", seeds=root / "seeds", embedder=embedder,
                    options=Options(retrieve=RetrieveOptions(**options),
                                    rerank=RerankOptions(**rerank)))
    engine.clock = lambda: TODAY
    return engine


@pytest.mark.parametrize("question, first, plain_first", [
    ("What is the latest OPEC decision on oil output?", "2024.txt", "2023.txt"),
    ("ما آخر قرار لأوبك بشأن إنتاج النفط؟", "2024.txt", "2024.txt"),
    ("جدیدترین تصمیم اوپک درباره تولید نفت چیست؟", "2024.txt", "2023.txt"),
    ("What did OPEC decide on oil output in 2023?", "2023.txt", "2024.txt"),
    ("ماذا قررت أوبك بشأن إنتاج النفط في فبراير 2023؟", "2023.txt", "2024.txt"),
    ("What did OPEC decide on oil output last June?", "2024.txt", "2023.txt"),
])
def test_the_asked_time_ranks_first(opec: Path, embedder, question, first, plain_first):
    answer = _engine(opec, embedder).ask(question)
    assert answer.citations[0].doc == first, [c.doc for c in answer.citations]
    # The newer article of another story never wins: "latest" ranks within the story.
    assert answer.citations[0].doc != "football.txt"
    # What ranking without the asked time puts first (where it differs, the time decided).
    assert _engine(opec, embedder, dates=False).ask(question).citations[0].doc == plain_first


def test_the_latest_asked_before_carries_into_a_follow_up(opec: Path, embedder):
    engine = _engine(opec, embedder)
    answer = engine.ask("And what did the delegates say?",
                        history=["What is the latest OPEC decision on oil output?"])
    assert answer.citations[0].doc == "2024.txt"
    assert "Riyadh" in answer.answer
    plain = _engine(opec, embedder, dates=False).ask(
        "And what did the delegates say?",
        history=["What is the latest OPEC decision on oil output?"])
    assert plain.citations[0].doc == "2023.txt"


@pytest.mark.parametrize("question", [
    "What did OPEC decide on oil output?",             # no time asked
    "What did OPEC decide on oil output in 2019?",     # a time no article is of
])
def test_without_an_article_of_the_asked_time_ranking_is_unchanged(opec: Path, embedder,
                                                                   question):
    dated = _engine(opec, embedder).ask(question)
    plain = _engine(opec, embedder, dates=False).ask(question)
    assert [(c.doc, c.start, c.score) for c in dated.citations] == [
        (c.doc, c.start, c.score) for c in plain.citations]
    assert dated.answer == plain.answer


def test_the_langchain_retriever_ranks_by_the_asked_time_too(opec: Path, embedder):
    from khabar.retrieval.retriever import KhabarRetriever

    docs = KhabarRetriever(engine=_engine(opec, embedder), k=2).invoke(
        "What is the latest OPEC decision on oil output?")
    assert docs[0].metadata["doc"] == "2024.txt"


@pytest.mark.parametrize("question", [
    "What is the latest OPEC decision on oil output?",
    "What did OPEC decide on oil output in 2023?",
])
def test_when_the_asked_time_ranks_sentences_do_not_reorder(opec: Path, embedder, question):
    # A date step is ``date_margin``; a best sentence's weighted cosine could undo it.
    ranked = _engine(opec, embedder).ask(question)
    by_dates_alone = _engine(opec, embedder, sentence_weight=0.0).ask(question)
    assert [(c.doc, c.start, c.score) for c in ranked.citations] == [
        (c.doc, c.start, c.score) for c in by_dates_alone.citations]
    heavy = _engine(opec, embedder, sentence_weight=5.0).ask(question)
    assert [c.doc for c in heavy.citations] == [c.doc for c in ranked.citations]
