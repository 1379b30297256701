"""Shared fixtures: one real embedder and one real seeds index per test session.

Nothing here reads outside the repository. Tests that use the shared eval sets beside a CI
checkout are optional: they run only when ``KHABAR_TEST_SHARED_EVAL`` names that directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from fake_embedder import FakeEmbedder

from khabar.embeddings.bundled import BundledE5
from khabar.retrieval.engine import Khabar

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"
SEED_QUESTIONS = DATA / "seed_questions.jsonl"
_SHARED = os.environ.get("KHABAR_TEST_SHARED_EVAL")
SHARED_EVAL = Path(_SHARED) if _SHARED else None

_FOLDERS = {"bot": "khabar.bot", "retrieval": "khabar.retrieval", "embeddings": "khabar.embeddings"}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests import the installed ``khabar``: stop at once if it is older than the source
    (``make test`` reinstalls; a bare ``pytest`` after an edit would test stale code)."""
    import importlib

    for folder, package in _FOLDERS.items():
        installed = Path(importlib.import_module(package).__file__).parent
        for source in (*(ROOT / folder).rglob("*.py"), *(ROOT / folder).rglob("*.html")):
            copy = installed / source.relative_to(ROOT / folder)
            if not copy.is_file() or copy.read_bytes() != source.read_bytes():
                pytest.exit(f"the installed khabar differs from {source.relative_to(ROOT)}: "
                            "run `make install` (or `make test`)", returncode=2)


# ``make test`` installs the extra; ``make test-fast`` on a bare install skips these.
requires_milvus = pytest.mark.skipif(
    importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None,
    reason="needs the milvus extra: pip install 'khabar[milvus]' (make test installs it)",
)


shared_eval = pytest.mark.skipif(
    SHARED_EVAL is None or not SHARED_EVAL.is_dir(),
    reason="optional: set KHABAR_TEST_SHARED_EVAL to the shared eval sets (CI does)",
)


@pytest.fixture(scope="session")
def embedder() -> BundledE5:
    """The real bundled model, loaded once for the whole session."""
    model = BundledE5()
    model.embed_one_query("warm up")
    return model


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory, embedder: BundledE5) -> Path:
    """A real index of a copy of seeds/, built once; tests must not modify it."""
    base = tmp_path_factory.mktemp("seeds-index")
    seeds = base / "seeds"
    shutil.copytree(SEEDS, seeds)
    engine = Khabar(base / "index", seeds=seeds, embedder=embedder)
    engine.index()
    return engine.index_dir.root


@pytest.fixture
def seeds_engine(seeds_index: Path, embedder: BundledE5) -> Khabar:
    """A fresh engine (own service, stats and caches) over the shared seeds index."""
    return Khabar(seeds_index, seeds=SEEDS, embedder=embedder)


def write_articles(folder: Path, articles: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")


SMALL_CORPUS = {
    "a.txt": "قمة المناخ في القاهرة\n\nاجتمع وزراء البيئة في القاهرة يوم الاثنين لمناقشة خطة "
             "خفض الانبعاثات بنسبة ثلاثين في المئة بحلول عام 2030. وقال الوزير إن الخطة طموحة.\n",
    "b.txt": "نمایشگاه کتاب تهران\n\nنمایشگاه بین‌المللی کتاب تهران امسال با حضور ۲۰۰ ناشر خارجی "
             "برگزار شد. برگزارکنندگان گفتند که فروش کتاب نسبت به سال گذشته افزایش یافته است.\n",
    "c.txt": "Harbour reopens after storm\n\nThe port of Alexandria reopened on Tuesday after a "
             "storm closed it for three days. Officials said forty ships were waiting outside.\n",
}


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """The three small articles above, written to ``tmp_path/seeds``."""
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    return seeds
