"""FAISS vector index over passage vectors, keyed by passage id.

Vectors are unit length, so inner product is cosine. Exact search (``flat``) is used while it
is fast; past ``HNSW_FROM`` vectors the index switches to HNSW, whose recall against exact search
is measured by ``khabar bench``. The chosen kind is recorded in the generation's manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

HNSW_FROM = 50_000
_HNSW_M = 32
_HNSW_EF_CONSTRUCTION = 80
_HNSW_EF_SEARCH = 96
# HNSW cannot delete; removed passages stay in the graph (search skips ids the store no
# longer has, and ids are never reused) until they are this share of it, then it is rebuilt.
_MAX_STALE_SHARE = 0.10


def kind_for(count: int) -> str:
    return "hnsw" if count >= HNSW_FROM else "flat"


class VectorIndex:
    """A thin, typed wrapper so nothing else imports faiss."""

    def __init__(self, index: object, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def build(cls, dim: int, batches: Iterable[tuple[np.ndarray, np.ndarray]], count: int,
              kind: str | None = None) -> VectorIndex:
        import faiss

        kind = kind or kind_for(count)
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        elif kind == "flat":
            inner = faiss.IndexFlatIP(dim)
        else:
            raise ValueError(f"Invalid vector index kind: {kind!r}. Choose from 'flat', 'hnsw'.")
        index = faiss.IndexIDMap2(inner)
        for ids, vecs in batches:
            index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        built = cls(index, kind)
        built._tune()
        return built

    def update(self, removed: Sequence[int], added: Iterable[tuple[np.ndarray, np.ndarray]],
               live: int) -> bool:
        """Apply an incremental change in place; False means "rebuild instead".

        This is what makes adding one article to a big index cost about one article: the
        previous generation's vectors are reused instead of re-read and re-indexed.
        """
        if removed and self.kind == "flat":
            self._index.remove_ids(np.asarray(removed, dtype=np.int64))
        for ids, vecs in added:
            self._index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        if self.kind == "flat":
            return self.size == live
        return self.size - live <= _MAX_STALE_SHARE * max(live, 1)

    @classmethod
    def load(cls, path: Path, kind: str) -> VectorIndex:
        import faiss

        loaded = cls(faiss.read_index(str(path)), kind)
        loaded._tune()
        return loaded

    def _tune(self) -> None:
        if self.kind == "hnsw":
            import faiss

            faiss.downcast_index(self._index.index).hnsw.efSearch = _HNSW_EF_SEARCH

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
