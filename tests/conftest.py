"""Shared fixtures: one real embedder and one real seeds index per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embeddings.bundled import BundledE5
from retrieval.chunking import Chunker
from retrieval.index import IndexDir
from retrieval.indexer import Indexer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def embedder() -> BundledE5:
    """The real bundled model, loaded once for the whole session."""
    model = BundledE5()
    model.embed_one_query("warm up")
    return model


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory, embedder: BundledE5) -> Path:
    """A real index of a copy of seeds/, built once; tests must not modify it."""
    base = tmp_path_factory.mktemp("seeds-index")
    seeds = base / "seeds"
    shutil.copytree(SEEDS, seeds)
    index = base / "index"
    Indexer(IndexDir(index), embedder, Chunker()).run(seeds)
    return index


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
