"""A toy reranker, registered from outside Khabar as any new reranker would be: one module
and one ``register`` call. It orders the top passages by their lexical score alone and scores
each answer sentence by the share of the question's words it holds, so its choices differ
visibly from the default's."""

from __future__ import annotations

from khabar.retrieval.stages.rerank.base import Ranking, RerankOptions
from khabar.retrieval.stages.rerank.registry import register
from khabar.retrieval.stages.retrieve import Retrieved, coverage
from khabar.retrieval.types import Query, ScoredSentence


class LexicalFirst:
    def __init__(self, options: RerankOptions) -> None:
        self.options = options

    @property
    def depth(self) -> int:
        return self.options.depth

    def rerank(self, query: Query, retrieved: Retrieved, k: int) -> Ranking:
        head = sorted(retrieved.candidates[:self.depth], key=lambda c: -c.lexical)
        top = (head + list(retrieved.candidates[self.depth:]))[:k]
        answering = {c.passage_id for c in top[:self.options.sentence_passages]}
        sentences = [ScoredSentence(s.passage_id, s.start, s.end,
                                    coverage(retrieved.forms, set(s.norm.split())))
                     for s in retrieved.sentences if s.passage_id in answering]
        sentences.sort(key=lambda s: -s.score)
        return Ranking(tuple(retrieved.hit(c) for c in top), tuple(sentences))


register("toy-lexical-first", LexicalFirst)
