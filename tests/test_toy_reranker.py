"""A reranker added without touching Khabar: ``toy_reranker.py`` is one file that registers
itself by name; the settings accept the name and the engine runs it in its rerank stage."""

from __future__ import annotations

import pytest
import toy_reranker  # noqa: F401  (registers "toy-lexical-first")
from conftest import SEEDS

from khabar.bot.settings import Settings
from khabar.retrieval.engine import Khabar, Options
from khabar.retrieval.errors import SettingsError
from khabar.retrieval.stages.rerank.registry import names

QUESTION = "Which frigate did Kim Jong Un visit in Russia?"


def test_the_toy_is_chosen_by_name_like_the_built_in_one(seeds_index, embedder):
    assert "toy-lexical-first" in names()
    settings = Settings.load(reranker="toy-lexical-first", index_dir=seeds_index, seeds_dir=SEEDS)
    engine = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                    options=Options(reranker=settings.reranker))
    trace = engine.trace(QUESTION)
    hits = trace.ranking.hits
    # Its order, not the default's: the head sorted by lexical score alone.
    assert [h.lexical for h in hits] == sorted((h.lexical for h in hits), reverse=True)
    default = Khabar(seeds_index, seeds=SEEDS, embedder=embedder).trace(QUESTION)
    assert [h.passage_id for h in hits] != [h.passage_id for h in default.ranking.hits]
    # The compose stage quotes the sentences it scored best, as it does the default's.
    answer = engine.ask(QUESTION)
    best = trace.ranking.sentences[0]
    text = engine.article(trace.retrieved.passages[best.passage_id].doc.path).text
    assert answer.found and text[best.start:best.end] in answer.answer


def test_an_unknown_reranker_names_the_choices():
    with pytest.raises(SettingsError, match=r"KHABAR_RERANKER.*best-sentence"):
        Settings.load(reranker="nope")
