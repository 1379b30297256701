"""A backend added without touching Khabar or the shared test setup: ``toy_backend.py``
registers it by name, and this file runs the suite every backend passes on it."""

from __future__ import annotations

import pytest
import toy_backend
from backend_suite import BackendKit, BackendSuite

from khabar.bot.settings import Settings
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import SettingsError
from khabar.retrieval.index.registry import names, open_backend


def _toy_index(folder):
    return toy_backend.ToyIndex(folder / "index")


def _delete_manifest(engine: Khabar) -> str:
    index = engine.index_dir
    (index.root / index.current_name() / "manifest.json").unlink()
    return "gen-000001, the live generation, is missing"


class TestToyBackend(BackendSuite):
    @pytest.fixture
    def backend_kit(self) -> BackendKit:
        return BackendKit("toy", _toy_index, _delete_manifest)


def test_the_toy_is_chosen_by_name_like_a_built_in(tmp_path, small_corpus, fake_embedder):
    assert names()[-1] == "toy"
    index = open_backend(Settings.load(backend="toy", index_dir=tmp_path / "index"))
    assert isinstance(index, toy_backend.ToyIndex)
    engine = Khabar(index, seeds=small_corpus, embedder=fake_embedder)
    try:
        engine.index()
        assert engine.generation().vectors.kind == "numpy-flat"
        assert engine.ask("How many ships waited outside?").citations[0].doc == "c.txt"
    finally:
        engine.close()
    with pytest.raises(SettingsError, match="choose from local, milvus, toy"):
        Settings.load(backend="toys")
