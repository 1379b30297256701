"""The approximate vector index: tuned recall, incremental updates, and its path through the
indexer (big corpora only reach it in the bench, so the tests force it on a small one)."""

import numpy as np
import pytest
from conftest import write_articles

from khabar.retrieval.config import EngineConfig
from khabar.retrieval.engine import Khabar
from khabar.retrieval.index import vectors as vectors_mod
from khabar.retrieval.index.vectors import RECALL_TARGET, VectorIndex, exact_top, recall


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around a few hundred centres, like embeddings of a topical corpus."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(300, dim)).astype(np.float32)
    v = centres[rng.integers(0, 300, n)] + rng.normal(0, 0.6, (n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _batches(vecs: np.ndarray, first_id: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    ids = np.arange(first_id, first_id + len(vecs), dtype=np.int64)
    return [(ids[i:i + 1000], vecs[i:i + 1000]) for i in range(0, len(vecs), 1000)]


@pytest.fixture(scope="module")
def tuned() -> tuple[VectorIndex, np.ndarray]:
    vecs = _clustered(6000, 64, seed=1)
    index = VectorIndex.build(64, _batches(vecs), len(vecs), kind="ivf")
    index.tune(_clustered(40, 64, seed=2), _batches(vecs))
    return index, vecs


def test_tuning_reaches_the_recall_target_on_other_questions(tuned):
    index, vecs = tuned
    assert index.recall_at_10 is not None and index.recall_at_10 >= RECALL_TARGET
    fresh = _clustered(40, 64, seed=3)
    assert recall(index, fresh, exact_top(fresh, _batches(vecs), 10)) >= 0.95


def test_incremental_add_is_searchable_and_rebuilds_when_stale_or_grown(tuned, tmp_path):
    index, _ = tuned
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, **index.describe(), dim=64)
    new = _clustered(5, 64, seed=4)
    assert loaded.update([], _batches(new, first_id=10_001), live=6005)
    assert loaded.search(new[0], 1)[0][0] == 10_001
    # A removed passage stays in the lists as a tombstone until they are too many.
    assert loaded.update(list(range(1, 500)), [], live=5506)
    assert not loaded.update(list(range(500, 1000)), [], live=5006)
    grown = VectorIndex.load(tmp_path, **index.describe(), dim=64)
    assert not grown.update([], _batches(_clustered(6100, 64, seed=5), first_id=20_001),
                            live=12_100)


def test_small_updates_link_the_base_and_write_only_what_is_new(tmp_path):
    vecs = _clustered(3000, 64, seed=6)
    first, second, third = (tmp_path / n for n in ("g1", "g2", "g3"))
    for d in (first, second, third):
        d.mkdir()
    VectorIndex.build(64, _batches(vecs), len(vecs)).save(first)
    fields = {"vector_index": "flat", "vectors_base": 3000, "dim": 64}
    update = VectorIndex.load(first, **fields, read_base=False)
    added = _clustered(3, 64, seed=7)
    assert update.update([5, 6], _batches(added, first_id=5001), live=3001)
    update.save(second)
    assert (second / "vectors.faiss").stat().st_ino == (first / "vectors.faiss").stat().st_ino
    assert (second / "vectors-new.faiss").stat().st_size < 10_000
    served = VectorIndex.load(second, **update.describe(), dim=64)
    assert served.size == 3003 and served.stale == 2
    assert served.search(added[1], 1)[0][0] == 5002  # the new vectors are searched exactly
    assert served.search(vecs[9], 1)[0][0] == 10
    assert len(served.search(vecs[9], 4)) == 6  # room for the two tombstones
    # Enough new vectors are folded into a new base, written in full.
    many = VectorIndex.load(second, **update.describe(), dim=64, read_base=False)
    assert many.update([], _batches(_clustered(2100, 64, seed=8), first_id=9001), live=5103)
    many.save(third)
    assert (third / "vectors.faiss").stat().st_ino != (first / "vectors.faiss").stat().st_ino
    assert not (third / "vectors-new.faiss").exists()
    assert VectorIndex.load(third, **many.describe(), dim=64).size == 3000 + 3 + 2100


def test_indexer_uses_records_and_updates_the_approximate_index(tmp_path, embedder,
                                                                monkeypatch):
    monkeypatch.setattr(vectors_mod, "APPROXIMATE_FROM", 1)
    towns = ["Aswan", "Luxor", "Tanta", "Minya", "Sohag", "Qena", "Giza", "Suez", "Ismailia",
             "Damietta"]
    things = ["buses", "bridges", "schools", "clinics"]
    articles = {
        f"{t}-{w}.txt": f"{t} {w}\n\nThe council of {t} approved {n + 3} new {w} on Monday.\n"
        for n, (t, w) in enumerate((t, w) for t in towns for w in things)
    }
    seeds = tmp_path / "seeds"
    write_articles(seeds, articles)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder,
                    config=EngineConfig(top_k=3))
    engine.index()
    index_dir = engine.index_dir
    manifest = index_dir.manifest()
    assert manifest.vector_index == "ivf"
    assert manifest.vector_setting and manifest.recall_at_10 is not None
    assert manifest.vectors_trained_on == len(articles)

    (seeds / "Luxor-bridges.txt").unlink()
    write_articles(seeds, {"Hurghada-ferries.txt": "Hurghada ferries\n\nThe council of Hurghada "
                                                   "approved 77 new ferries on Monday.\n"})
    report = engine.index()
    assert report.embedded_passages == 1
    assert index_dir.manifest().vectors_trained_on == len(articles)  # updated, not rebuilt
    service = engine
    assert service.ask("How many ferries did Hurghada approve?").citations[0].doc == (
        "Hurghada-ferries.txt")
    cited = {c.doc for c in service.ask("Luxor council bridges").citations}
    assert "Luxor-bridges.txt" not in cited
