"""Question words the corpus never uses are read as its nearest corpus terms: an English
question over Arabic articles then has words to match (airport -> مطار)."""

import logging
from pathlib import Path

import pytest
from conftest import write_articles

from khabar.retrieval.engine import Khabar
from khabar.retrieval.lexicon import Lexicon, worth_a_vector
from khabar.retrieval.normalize import tokens

ARABIC = "مطار طائرة زلزال ضحايا وزير اتفاقية مفاوضات انتخابات مستشفى شرطة"
# Each English word with the corpus term it must be read as (among its neighbours).
READINGS = {"airport": "مطار", "earthquake": "زلزال", "minister": "وزير", "hospital": "مستشفي",
            "police": "شرطه", "elections": "انتخابات", "negotiations": "مفاوضات"}


@pytest.mark.parametrize("term, worth", [
    ("مطار", True), ("airport", True), ("في", False), ("the", False), ("2024", False),
    ("ab", False), ("x1", False),
])
def test_only_words_get_vectors(term, worth):
    assert worth_a_vector(term) is worth


def test_english_words_are_read_as_arabic_corpus_terms(tmp_path: Path, embedder):
    lexicon = Lexicon(tmp_path, embedder)
    terms = tokens(ARABIC)
    assert lexicon.add(terms) == len(terms)
    assert lexicon.add(terms) == 0  # already there: nothing embedded again
    read = lexicon.nearest(list(READINGS), 2)
    for word, arabic in READINGS.items():
        assert arabic in read[word], (word, read[word])
    assert lexicon.nearest(["في", "2024"], 2) == {}


def test_a_damaged_lexicon_is_started_again(tmp_path: Path, embedder, caplog):
    lexicon = Lexicon(tmp_path, embedder)
    lexicon.path.write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.WARNING):
        assert lexicon.add(tokens("مطار زلزال")) == 2
    assert "lexicon_damaged_recreated" in caplog.text
    assert "مطار" in lexicon.nearest(["airport"], 2)["airport"]


def test_without_vectors_nothing_is_read(tmp_path: Path, embedder):
    assert Lexicon(tmp_path, embedder).nearest(["airport"], 2) == {}


def test_indexing_fills_the_lexicon_and_questions_use_it(tmp_path: Path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, {
        "a.txt": "إغلاق المطار\n\nأغلقت السلطات المطار بعد الزلزال. وقال وزير النقل إن المطار "
                 "سيفتح غدا.\n",
        "b.txt": "رحلات ملغاة\n\nألغت شركات الطيران رحلاتها إلى المطار. وقال الوزير إن الزلزال "
                 "لم يلحق أضرارا بالمدرج.\n",
    })
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    report = engine.index()
    assert report.words > 0 and "new words for cross-language lookups" in report.summary()
    assert engine.index().words == 0  # nothing new to embed
    query = engine.trace("When will the airport reopen after the earthquake in Cairo?").query
    assert "مطار" in query.read_as["airport"]
    assert "cairo" not in query.read_as  # a name: spelled across scripts by translit instead
    assert "مطار" not in engine.trace("متى يفتح المطار؟").query.read_as  # the corpus has it
    # A vector the live index has no use for (a run killed before publishing wrote it) is
    # passed over: what a question is read as depends on the live index alone.
    (ghost,) = tokens("طائرة")
    engine.lexicon.add([ghost])
    assert ghost in engine.lexicon.nearest(["aircraft"], 3)["aircraft"]
    assert ghost not in engine.trace("Did the aircraft land?").query.read_as["aircraft"]


def test_a_folder_name_with_uri_characters_is_read(tmp_path: Path, embedder):
    lexicon = Lexicon(tmp_path / "news #1? 100%", embedder)
    lexicon.add(tokens("مطار زلزال"))
    assert "مطار" in lexicon.nearest(["airport"], 2)["airport"]
