"""Keep an index in step with a seeds directory as files come and go."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from retrieval.indexer import ARTICLE_SUFFIXES, Indexer, IndexReport


def _is_article(_change: object, path: str) -> bool:
    return path.lower().endswith(ARTICLE_SUFFIXES)


def watch(indexer: Indexer, seeds: Path, on_report: Callable[[IndexReport], None],
          stop: threading.Event | None = None, debounce_ms: int = 1000) -> None:
    """Reindex after every burst of changes; returns when ``stop`` is set (or on Ctrl-C).

    watchfiles gathers changes until the directory has been quiet for ``debounce_ms``, so a
    hundred files copied in at once cost one incremental run, not a hundred.
    """
    from watchfiles import watch as file_changes

    for _ in file_changes(seeds, watch_filter=_is_article, debounce=debounce_ms,
                          stop_event=stop, recursive=True):
        on_report(indexer.run(seeds))
