"""FAISS vector index over passage vectors, keyed by passage id.

Vectors are unit length, so inner product is cosine. Exact search (``flat``) is used while it
is fast; from ``APPROXIMATE_FROM`` vectors the index switches to ``ivf``: an inverted file whose
lists hold 4-bit product-quantised codes scanned with SIMD (FAISS "fast scan"), followed by an
exact re-rank of the best candidates against the full vectors. Measured at 100,000 passages on
two cores (``docs/performance.md``): exact search costs ~9 ms a question, bound by memory
bandwidth; HNSW needed ~5-7 ms to reach recall@10 0.98, because e5 question vectors lie away from
the passage vectors its graph was built on; ``ivf`` reaches it in ~1.5 ms.

How wide the approximate search must be depends on the data and the questions, so after every
full build the index measures recall@10 against exact search on question-like probes and keeps
the cheapest setting that reaches ``RECALL_TARGET``. Kind, setting and measured recall are
recorded in the generation's manifest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

APPROXIMATE_FROM = 50_000
RECALL_TARGET = 0.98
# (lists probed, candidates re-ranked exactly), cheapest first.
_LADDER = ((32, 480), (64, 960), (96, 1440), (128, 1920), (192, 2880), (256, 3840))
_DEFAULT_SETTING = (96, 1440)
_TRAIN_SAMPLE = 65_536
# Removed passages stay in an approximate index (search skips ids the store no longer has, and
# ids are never reused) until they are this share of it; then, or once it has doubled since
# its lists were trained, it is rebuilt.
_MAX_STALE_SHARE = 0.10
_MAX_GROWTH = 2.0


def kind_for(count: int) -> str:
    return "ivf" if count >= APPROXIMATE_FROM else "flat"


def _lists_for(count: int) -> int:
    """About 0.8 x sqrt(n) inverted lists, a power of two (256 at 100,000 vectors), and never
    so many that a list is trained on fewer than ~40 vectors."""
    lists = 2 ** max(4, round(math.log2(max(1.0, 0.8 * math.sqrt(count)))))
    return max(1, min(lists, count // 40))


class VectorIndex:
    """A thin, typed wrapper so nothing else imports faiss."""

    def __init__(self, index: object, kind: str, setting: Sequence[int] | None = None,
                 recall_at_10: float | None = None, trained_on: int | None = None) -> None:
        self._index = index
        self.kind = kind
        self.setting: tuple[int, ...] | None = None
        if kind == "ivf":
            self.setting = tuple(setting) if setting else _DEFAULT_SETTING
        self.recall_at_10 = recall_at_10
        self.trained_on = trained_on

    def describe(self) -> dict:
        """What a generation's manifest records of this index, under the manifest's names
        (``load`` takes them back)."""
        return {"vector_index": self.kind,
                "vector_setting": list(self.setting) if self.setting else None,
                "recall_at_10": self.recall_at_10, "vectors_trained_on": self.trained_on}

    @classmethod
    def build(cls, dim: int, batches: Iterable[tuple[np.ndarray, np.ndarray]], count: int,
              kind: str | None = None) -> VectorIndex:
        import faiss

        kind = kind or kind_for(count)
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            for ids, vecs in batches:
                index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
            return cls(index, kind)
        if kind != "ivf":
            raise ValueError(f"Invalid vector index kind: {kind!r}. Choose from 'flat', 'ivf'.")
        # Training needs the vectors in memory once; they are the index's own storage anyway.
        parts = list(batches)
        ids = np.concatenate([i for i, _ in parts])
        vecs = np.ascontiguousarray(np.concatenate([v for _, v in parts]), dtype=np.float32)
        inner = faiss.index_factory(dim, f"IVF{_lists_for(len(vecs))},PQ{dim // 2}x4fs,RFlat",
                                    faiss.METRIC_INNER_PRODUCT)
        step = max(1, len(vecs) // _TRAIN_SAMPLE)
        inner.train(vecs[::step])
        index = faiss.IndexIDMap2(inner)
        index.add_with_ids(vecs, ids)
        return cls(index, kind, trained_on=len(vecs))

    def tune(self, probes: np.ndarray, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Keep the cheapest setting whose recall@10 on ``probes`` reaches the target.

        ``batches`` stream every stored (ids, vectors) once to compute the exact answers; if no
        setting reaches the target, the widest is kept and its measured recall recorded.
        """
        if self.kind == "flat" or len(probes) == 0:
            return
        exact = exact_top(probes, batches, 10)
        for setting in _LADDER:
            self.setting = setting
            self.recall_at_10 = recall(self, probes, exact)
            if self.recall_at_10 >= RECALL_TARGET:
                break

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
        fresh = self.trained_on is not None and live <= _MAX_GROWTH * self.trained_on
        return fresh and self.size - live <= _MAX_STALE_SHARE * max(live, 1)

    @classmethod
    def load(cls, path: Path, vector_index: str, vector_setting: Sequence[int] | None = None,
             recall_at_10: float | None = None,
             vectors_trained_on: int | None = None) -> VectorIndex:
        import faiss

        return cls(faiss.read_index(str(path)), vector_index, vector_setting, recall_at_10,
                   vectors_trained_on)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        import faiss

        # One question is too little work to split, and FAISS's OpenMP team would fight the
        # embedder's (still spinning from the query just embedded) for the two cores: at
        # 100,000 passages, p50 2.2 ms either way but p90 2.6 ms on one thread, 10 ms on two.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        k = min(k, self.size)
        params = None
        if self.setting is not None:
            probe, rerank = self.setting
            params = faiss.IndexRefineSearchParameters(
                k_factor=max(1.0, rerank / k),
                base_index_params=faiss.SearchParametersIVF(nprobe=probe),
            )
        try:
            scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k,
                                             params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def exact_top(queries: np.ndarray, batches: Iterable[tuple[np.ndarray, np.ndarray]],
              k: int) -> list[set[int]]:
    """The ids of each query's ``k`` nearest vectors by exact search, streaming the vectors."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for ids, vecs in batches:
        scores = np.hstack([best_scores, queries @ vecs.T])
        all_ids = np.hstack([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))])
        top = np.argsort(-scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
    return [set(row.tolist()) for row in best_ids]


def recall(index: VectorIndex, queries: np.ndarray, exact: list[set[int]]) -> float:
    """Mean share of the exact top 10 that ``index`` returns in its own top 10."""
    found = sum(len(exact[i] & {pid for pid, _ in index.search(q, 10)})
                for i, q in enumerate(queries))
    return round(found / max(1, sum(len(e) for e in exact)), 4)
