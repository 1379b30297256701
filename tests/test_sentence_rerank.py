"""The head of the ranking re-ranked by each passage's best sentence (``SearchOptions``)."""

from __future__ import annotations

import numpy as np

from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.records import PassageRow
from khabar.retrieval.search import SearchOptions, _by_best_sentence
from khabar.retrieval.types import Query, Sentence

OPTIONS = SearchOptions(sentence_rerank=2, sentence_weight=0.25)


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _rows(langs: dict[int, str]) -> dict[int, PassageRow]:
    return {pid: PassageRow(pid, "", "latin", lang) for pid, lang in langs.items()}


QUERY = Query("q", _unit(1, 0, 0), frozenset(), "latin", "en")
# Passage 1 scores higher as a whole, but none of its sentences is about the question;
# passage 2 holds one sentence that is; passage 3 is below the re-ranked head.
SCORED = [(0.80, 0.80, 0.0, 1), (0.78, 0.78, 0.0, 2), (0.70, 0.70, 0.0, 3)]
READ = [Sentence(1, 0, 5, "a", _unit(1, 1, 0)), Sentence(2, 0, 5, "b", _unit(0, 1, 0)),
        Sentence(2, 6, 9, "c", _unit(1, 0, 0)), Sentence(3, 0, 5, "d", _unit(1, 0, 0))]


def test_a_passage_with_a_sentence_on_the_question_rises_within_the_head():
    out = _by_best_sentence(SCORED, READ, QUERY, {}, _rows({1: "en", 2: "en", 3: "en"}),
                            OPTIONS)
    assert [s[3] for s in out] == [2, 1, 3]
    assert abs(out[0][0] - (0.78 + 0.25 * 1.0)) < 1e-6
    # Below the head nothing moves, however good its sentences (passage 3's is exact).
    assert out[2] == SCORED[2]


def test_a_sentence_is_centred_on_its_languages_pull_like_its_passage():
    # The question is pulled 0.3 toward Persian passages: passage 2's exact sentence, in
    # Persian, counts 0.7, which no longer beats passage 1.
    out = _by_best_sentence(SCORED, READ, QUERY, {"fa": 0.3, "en": 0.0},
                            _rows({1: "en", 2: "fa", 3: "en"}), OPTIONS)
    assert [s[3] for s in out] == [1, 2, 3]


def test_the_answer_stage_gets_the_sentences_of_the_top_hits_only(seeds_engine: Khabar):
    service = seeds_engine.service
    result = service.search(service.query("Which frigate did Kim Jong Un visit in Russia?"))
    top = {h.passage_id for h in result.hits[:SearchOptions().sentence_passages]}
    assert result.sentences
    assert {s.passage_id for s in result.sentences} == top
    # Stored order, as the answer stage reads them.
    assert [s.start for s in result.sentences if s.passage_id == result.hits[0].passage_id] == \
        sorted(s.start for s in result.sentences if s.passage_id == result.hits[0].passage_id)
