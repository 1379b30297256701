"""The index suite (``backend_suite.py``) run against the local backend, SQLite + FAISS; the
other backends run it from their own files (``test_milvus.py``, ``test_toy_backend.py``)."""

from __future__ import annotations

import pytest
from backend_suite import BackendKit, BackendSuite, local_index

from khabar.retrieval.engine import Khabar


def _delete_vectors(engine: Khabar) -> str:
    index = engine.index_dir
    (index.root / index.current_name() / "vectors.faiss").unlink()
    return "vectors.faiss is missing"


class TestLocalBackend(BackendSuite):
    @pytest.fixture
    def backend_kit(self) -> BackendKit:
        return BackendKit("local", local_index, _delete_vectors)
