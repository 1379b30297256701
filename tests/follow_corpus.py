"""A corpus where a story can be followed: the seeds, plus ``data/follow/archive`` (a story
told over a year in Arabic, Persian and English, among articles on other subjects), and
``data/follow/new``, the story's next article and an unrelated one, added after following.

The seeds alone are one story (Putin and North Korea): a topic's pull toward its language's
mean passage is then the story itself, and nothing clears the matching threshold. The other
subjects give each language a mean that is no one story.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import DATA, SEEDS

from khabar.embeddings.base import Embedder
from khabar.retrieval.engine import Khabar

ARCHIVE, NEW = DATA / "follow" / "archive", DATA / "follow" / "new"
TOPIC = "منارة الإسكندرية"
STORY = {"story/ar-2024-03-lighthouse-plan.txt", "story/ar-2024-06-lighthouse-divers.txt",
         "story/en-2024-09-lighthouse-design.txt", "story/fa-2024-12-lighthouse-foundation.txt",
         "new/ar-2025-01-lighthouse-second-stone.txt"}


def build(seeds_index: Path, base: Path, embedder: Embedder) -> tuple[Path, Path]:
    """A private copy of the seeds' index with the archive added (only it is embedded)."""
    seeds, index = base / "seeds", base / "index"
    shutil.copytree(SEEDS, seeds)
    shutil.copytree(ARCHIVE, seeds / "story")
    shutil.copytree(seeds_index, index)
    index_now(seeds, index, embedder)
    return seeds, index


def add_new(seeds: Path, index: Path, embedder: Embedder) -> None:
    """Add the new articles and index them, as ``khabar index`` would: the run matches them
    against the followed topics and queues the alerts a server then hands out."""
    shutil.copytree(NEW, seeds / "new")
    index_now(seeds, index, embedder)


def index_now(seeds: Path, index: Path, embedder: Embedder) -> None:
    engine = Khabar(index, seeds=seeds, embedder=embedder)
    try:
        report = engine.index()
        assert not report.skipped, report.skipped
    finally:
        engine.close()
