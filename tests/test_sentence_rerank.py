"""The head of the ranking re-ranked by each passage's best sentence (the ``best-sentence``
reranker, ``RerankOptions``)."""

from __future__ import annotations

import numpy as np

from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.records import PassageRow
from khabar.retrieval.stages.rerank.base import RerankOptions
from khabar.retrieval.stages.rerank.best_sentence import _by_best_sentence
from khabar.retrieval.types import Candidate, Query, Sentence

OPTIONS = RerankOptions(depth=2, sentence_weight=0.25)


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _rows(langs: dict[int, str]) -> dict[int, PassageRow]:
    return {pid: PassageRow(pid, "", "latin", lang) for pid, lang in langs.items()}


QUERY = Query("q", _unit(1, 0, 0), frozenset(), "latin", "en")
# Passage 1 scores higher as a whole, but none of its sentences is about the question;
# passage 2 holds one sentence that is; passage 3 is below the re-ranked head.
SCORED = [Candidate(1, 0.80, 0.80, 0.0), Candidate(2, 0.78, 0.78, 0.0),
          Candidate(3, 0.70, 0.70, 0.0)]
READ = [Sentence(1, 0, 5, "a", _unit(1, 1, 0)), Sentence(2, 0, 5, "b", _unit(0, 1, 0)),
        Sentence(2, 6, 9, "c", _unit(1, 0, 0)), Sentence(3, 0, 5, "d", _unit(1, 0, 0))]


def test_a_passage_with_a_sentence_on_the_question_rises_within_the_head():
    out = _by_best_sentence(SCORED, READ, QUERY, {}, _rows({1: "en", 2: "en", 3: "en"}),
                            OPTIONS.depth, OPTIONS)
    assert [c.passage_id for c in out] == [2, 1, 3]
    assert abs(out[0].score - (0.78 + 0.25 * 1.0)) < 1e-6
    # Below the head nothing moves, however good its sentences (passage 3's is exact).
    assert out[2] == SCORED[2]


def test_a_sentence_is_centred_on_its_languages_pull_like_its_passage():
    # The question is pulled 0.3 toward Persian passages: passage 2's exact sentence, in
    # Persian, counts 0.7, which no longer beats passage 1.
    out = _by_best_sentence(SCORED, READ, QUERY, {"fa": 0.3, "en": 0.0},
                            _rows({1: "en", 2: "fa", 3: "en"}), OPTIONS.depth, OPTIONS)
    assert [c.passage_id for c in out] == [1, 2, 3]


def test_the_answer_stage_gets_the_sentences_of_the_top_hits_only(seeds_engine: Khabar):
    trace = seeds_engine.trace("Which frigate did Kim Jong Un visit in Russia?")
    hits, read = trace.ranking.hits, trace.retrieved.sentences
    top = {h.passage_id for h in hits[:RerankOptions().sentence_passages]}
    assert trace.ranking.sentences
    assert {s.passage_id for s in trace.ranking.sentences} == top
    # Stored order, as the rerank stage reads them.
    assert [s.start for s in read if s.passage_id == hits[0].passage_id] == \
        sorted(s.start for s in read if s.passage_id == hits[0].passage_id)
