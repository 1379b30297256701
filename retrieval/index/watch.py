"""Keep an index in step with a seeds directory as files come and go."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import DefaultFilter
from watchfiles import watch as file_changes

from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.indexer import Indexer, IndexReport
from khabar.retrieval.ingest.formats import is_hidden

# watchfiles waits this long for an event before yielding an empty batch; the first such
# yield tells us the watcher is live (see ``watch``).
_POLL_MS = 500
_RESTART_S = 1.0
log = logging.getLogger(__name__)


class _Relevant(DefaultFilter):
    """Every change may matter (a renamed folder moves many articles), except hidden files and
    editor droppings; a run that finds nothing new costs one stat per file."""

    def __call__(self, change: object, path: str) -> bool:
        return not is_hidden(Path(path).name) and super().__call__(change, path)


def watch(indexer: Indexer, seeds: Path, on_report: Callable[[IndexReport], None],
          stop: threading.Event | None = None, debounce_ms: int = 1000) -> None:
    """Reindex after every burst of changes; returns when ``stop`` is set (or on Ctrl-C).

    watchfiles gathers changes until the directory has been quiet for ``debounce_ms``, so a
    hundred files copied in at once cost one incremental run, not a hundred. Files changed
    after the caller's last run but before the watcher started would otherwise be missed, so
    one catch-up run happens as soon as the watcher is live, and again whenever the watcher has
    to be restarted: the file-system watcher fails on some entries (a file name that is not
    UTF-8), and a run can fail for a while (another writer holds the lock); either is logged
    and watching goes on.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            _watch_once(indexer, seeds, on_report, stop, debounce_ms)
        except RuntimeError as exc:  # watchfiles' own errors derive from it
            log.warning("watcher_restarted", extra={"error": str(exc)})
            stop.wait(_RESTART_S)


def _watch_once(indexer: Indexer, seeds: Path, on_report: Callable[[IndexReport], None],
                stop: threading.Event, debounce_ms: int) -> None:
    caught_up = False
    for changes in file_changes(seeds, watch_filter=_Relevant(), debounce=debounce_ms,
                                stop_event=stop, recursive=True, rust_timeout=_POLL_MS,
                                yield_on_timeout=True):
        if changes or not caught_up:
            try:
                report = indexer.run(seeds)
            except KhabarError as exc:
                log.warning("watch_run_failed", extra={"error": str(exc)})
                continue
            if changes or report.changed:
                on_report(report)
        caught_up = True
