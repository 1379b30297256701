"""A toy index backend, registered from outside Khabar as any third backend would be.

It keeps the local backend's layout and semantics (the SQLite store, generations, the lock)
and answers dense search with a plain numpy scan over the vectors the store holds, instead of
FAISS. The local writer still writes its FAISS file, which the toy never reads: the point is
the seam (a backend registered by name, passing the suite), not a second vector engine.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from khabar.retrieval.config import EngineConfig
from khabar.retrieval.index.backend import Generation
from khabar.retrieval.index.generations import IndexDir
from khabar.retrieval.index.registry import register


class NumpyVectors:
    """Exact inner-product search over every passage vector, held in one matrix."""

    kind = "numpy-flat"

    def __init__(self, batches) -> None:
        pairs = list(batches)
        self.ids = np.concatenate([ids for ids, _ in pairs]) if pairs else np.zeros(0, np.int64)
        self.matrix = np.vstack([v for _, v in pairs]) if pairs else np.zeros((0, 1), np.float32)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores = self.matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


class ToyIndex(IndexDir):
    """The local layout, searched by numpy."""

    def open(self, embedder_spec: str, dim: int | None = None) -> Generation:
        generation = super().open(embedder_spec, dim)
        vectors = NumpyVectors(generation.store.iter_vectors(generation.manifest.dim))
        return replace(generation, vectors=vectors)

    def sibling(self, directory: Path, name: str) -> ToyIndex:
        return ToyIndex(directory / name)

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "KHABAR_BACKEND": "toy"}


def _open(settings: EngineConfig) -> ToyIndex:
    return ToyIndex(settings.index_dir)


register("toy", _open)
