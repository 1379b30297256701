"""What adding articles remembers, in ``intake.sqlite`` beside the index.

- The content already added (SHA-256 of the bytes fetched or sent -> the file in seeds), so the
  same page reached by another URL, or a file sent twice, is "unchanged", not a copy.
- Per feed: its validators (ETag, Last-Modified) for conditional requests, and its last poll
  (when, what came of it, how many new items, the error), which ``/feeds`` shows.
- Per feed item: whether it is settled (added, already there, or given up after
  ``MAX_ATTEMPTS`` failures), so a second poll adds nothing new and a page that failed once is
  tried again on the next poll.

SQLite makes each update atomic and lets ``khabar feeds`` and a running bot share the file.
The ledger is a convenience: deleting it loses no article (files are matched again by name).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from khabar.retrieval.errors import KhabarError

MAX_ATTEMPTS = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    source TEXT,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    modified TEXT,
    last_poll REAL,
    status TEXT,
    new_items INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE TABLE IF NOT EXISTS items (
    feed TEXT NOT NULL,
    item TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    settled INTEGER NOT NULL DEFAULT 0,
    first_seen REAL NOT NULL,
    PRIMARY KEY (feed, item)
);
"""


class LedgerError(KhabarError):
    """The ledger file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's validators and the outcome of its last poll (status: "new items",
    "no new items", "not modified" or "error")."""

    url: str
    etag: str | None = None
    modified: str | None = None
    last_poll: float | None = None
    status: str | None = None
    new_items: int = 0
    error: str | None = None


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
                if not self._ready:
                    db.executescript(_SCHEMA)
                    self._ready = True
                yield db
        except (OSError, sqlite3.DatabaseError) as exc:
            raise LedgerError(f"cannot use {self.path} ({exc}); check that the index folder "
                              "(KHABAR_INDEX_DIR) is writable") from None

    # --- contents ------------------------------------------------------------------------

    def file_with(self, sha256: str) -> str | None:
        """The seeds file holding content with this hash, if it was added before."""
        with self._db() as db:
            row = db.execute("SELECT path FROM contents WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def remember(self, sha256: str, path: str, source: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO contents (sha256, path, source, added) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT(sha256) DO UPDATE SET path = excluded.path,"
                       " source = excluded.source", (sha256, path, source, time.time()))

    # --- feeds ---------------------------------------------------------------------------

    def feed(self, url: str) -> FeedState:
        with self._db() as db:
            row = db.execute("SELECT url, etag, modified, last_poll, status, new_items, error"
                             " FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedState(*row) if row else FeedState(url)

    def save_feed(self, state: FeedState) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO feeds (url, etag, modified, last_poll, status, new_items, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET"
                " etag = excluded.etag, modified = excluded.modified,"
                " last_poll = excluded.last_poll, status = excluded.status,"
                " new_items = excluded.new_items, error = excluded.error",
                (state.url, state.etag, state.modified, state.last_poll, state.status,
                 state.new_items, state.error))

    def unsettled(self, feed: str, items: Iterable[str]) -> list[str]:
        """Those of ``items`` not yet added, found already there, or given up on."""
        wanted = list(dict.fromkeys(items))
        with self._db() as db:
            settled = {r[0] for r in db.execute(
                "SELECT item FROM items WHERE feed = ? AND settled = 1", (feed,))}
        return [item for item in wanted if item not in settled]

    def settle(self, feed: str, item: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO items (feed, item, settled, first_seen) VALUES (?, ?, 1, ?)"
                       " ON CONFLICT(feed, item) DO UPDATE SET settled = 1",
                       (feed, item, time.time()))

    def failed(self, feed: str, item: str) -> bool:
        """Count a failure of this item; True once it is given up (``MAX_ATTEMPTS``)."""
        with self._db() as db:
            db.execute("INSERT INTO items (feed, item, attempts, first_seen) VALUES (?, ?, 1, ?)"
                       " ON CONFLICT(feed, item) DO UPDATE SET attempts = attempts + 1",
                       (feed, item, time.time()))
            db.execute("UPDATE items SET settled = 1 WHERE feed = ? AND item = ?"
                       " AND attempts >= ?", (feed, item, MAX_ATTEMPTS))
            row = db.execute("SELECT settled FROM items WHERE feed = ? AND item = ?",
                             (feed, item)).fetchone()
        return bool(row and row[0])
