"""One suite for the index interface, which every backend passes.

Whatever the backend, indexing is incremental, a failed or killed run leaves the previous
generation answering and the next run finishes the work, one writer runs at a time, serving
switches generations between questions, another embedder is refused with the rebuild hint, and
the same corpus gives the same answers as the local backend.

A backend's test file subclasses ``BackendSuite`` (named ``Test...`` so pytest collects it) and
supplies one fixture, ``backend_kit``: how to make a fresh index of that backend and how to
break one. Nothing else is edited to add a backend (``test_toy_backend.py`` shows it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SEED_QUESTIONS, SEEDS, write_articles
from fake_embedder import FakeEmbedder

from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.backend import (
    IndexBackend,
    IndexDamagedError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from khabar.retrieval.index.generations import IndexDir
from khabar.retrieval.translit import lookup_keys

MORE = {f"n{i}.txt": f"Note {i}\n\nThe council of town {i} met on Monday about roads number {i} "
                     f"and {i + 7}. وقال رئيس البلدية إن الطريق رقم {i} سيفتح قريبا.\n"
        for i in range(12)}
# Names in three scripts and articles in three languages: spellings across scripts and the
# per-language centroids search centres on.
NAMES = {
    "putin.txt": "Putin visits Cairo\n\nPresident Putin met Egyptian officials in Cairo on "
                 "Tuesday to discuss wheat imports.\n",
    "bwtyn.txt": "بوتين في القاهرة\n\nالتقى الرئيس بوتين مسؤولين مصريين في القاهرة يوم "
                 "الثلاثاء لبحث واردات القمح.\n",
    "pwtyn.txt": "پوتین در قاهره\n\nپوتین روز سه‌شنبه با مقام‌های مصری در قاهره درباره واردات "
                 "گندم گفتگو کرد.\n",
}
QUESTIONS = ["Where did environment ministers meet?", "How many ships waited outside?",
             "نمایشگاه کتاب تهران", "متى سيفتح الطريق رقم 5؟", "council roads Monday"]


@dataclass(frozen=True)
class BackendKit:
    """The backend under test, as the suite needs it."""

    # As ``KHABAR_BACKEND`` names it; ``local`` is the reference the others are compared with.
    name: str
    # A fresh, empty index kept under the given folder.
    make: Callable[[Path], IndexBackend]
    # Break an engine's live generation as an operator might (a file or a collection
    # deleted) and return what ``damage()`` then says.
    damage: Callable[[Khabar], str]


def local_index(folder: Path) -> IndexDir:
    """The reference backend: a directory index under ``folder``."""
    return IndexDir(folder / "index")


def skip_the_reference(kit: BackendKit) -> None:
    if kit.name == "local":
        pytest.skip("the local backend is the reference the others are compared with")


def visible_passages(engine: Khabar) -> list[tuple]:
    """Every passage the live generation sees, as (document, start, end, tokens), read
    through the interface; also checks the counts the manifest keeps."""
    gen = engine.index_dir.open(engine.embedder.spec)
    try:
        ids = [int(i) for batch, _ in gen.store.iter_vectors(gen.manifest.dim) for i in batch]
        rows = gen.store.passages(ids)
        assert len(rows) == len(ids) == gen.manifest.passages == gen.store.counts()[1]
        assert len({p.doc.path for p in rows.values()}) == gen.manifest.documents
        return sorted((p.doc.path, p.start, p.end, p.norm) for p in rows.values())
    finally:
        gen.close()


def answers(engine: Khabar, questions=QUESTIONS) -> list[dict]:
    out = []
    for q in questions:
        a = engine.ask(q).to_json()
        del a["timings_ms"]
        out.append(a)
    return out


def same_generation_reads(engines: list[Khabar]) -> None:
    """What search, the answer stage and the server read of a generation besides passages is
    the same on both backends (the local one first): language centroids, names' spellings
    across scripts, passage counts and articles with their passage spans."""
    gens = [e.generation() for e in engines]
    local, other = gens
    assert set(local.centroids()) == set(other.centroids()) and len(local.centroids()) > 1
    for lang, centroid in local.centroids().items():
        assert other.centroids()[lang] == pytest.approx(centroid, abs=1e-6)
    keys = sorted(lookup_keys("putin") | lookup_keys("پوتین") | lookup_keys("قاهره"))
    assert local.store.spellings(keys) == other.store.spellings(keys)
    assert {"putin", "بوتين", "پوتين"} <= set(local.store.spellings(keys))  # ی read as ي
    counts = local.store.passage_counts()
    assert other.store.passage_counts() == counts
    for path in counts:
        assert local.store.article(path) == other.store.article(path)
    paths = [*sorted(counts)[:3], "no-such.txt"]
    ids = local.store.passage_ids(paths)
    assert {p: len(v) for p, v in ids.items()} == {p: counts[p] for p in paths[:3]}
    local_texts = {p: [local.store.passages(v)[i].text for i in v] for p, v in ids.items()}
    other_ids = other.store.passage_ids(paths)
    assert {p: [other.store.passages(v)[i].text for i in v]
            for p, v in other_ids.items()} == local_texts
    assert other.store.article("no-such.txt") is None


class _FailingEmbedder(FakeEmbedder):
    """Fails on its second batch, as a run killed halfway through embedding would stop."""

    batch_size = 8

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_batch(self, texts, *, query):
        self.calls += 1
        if self.calls == 2 and not query:
            raise RuntimeError("embedding failed")
        return super().embed_batch(texts, query=query)


class BackendSuite:
    """The tests every backend passes; a subclass supplies the ``backend_kit`` fixture."""

    @pytest.fixture
    def backend_kit(self) -> BackendKit:
        raise NotImplementedError("a backend's suite supplies the backend_kit fixture")

    @pytest.fixture
    def engine(self, backend_kit, small_corpus, tmp_path, fake_embedder):
        engine = Khabar(backend_kit.make(tmp_path), seeds=small_corpus, embedder=fake_embedder)
        first = engine.index()
        assert first.added == 3 and first.ok
        yield engine
        engine.close()

    def test_unchanged_rerun_publishes_nothing(self, engine):
        before = engine.index_dir.current_name()
        report = engine.index()
        assert report.unchanged == 3 and report.embedded_texts == 0
        assert engine.index_dir.current_name() == before


    def test_changes_are_incremental_and_searchable(self, engine):
        seeds = engine.seeds
        (seeds / "c.txt").write_text("Harbour reopens\n\nThe port of Alexandria reopened on "
                                     "Wednesday. Ninety ships waited.\n", encoding="utf-8")
        (seeds / "b.txt").unlink()
        write_articles(seeds / "2024",
                       {"d.txt": "Markets rally\n\nCairo stocks rose five percent."})
        report = engine.index()
        assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 1)
        assert report.embedded_passages == 2
        assert [d.path for d in engine.documents()] == ["2024/d.txt", "a.txt", "c.txt"]
        passages = visible_passages(engine)
        assert {p[0] for p in passages} == {"2024/d.txt", "a.txt", "c.txt"}
        answer = engine.ask("How many ships waited at the harbour?")
        assert answer.citations[0].doc == "c.txt" and "Ninety" in answer.citations[0].snippet
        assert not any("forty" in c.snippet for c in answer.citations)


    def test_document_frequencies_count_the_passages(self, engine):
        write_articles(engine.seeds, MORE)
        engine.index()
        passages = visible_passages(engine)
        expected: dict[str, int] = {}
        for *_, norm in passages:
            for term in set(norm.split()):
                expected[term] = expected.get(term, 0) + 1
        gen = engine.generation()
        assert gen.store.document_frequencies(sorted(expected)) == expected
        assert gen.store.document_frequencies(["nosuchterm"]) == {}


    def test_other_embedder_is_refused_with_the_rebuild_hint(self, engine):
        with pytest.raises(IndexMismatchError, match="rebuild"):
            engine.index_dir.open("st:some-other-model")
        other = Khabar(engine.index_dir, seeds=engine.seeds, embedder=FakeEmbedder("renamed"))
        with pytest.raises(IndexMismatchError, match="--rebuild"):
            other.index()
        assert other.index(rebuild=True).added == 3
        assert engine.index_dir.manifest().embedder == "renamed"
        assert len(visible_passages(other)) == 3

    def test_missing_index_says_how_to_build(self, backend_kit, tmp_path):
        index = backend_kit.make(tmp_path)
        try:
            with pytest.raises(IndexNotFoundError, match="khabar index"):
                index.open("e5-small-bundled")
        finally:
            index.close()

    def test_one_writer_at_a_time(self, engine):
        with engine.index_dir.lock(), pytest.raises(IndexLockedError, match="being indexed by pid"):
            engine.index()
        assert engine.index().unchanged == 3  # the lock went with the block

    def test_a_failed_run_changes_nothing_and_the_next_run_completes(self, engine, monkeypatch,
                                                                      tmp_path):
        from khabar.retrieval.index import milvus_store

        monkeypatch.setattr(milvus_store, "_PENDING", 1)  # rows reach Milvus before the failure
        before_answers, before_passages = answers(engine), visible_passages(engine)
        before = engine.index_dir.current_name()
        write_articles(engine.seeds, MORE)
        (engine.seeds / "b.txt").unlink()
        failing = Khabar(engine.index_dir, seeds=engine.seeds, embedder=_FailingEmbedder())
        with pytest.raises(RuntimeError, match="embedding failed"):
            failing.index()
        assert engine.index_dir.current_name() == before
        assert visible_passages(engine) == before_passages
        assert answers(engine) == before_answers

        report = engine.index()
        assert (report.added, report.removed) == (len(MORE), 1)
        fresh = Khabar(local_index(tmp_path / "fresh"), seeds=engine.seeds,
                       embedder=engine.embedder)
        fresh.index()
        assert visible_passages(engine) == visible_passages(fresh)

    def test_serving_switches_to_a_new_generation_between_questions(self, engine):
        assert not any(c.doc == "new.txt" for c in engine.ask("film festival Shiraz").citations)
        write_articles(engine.seeds, {"new.txt": "Festival\n\nThe film festival opened in Shiraz "
                                                 "with forty films."})
        Khabar(engine.index_dir, seeds=engine.seeds, embedder=engine.embedder).index()
        assert engine.ask("film festival Shiraz").citations[0].doc == "new.txt"
        assert engine.generation().name == engine.index_dir.current_name()

    def test_gives_the_local_answers_and_lexical_scores(self, backend_kit, small_corpus, tmp_path,
                                                        fake_embedder):
        """Same corpus, same embedder: every answer (citations, offsets, scores) is the same, and
        BM25 gives FTS5's scores (the candidates Milvus ranks are scored as FTS5 scores them)."""
        skip_the_reference(backend_kit)
        write_articles(small_corpus, MORE | NAMES)
        engines = [Khabar(make(tmp_path / name), seeds=small_corpus, embedder=fake_embedder)
                   for name, make in (("local", local_index), (backend_kit.name, backend_kit.make))]
        try:
            for e in engines:
                e.index()
            same_generation_reads(engines)
            local, other = (answers(e, [*QUESTIONS, "Putin Cairo wheat", "بوتين القاهرة"])
                             for e in engines)
            for a, b in zip(local, other, strict=True):
                assert [c["doc"] for c in a["citations"]] == [c["doc"] for c in b["citations"]]
                for ca, cb in zip(a["citations"], b["citations"], strict=True):
                    assert ca["score"] == pytest.approx(cb["score"], abs=1e-5)
                    ca["score"] = cb["score"]
            assert local == other
            gens = [e.generation() for e in engines]
            for q in ["council roads Monday", "الطريق رقم", "ships Alexandria", "town 3 roads 10"]:
                lex = [dict(g.store.lexical(engines[0].trace(q).query.tokens, 10)) for g in gens]
                assert lex[0].keys() == lex[1].keys()
                for pid, score in lex[0].items():
                    assert lex[1][pid] == pytest.approx(score, rel=1e-6)
            # Removals: the language sums lose the removed passages' vectors on both. (Lexical
            # statistics differ until the local store collects the removed rows: its FTS5 index
            # and terms count them for two generations, Milvus's are the generation's own.)
            (small_corpus / "n3.txt").unlink()
            write_articles(small_corpus, {"n4.txt": "Note\n\nThe council of Giza met on Sunday."})
            for e in engines:
                e.index()
            same_generation_reads(engines)
        finally:
            for e in engines:
                e.close()

    def test_targeted_runs_and_problems_kept_with_the_file(self, engine):
        """``index(only=...)`` looks at the named files alone; what could not be used in a file
        is stored with it and reported again on every run until the file changes."""
        write_articles(engine.seeds, {"new.txt": "Festival\n\nThe film festival opened in "
                                                 "Shiraz with forty films."})
        (engine.seeds / "mixed.jsonl").write_text(
            '{"title": "Dam", "text": "The dam on the river was finished in May."}\n[1, 2]\n',
            encoding="utf-8")
        report = engine.index(only=["new.txt", "mixed.jsonl"])
        assert report.added == 2 and [s.path for s in report.skipped] == ["mixed.jsonl#2"]
        assert engine.ask("film festival Shiraz").citations[0].doc == "new.txt"
        again = engine.index()
        assert again.unchanged == 5 and [s.path for s in again.skipped] == ["mixed.jsonl#2"]
        assert (engine.index(only=["mixed.jsonl"]).skipped[0].reason
                == "not a JSON object but a list")
        (engine.seeds / "new.txt").unlink()
        assert engine.index(only=["new.txt"]).removed == 1
        counts = engine.passage_counts()
        assert "new.txt" not in counts and counts["mixed.jsonl#1"] == 1

    def test_damage_is_named_and_repaired_by_index(self, backend_kit, engine):
        assert engine.index_dir.damage(deep=True) is None
        engine.close()
        found = backend_kit.damage(engine)
        assert found in engine.index_dir.damage()
        with pytest.raises(IndexDamagedError, match="run `khabar index` to repair"):
            engine.index_dir.open(engine.embedder.spec)
        report = engine.index()
        assert report.repaired and found in report.repaired[0] and report.added == 3
        assert engine.index_dir.damage(deep=True) is None
        assert engine.ask("How many ships waited outside?").citations

    @pytest.mark.slow
    def test_seed_questions_answer_as_the_local_index_does(self, backend_kit, seeds_index, tmp_path,
                                                           embedder):
        """The real model on the seeds: the backend answers every seed question as the local
        index does, and its citations are exact spans of the article files."""
        skip_the_reference(backend_kit)
        lines = SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["q"] for line in lines if line.strip()] + [
            # Time in questions: ranked by article date on both backends alike.
            "What did Putin say about the agreements with North Korea in October 2023?",
            "ما آخر الأخبار عن الاتفاقية بين روسيا وكوريا الشمالية؟",
        ]
        local = Khabar(seeds_index, embedder=embedder)
        other = Khabar(backend_kit.make(tmp_path), seeds=SEEDS, embedder=embedder)
        try:
            other.index()
            expected, got = answers(local, questions), answers(other, questions)
            for a, b in zip(expected, got, strict=True):
                assert [(c["doc"], c["start"], c["end"]) for c in a["citations"]] == \
                       [(c["doc"], c["start"], c["end"]) for c in b["citations"]]
                assert (a["answer"], a["found"]) == (b["answer"], b["found"])
                for c in b["citations"]:
                    text = (SEEDS / c["doc"]).read_text(encoding="utf-8")
                    assert text[c["start"]:c["end"]] == c["snippet"]
        finally:
            other.close()
