import json
import os
import time

import pytest
from conftest import SMALL_CORPUS, write_articles
from fake_embedder import FakeEmbedder

from khabar.retrieval.config import EngineConfig
from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.backend import (
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from khabar.retrieval.index.generations import IndexDir
from khabar.retrieval.ingest.chunking import READING_RULES

# Indexing logic does not depend on what the vectors mean: these tests use the fast,
# deterministic fake embedder.


@pytest.fixture
def embedder(fake_embedder):
    return fake_embedder


@pytest.fixture
def corpus(small_corpus, tmp_path, embedder):
    engine = Khabar(tmp_path / "index", seeds=small_corpus, embedder=embedder)
    first = engine.index()
    assert first.added == 3 and first.ok
    return small_corpus, engine.index_dir, engine.indexer


def _docs_and_vectors(index_dir, embedder):
    gen = index_dir.open(embedder.spec)
    try:
        paths = [d.path for d in gen.store.documents()]
        return paths, gen.store.counts()[1], gen.vectors.size
    finally:
        gen.close()


def test_rerun_with_no_change_embeds_nothing(corpus, embedder):
    seeds, index_dir, indexer = corpus
    before = index_dir.current_name()
    report = indexer.run(seeds)
    assert report.unchanged == 3 and report.embedded_passages == 0
    assert report.embedded_texts == 0
    assert index_dir.current_name() == before  # no new generation for nothing


def test_touch_without_change_is_not_reembedded(corpus):
    seeds, _, indexer = corpus
    later = time.time() + 5
    os.utime(seeds / "a.txt", (later, later))
    report = indexer.run(seeds)
    assert report.unchanged == 3 and report.embedded_passages == 0


def test_changed_file_alone_is_reembedded(corpus, embedder):
    seeds, index_dir, indexer = corpus
    (seeds / "c.txt").write_text(
        "Harbour reopens\n\nThe port of Alexandria reopened on Wednesday. Ninety ships waited.\n",
        encoding="utf-8",
    )
    report = indexer.run(seeds)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 2, 0)
    gen = index_dir.open(embedder.spec)
    try:
        per_doc = [p for p in gen.store.passages(range(1, 1000)).values() if p.doc.path == "c.txt"]
        assert report.embedded_passages == len(per_doc)
        assert any("Ninety ships" in p.text for p in per_doc)
        assert not any("forty ships" in p.text for p in per_doc)
    finally:
        gen.close()


def test_removed_file_leaves_both_stores(corpus, embedder):
    seeds, index_dir, indexer = corpus
    _, passages_before, vectors_before = _docs_and_vectors(index_dir, embedder)
    (seeds / "b.txt").unlink()
    report = indexer.run(seeds)
    assert report.removed == 1
    paths, passages, vectors = _docs_and_vectors(index_dir, embedder)
    assert paths == ["a.txt", "c.txt"]
    assert passages == vectors < passages_before == vectors_before


def test_added_file_in_subfolder(corpus, embedder):
    seeds, index_dir, indexer = corpus
    write_articles(seeds / "2024", {"d.txt": "Markets rally\n\nCairo stocks rose five percent."})
    report = indexer.run(seeds)
    assert report.added == 1 and report.unchanged == 3
    assert "2024/d.txt" in _docs_and_vectors(index_dir, embedder)[0]


def test_other_embedder_is_a_clear_error(corpus, embedder):
    seeds, index_dir, _ = corpus
    with pytest.raises(IndexMismatchError, match="rebuild"):
        index_dir.open("st:some-other-model")
    other = Khabar(index_dir.root, seeds=seeds, embedder=FakeEmbedder("renamed"))
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        other.index()
    assert other.index(rebuild=True).added == 3
    assert json.loads((index_dir.root / index_dir.current_name() / "manifest.json").read_text())[
        "embedder"] == "renamed"


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexNotFoundError, match="khabar index"):
        IndexDir(tmp_path / "none").open("e5-small-bundled")


def test_one_writer_at_a_time(corpus):
    seeds, index_dir, indexer = corpus
    with index_dir.lock(), pytest.raises(IndexLockedError, match="being indexed by pid"):
        indexer.run(seeds)


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 50)
    (seeds / "legacy.txt").write_bytes(
        "خبر قديم\n\nأعلنت الحكومة اليوم عن افتتاح مستشفى جديد في مدينة حلب.".encode("cp1256"))
    (seeds / "huge.txt").write_bytes(b"a" * 2000)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder,
                    config=EngineConfig(max_file_bytes=1000))
    report = engine.index()
    assert report.added == 4 and not report.ok
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "huge.txt"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert "KHABAR_MAX_FILE_BYTES" in reasons["huge.txt"]


def test_term_statistics_match_what_fts5_indexes(corpus, embedder):
    """Abstention and BM25 term selection read the df table; it must count FTS5's own tokens,
    through adds and deletes, whatever the text holds (underscores, digits, ZWNJ, Latin)."""
    import sqlite3

    seeds, index_dir, indexer = corpus
    write_articles(seeds, {"d.txt": "Super_Bowl_50 في_العام\n\nفاز فريق Denver Broncos في "
                                    "المباراة ٢٤-١٠ و می‌خواهند co-operation e-mail.\n"})
    (seeds / "b.txt").unlink()
    indexer.run(seeds)

    def counts():
        db = sqlite3.connect(index_dir.root / index_dir.manifest().store)
        db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, passages_fts, row)")
        fts = dict(db.execute("SELECT term, doc FROM temp.v"))
        ours = dict(db.execute("SELECT term, df FROM terms"))
        db.close()
        return fts, ours

    fts, ours = counts()
    assert "bowl" in ours and "super_bowl_50" not in ours
    assert ours == fts and "تهران" in ours  # b.txt's rows wait for the previous generation
    write_articles(seeds, {"e.txt": "Tide\n\nThe tide rose in Basra on Sunday.\n"})
    indexer.run(seeds)  # now no kept generation sees b.txt: its rows are deleted
    fts, ours = counts()
    assert ours == fts and "تهران" not in ours


@pytest.mark.parametrize("setting", [{"chunk_chars": 300}, {"chunk_overlap": 100}])
def test_passage_settings_rebuild_everything_and_nothing_else_does(corpus, embedder, setting):
    seeds, index_dir, _ = corpus
    same = Khabar(index_dir.root, seeds=seeds, embedder=embedder).index()
    assert same.embedded_passages == 0 and same.unchanged == 3
    config = EngineConfig(**setting)
    changed = Khabar(index_dir.root, seeds=seeds, embedder=embedder, config=config).index()
    assert changed.added == 3 and changed.embedded_passages == changed.passages > 0
    manifest = json.loads((index_dir.root / index_dir.current_name() / "manifest.json")
                          .read_text(encoding="utf-8"))
    assert manifest["chunking"] == {"chars": setting.get("chunk_chars", 600),
                                    "overlap": setting.get("chunk_overlap", 0),
                                    "rules": READING_RULES}
    again = Khabar(index_dir.root, seeds=seeds, embedder=embedder, config=config).index()
    assert again.embedded_passages == 0


def test_each_generation_counts_and_holds_exactly_what_it_sees(corpus, embedder):
    """Counts are kept from the changed rows only, and vectors keep tombstones: both must
    agree with what the generation's store view really holds."""
    seeds, index_dir, indexer = corpus
    articles = {f"n{i}.txt": f"Note {i}\n\nThe council of town {i} met on Monday about roads "
                             f"number {i} and {i + 7}.\n" for i in range(40)}
    write_articles(seeds, articles)
    indexer.run(seeds)
    (seeds / "n3.txt").unlink()
    (seeds / "n4.txt").write_text("Note\n\nA different text about bridges.\n", encoding="utf-8")
    write_articles(seeds, {"n99.txt": "Late note\n\nThe harbour closed early on Friday.\n"})
    indexer.run(seeds)
    gen = index_dir.open(embedder.spec)
    try:
        assert (gen.manifest.documents, gen.manifest.passages) == gen.store.counts() == (43, 43)
        visible = {ids for batch, _ in gen.store.iter_vectors(embedder.dim) for ids in batch}
        held = gen.vectors.ids()
        assert visible <= held and len(held - visible) == gen.manifest.vectors_stale == 2
        assert "n3.txt" not in {d.path for d in gen.store.documents()}
    finally:
        gen.close()


def test_an_index_read_by_older_rules_is_read_again_once(corpus, embedder):
    """An upgrade that reads articles differently (``READING_RULES``) must not leave passages
    cut by the old rules behind until their files happen to change."""
    seeds, index_dir, _ = corpus
    path = index_dir.root / index_dir.current_name() / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["chunking"] = {k: v for k, v in manifest["chunking"].items() if k != "rules"}
    path.write_text(json.dumps(manifest), encoding="utf-8")
    upgraded = Khabar(index_dir.root, seeds=seeds, embedder=embedder).index()
    assert upgraded.added == 3 and upgraded.embedded_passages == upgraded.passages > 0
    assert Khabar(index_dir.root, seeds=seeds, embedder=embedder).index().embedded_passages == 0


def test_lexical_search_skips_other_generations_rows_and_still_fills_the_limit(tmp_path,
                                                                                embedder):
    """The full-text index keeps the rows of changed articles for older generations; the
    best-scoring ones may all be those, and lexical search must still return ``limit`` rows
    this generation sees, in score order."""
    seeds = tmp_path / "seeds"
    write_articles(seeds, {f"{i}.txt": f"Zoo {i}\n\nzebra zebra zebra seen" for i in range(6)})
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    engine.index()
    write_articles(seeds, {f"{i}.txt": f"Zoo {i}\n\nA zebra was seen near the river bank after "
                                       f"the long dry season, keepers number {i} said."
                           for i in range(5)})
    engine.index()
    gen = engine.index_dir.open(embedder.spec)
    try:
        hits = gen.store.lexical(["zebra"], 3)
        rows = gen.store.passage_rows([pid for pid, _ in hits])
        assert len(hits) == 3 and set(rows) == {pid for pid, _ in hits}
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert rows[hits[0][0]].norm.count("zebra") == 3  # 5.txt, unchanged, scores best
    finally:
        gen.close()
        engine.close()
