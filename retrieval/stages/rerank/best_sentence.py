"""The best-sentence reranker: Khabar's measured heuristic, the default.

A passage vector averages its sentences, but an answer needs one sentence that matches the
question: the head's passages gain a share of their best sentence's cosine (sentence vectors
are stored at indexing, so this costs no embedding). Then the sentences of the top passages
compete to answer on their cosine, the question words they hold, their passage's rank and, for
how-many and when questions, whether they state a number or a date.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from khabar.retrieval.dates import may_mention, mentions
from khabar.retrieval.index.records import PassageRow, StoredPassage
from khabar.retrieval.stages.rerank.base import Ranking, RerankOptions
from khabar.retrieval.stages.rerank.registry import register
from khabar.retrieval.stages.retrieve import Retrieved, coverage
from khabar.retrieval.types import Candidate, Query, ScoredSentence, Sentence


class BestSentence:
    def __init__(self, options: RerankOptions) -> None:
        self.options = options

    @property
    def depth(self) -> int:
        return max(self.options.depth, self.options.sentence_passages)

    def rerank(self, query: Query, retrieved: Retrieved, k: int) -> Ranking:
        options = self.options
        scored = list(retrieved.candidates)
        # When the asked time has ordered the candidates, dates decide: a sentence's cosine
        # would undo a step of ``date_margin`` as often as not (measured on the time dev set).
        depth = options.depth if options.sentence_weight and not retrieved.time_ranked else 0
        if depth:
            head = {c.passage_id for c in scored[:self.depth]}
            read = [s for s in retrieved.sentences if s.passage_id in head]
            scored = _by_best_sentence(scored, read, query, retrieved.language_pull,
                                       retrieved.rows, depth, options)
        top = scored[:k]
        answering = {c.passage_id for c in top[:options.sentence_passages]}
        sentences = [s for s in retrieved.sentences if s.passage_id in answering]
        return Ranking(tuple(retrieved.hit(c) for c in top),
                       tuple(_score_sentences(query, retrieved, top, sentences, options)))


register("best-sentence", BestSentence)


def _by_best_sentence(scored: list[Candidate], read: list[Sentence], query: Query,
                      shift: dict[str | None, float], rows: dict[int, PassageRow], depth: int,
                      options: RerankOptions) -> list[Candidate]:
    """``scored`` (sorted) with its first ``depth`` re-ranked by each passage's best sentence
    (centred on its language's pull, as its passage is); everything below them stays below."""
    best: dict[int, float] = {}
    if read:
        cosines = np.vstack([s.vector for s in read]) @ query.vector
        for s, cosine in zip(read, cosines, strict=True):
            best[s.passage_id] = max(best.get(s.passage_id, -1.0), float(cosine))
    boosted = []
    for c in scored[:depth]:
        if c.passage_id in best:
            lang = rows[c.passage_id].lang
            c = replace(c, score=c.score + options.sentence_weight * (
                best[c.passage_id] - shift.get(lang, 0.0)))
        boosted.append(c)
    boosted.sort(key=lambda c: c.score, reverse=True)
    return boosted + scored[depth:]


def _score_sentences(query: Query, retrieved: Retrieved, top: list[Candidate],
                     sentences: list[Sentence], options: RerankOptions) -> list[ScoredSentence]:
    """The answer candidates, best first; a sentence quoted twice (a wire story two outlets
    carry) competes once."""
    if not sentences or not top:
        return []
    best = top[0].score
    prior = {c.passage_id: c.score - best for c in top}
    passages = retrieved.passages
    dense = np.vstack([s.vector for s in sentences]) @ query.vector
    candidates: list[ScoredSentence] = []
    seen: set[str] = set()
    for s, d in zip(sentences, dense, strict=True):
        if s.norm in seen:
            continue
        seen.add(s.norm)
        lex = 0.0
        if query.tokens and (options.transliterate
                             or passages[s.passage_id].script == query.script):
            lex = coverage(retrieved.forms, set(s.norm.split()))
        d -= retrieved.language_pull.get(passages[s.passage_id].doc.lang, 0.0)
        score = (float(d) + options.sentence_lexical_weight * lex
                 + options.passage_prior_weight * prior[s.passage_id])
        if query.wants_quantity and states_quantity(s, passages[s.passage_id],
                                                    query.wants_date):
            score += options.numeric_answer_bonus
        candidates.append(ScoredSentence(s.passage_id, s.start, s.end, score))
    candidates.sort(key=lambda s: s.score, reverse=True)
    return candidates


def states_quantity(s: Sentence, p: StoredPassage, wants_date: bool) -> bool:
    """Whether a sentence states what a how-many or when question asks for: a number, or for a
    when-question a date, relative ones included ("الثلاثاء" in an article of 2024-06-19: digits
    alone missed it). Numbers written out ("نحو ساعتين") were measured and left out: they helped
    no dev set and cost three xquad-ar answers (docs/experiments.md)."""
    if any(ch.isdigit() for ch in s.norm):
        return True
    return (wants_date and may_mention(s.norm.split())
            and bool(mentions(p.doc_text[s.start:s.end], p.doc.date)))
