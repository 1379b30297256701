"""The rerank stage's interface: what every reranker is handed and what it returns.

A reranker reads the head of the retrieved candidates together with their sentences and
decides two things the answer rests on: the order of the passages, and which sentences answer
the question. It is handed everything it may read (``Retrieved``: the candidates, their stored
passages and sentences with vectors, the question's lexical evidence) and reads nothing else,
so it can be tested on fixed inputs and swapped by name (``registry.py``). This module imports
no reranker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from khabar.retrieval.stages.retrieve import Retrieved
from khabar.retrieval.types import Hit, Query, ScoredSentence


@dataclass(frozen=True, slots=True)
class RerankOptions:
    """What every reranker is told; every default was measured (docs/experiments.md)."""

    # The leading candidates whose order the reranker may change: everything below stays below.
    depth: int = 10
    # The top passages whose sentences compete to answer.
    sentence_passages: int = 3
    # best-sentence: a passage vector averages its sentences, and one sentence that matches
    # the question is what an answer needs; the head's passages gain ``sentence_weight`` times
    # their best (centred) sentence cosine. 0 keeps the retrieved order (``passages-only``).
    sentence_weight: float = 0.5
    # best-sentence: a sentence scores its cosine, plus this share of the question's words it
    # holds, plus ``passage_prior_weight`` times its passage's score gap to the first hit.
    sentence_lexical_weight: float = 0.08
    passage_prior_weight: float = 1.0
    # "How many / when / كم / متى / چند ..." questions want a number or a date: sentences that
    # state one get this bonus. Helped every dev set, most the cross-lingual one.
    numeric_answer_bonus: float = 0.03
    # A sentence's word overlap counts names and numbers across scripts.
    transliterate: bool = True


@dataclass(frozen=True, slots=True)
class Ranking:
    """The rerank stage's output: the top ``k`` passages in their final order, and the answer
    candidates (sentences of the top ``sentence_passages`` of them), best first."""

    hits: tuple[Hit, ...]
    sentences: tuple[ScoredSentence, ...]


class Reranker(Protocol):
    """One method. ``depth`` says how many leading candidates it reads, so the retrieve stage
    reads their passages and sentences in the same pass as the rest."""

    @property
    def depth(self) -> int: ...

    def rerank(self, query: Query, retrieved: Retrieved, k: int) -> Ranking:
        """The top ``k`` of ``retrieved`` in answer order, with the scored answer sentences."""
        ...
