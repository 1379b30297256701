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

A generation's vectors are two files: the base (``vectors.faiss``) and the vectors added since
it was written (``vectors-new.faiss``, exact). A small update writes only the second and hard-
links the first from the previous generation, so adding one article to 100,000 passages writes
kilobytes, not hundreds of megabytes. Removed passages stay in the files as tombstones (search
skips ids the store no longer has, ``stages.retrieve``); once the added or the removed vectors
pass a tenth of the index, the next update writes a fresh base.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from khabar.embeddings.base import Embedder
    from khabar.retrieval.index.store import Store

APPROXIMATE_FROM = 50_000
RECALL_TARGET = 0.98
# (lists probed, candidates re-ranked exactly), cheapest first.
_LADDER = ((32, 480), (64, 960), (96, 1440), (128, 1920), (192, 2880), (256, 3840))
_DEFAULT_SETTING = (96, 1440)
_TRAIN_SAMPLE = 65_536
# Removed passages stay in the index (search skips ids the store no longer has, and ids are
# never reused) until they are this share of it; then, or once an approximate index has doubled
# since its lists were trained, it is rebuilt.
_MAX_STALE_SHARE = 0.10
_MAX_GROWTH = 2.0
# Added vectors wait in the small file until they are this share of the base (or this many);
# then they are folded into a new base.
_MAX_NEW_SHARE = 0.10
_MIN_NEW_FOLD = 2048
BASE_FILE = "vectors.faiss"
NEW_FILE = "vectors-new.faiss"


def kind_for(count: int) -> str:
    return "ivf" if count >= APPROXIMATE_FROM else "flat"


def _lists_for(count: int) -> int:
    """About 0.8 x sqrt(n) inverted lists, a power of two (256 at 100,000 vectors), and never
    so many that a list is trained on fewer than ~40 vectors."""
    lists = 2 ** max(4, round(math.log2(max(1.0, 0.8 * math.sqrt(count)))))
    return max(1, min(lists, count // 40))


class VectorIndex:
    """A thin, typed wrapper so nothing else imports faiss: a base index, the vectors added
    since (exact, usually few), and how many of their ids are tombstones."""

    def __init__(self, base: object | None, kind: str, setting: Sequence[int] | None = None,
                 recall_at_10: float | None = None, trained_on: int | None = None, *,
                 dim: int, new: object | None = None, stale: int = 0,
                 base_file: Path | None = None, base_size: int | None = None) -> None:
        self._base = base
        self._new = new
        self.dim = dim
        self.kind = kind
        self.setting: tuple[int, ...] | None = None
        if kind == "ivf":
            self.setting = tuple(setting) if setting else _DEFAULT_SETTING
        self.recall_at_10 = recall_at_10
        self.trained_on = trained_on
        self.stale = stale
        # A base read from (or linked to) a published file and not changed since: ``save``
        # links that file instead of writing it again. Its size is known without reading it.
        self._base_file = base_file
        self._base_size = base_size if base is None else int(base.ntotal)

    def describe(self) -> dict:
        """What a generation's manifest records of this index, under the manifest's names
        (``load`` takes them back)."""
        return {"vector_index": self.kind,
                "vector_setting": list(self.setting) if self.setting else None,
                "recall_at_10": self.recall_at_10, "vectors_trained_on": self.trained_on,
                "vectors_base": self.base_size, "vectors_stale": self.stale}

    @classmethod
    def build(cls, dim: int, batches: Iterable[tuple[np.ndarray, np.ndarray]], count: int,
              kind: str | None = None) -> VectorIndex:
        import faiss

        kind = kind or kind_for(count)
        if kind == "flat":
            index = _flat(dim)
            for ids, vecs in batches:
                index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
            return cls(index, kind, dim=dim)
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
        return cls(index, kind, trained_on=len(vecs), dim=dim)

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
        """Apply an incremental change; False means "rebuild instead".

        This is what makes adding one article to a big index cost about one article: added
        vectors go to the small index of new ones, removed ids become tombstones, and the base
        is neither read nor written until the new vectors are worth folding into it.
        """
        if self._new is None:
            self._new = _flat(self.dim)
        for ids, vecs in added:
            self._new.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        self.stale += len(removed)
        if self.stale > _MAX_STALE_SHARE * max(live, 1):
            return False
        if self.kind == "ivf" and not (self.trained_on and live <= _MAX_GROWTH * self.trained_on):
            return False
        if self._new.ntotal > max(_MIN_NEW_FOLD, _MAX_NEW_SHARE * (self.base_size or 0)):
            self._fold()
        return True

    def _fold(self) -> None:
        """Move the new vectors into the base (read now if it was not), to be written anew."""
        base = self._load_base()
        count = int(self._new.ntotal)
        if count:
            ids = faiss_ids(self._new)
            vecs = self._new.index.reconstruct_n(0, count)
            base.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        self._new = None
        self._base_file = None
        self._base_size = int(base.ntotal)

    def _load_base(self) -> object:
        if self._base is None:
            import faiss

            self._base = faiss.read_index(str(self._base_file))
        return self._base

    @classmethod
    def load(cls, directory: Path, vector_index: str, vector_setting: Sequence[int] | None = None,
             recall_at_10: float | None = None, vectors_trained_on: int | None = None,
             vectors_base: int | None = None, vectors_stale: int = 0, *, dim: int,
             read_base: bool = True) -> VectorIndex:
        """A generation's vectors. A writer passes ``read_base=False``: an update that does
        not fold never needs the base, only its file to link."""
        import faiss

        base_file = directory / BASE_FILE
        new_file = directory / NEW_FILE
        base = faiss.read_index(str(base_file)) if read_base else None
        new = faiss.read_index(str(new_file)) if new_file.exists() else None
        return cls(base, vector_index, vector_setting, recall_at_10, vectors_trained_on,
                   dim=dim, new=new, stale=vectors_stale or 0, base_file=base_file,
                   base_size=vectors_base)

    def save(self, directory: Path) -> None:
        """Write the generation's files into ``directory``: the base linked when unchanged."""
        import faiss

        target = directory / BASE_FILE
        if self._base_file is not None:
            try:
                os.link(self._base_file, target)
            except OSError:  # another file system, or links not allowed: copy instead
                shutil.copyfile(self._base_file, target)
        else:
            faiss.write_index(self._base, str(target))
        if self._new is not None and self._new.ntotal:
            faiss.write_index(self._new, str(directory / NEW_FILE))

    @property
    def base_size(self) -> int:
        return int(self._base_size or 0)

    @property
    def size(self) -> int:
        return self.base_size + (int(self._new.ntotal) if self._new is not None else 0)

    def ids(self) -> set[int]:
        """Every id in the index, tombstones included (for consistency checks)."""
        found = set(faiss_ids(self._load_base()).tolist())
        if self._new is not None:
            found |= set(faiss_ids(self._new).tolist())
        return found

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` best ids by inner product, plus as many more as there may be tombstones
        among them (at most ``k``), best first."""
        if self.size == 0 or k <= 0:
            return []
        import faiss

        want = k + min(self.stale, k)
        q = query.reshape(1, -1).astype(np.float32)
        # One question is too little work to split, and FAISS's OpenMP team would fight the
        # embedder's (still spinning from the query just embedded) for the two cores: at
        # 100,000 passages, p50 2.2 ms either way but p90 2.6 ms on one thread, 10 ms on two.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        found: list[tuple[int, float]] = []
        try:
            base = self._load_base()
            if base.ntotal:
                params = None
                if self.setting is not None:
                    probe, rerank = self.setting
                    params = faiss.IndexRefineSearchParameters(
                        k_factor=max(1.0, rerank / want),
                        base_index_params=faiss.SearchParametersIVF(nprobe=probe),
                    )
                scores, ids = base.search(q, min(want, base.ntotal), params=params)
                found += zip(ids[0].tolist(), scores[0].tolist(), strict=True)
            if self._new is not None and self._new.ntotal:
                scores, ids = self._new.search(q, min(want, self._new.ntotal))
                found += zip(ids[0].tolist(), scores[0].tolist(), strict=True)
        finally:
            faiss.omp_set_num_threads(threads)
        found.sort(key=lambda pair: pair[1], reverse=True)
        return [(int(i), float(s)) for i, s in found[:want] if i >= 0]


def tune_vectors(vectors: VectorIndex, store: Store, embedder: Embedder, probes: int = 48) -> None:
    """Tune an approximate index on question-like probes: the opening words of passages spread
    over the corpus, embedded as queries (about a second, against hours of embedding)."""
    if vectors.kind == "flat":
        return
    texts = [" ".join(t.split()[:10]) for t in store.sample_texts(probes)]
    vectors.tune(embedder.embed(texts, query=True), store.iter_vectors(embedder.dim))


def _flat(dim: int) -> object:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def faiss_ids(index: object) -> np.ndarray:
    """The ids an ``IndexIDMap`` holds."""
    import faiss

    return faiss.vector_to_array(index.id_map)


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
