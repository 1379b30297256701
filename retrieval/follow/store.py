"""Followed topics, their matches and the alerts waiting to be sent, in one SQLite file.

The file (``follows.sqlite`` beside the index, in the engine's ``state_dir``) is written by
two kinds of process: the front ends (a chat follows a topic, a sender marks an alert sent)
and whoever indexes (new articles matched against the topics). SQLite in WAL mode with a busy
timeout lets them share it; each write is one short transaction.

Delivery is an outbox: a match and its alert row are written in the transaction that also
records the article as seen, so a crash loses no alert and matches no article twice; a sender
marks a row sent right after Telegram (or the page) took it, so a restart resends only what
was not taken. The one window left is a kill between Telegram's reply and that commit, a few
microseconds; such an alert would be sent twice, never lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from khabar.retrieval.errors import CheckError
from khabar.retrieval.normalize import normalize

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics(
    id INTEGER PRIMARY KEY, chat TEXT NOT NULL, lang TEXT NOT NULL, text TEXT NOT NULL,
    key TEXT NOT NULL, created REAL NOT NULL, spec TEXT, vector BLOB,
    UNIQUE(chat, key));
CREATE TABLE IF NOT EXISTS seen(path TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS matches(
    id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, chat TEXT NOT NULL,
    story INTEGER NOT NULL, path TEXT NOT NULL, date TEXT, at REAL NOT NULL,
    shingles TEXT NOT NULL, citation TEXT NOT NULL, UNIQUE(topic_id, path));
CREATE INDEX IF NOT EXISTS matches_chat ON matches(chat, id);
CREATE TABLE IF NOT EXISTS outbox(
    id INTEGER PRIMARY KEY, match_id INTEGER NOT NULL UNIQUE, chat TEXT NOT NULL,
    at REAL NOT NULL, sent REAL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(sent, chat, id);
CREATE TABLE IF NOT EXISTS digests(
    chat TEXT PRIMARY KEY, at TEXT NOT NULL, tz TEXT NOT NULL, lang TEXT NOT NULL,
    last_day TEXT, last_match INTEGER NOT NULL DEFAULT 0);
"""


# Unsent alerts with their topic and match, as ``_alert`` reads them; callers add the chat test.
_UNSENT = (
    "SELECT o.id, o.chat, o.attempts, t.id, t.chat, t.lang, t.text, t.created, m.id, "
    "m.topic_id, m.chat, m.story, m.path, m.date, m.at, m.citation FROM outbox o "
    "JOIN matches m ON m.id = o.match_id JOIN topics t ON t.id = m.topic_id "
    "WHERE o.sent IS NULL AND ")


class FollowError(CheckError):
    """A follow request that cannot be taken: ``limit``, ``duplicate``, ``unknown``, ``time``
    or ``zone``."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A followed topic: words or a question, for one chat, in the language it was written."""

    id: int
    chat: str
    lang: str
    text: str
    created: float


@dataclass(frozen=True, slots=True)
class Match:
    """A new article found to belong to a followed topic, with the snippet that showed it.

    ``citation`` is the JSON of a ``Citation`` (title, outlet, date, file, exact span, and the
    other outlets carrying the same wire copy); ``story`` is the id of the topic's first match
    of the same story, so wire copies arriving later join it instead of alerting again."""

    id: int
    topic_id: int
    chat: str
    story: int
    path: str
    date: str | None
    at: float
    citation: dict


@dataclass(frozen=True, slots=True)
class Alert:
    """An outbox row: one message to send to ``chat`` about ``match`` of ``topic``."""

    id: int
    chat: str
    topic: Topic
    match: Match
    attempts: int


@dataclass(frozen=True, slots=True)
class Digest:
    """A chat's daily digest: the local time (``HH:MM``) and time zone it is sent at."""

    chat: str
    at: str
    tz: str
    lang: str
    last_day: str | None
    last_match: int


@dataclass(frozen=True, slots=True)
class NewMatch:
    """What matching found, before it is stored: ``shingles`` are the matched passage's
    three-word runs, which later wire copies are recognised by."""

    topic_id: int
    path: str
    date: str | None
    shingles: frozenset[tuple[str, ...]]
    citation: dict


def topic_key(text: str) -> str:
    """What makes two topics of one chat the same: the normalised words, in order."""
    return " ".join(normalize(text).split())


class FollowStore:
    """The follows file. Thread-safe: one connection, used under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                 isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._conn().execute(sql, args).fetchall()

    # Topics ------------------------------------------------------------------------------

    def check(self, chat: str, text: str, limit: int) -> None:
        """``FollowError`` when ``chat`` already follows ``text`` or follows ``limit`` topics:
        asked before the topic is embedded, and again when it is stored."""
        with self._lock:
            _check(self._conn(), chat, topic_key(text), limit)

    def follow(self, chat: str, text: str, lang: str, spec: str, vector: np.ndarray,
               limit: int) -> Topic:
        """Store ``text`` as followed by ``chat``; ``FollowError`` when the chat already
        follows it or follows ``limit`` topics."""
        key = topic_key(text)
        with self._tx() as db:
            _check(db, chat, key, limit)
            now = time.time()
            cur = db.execute(
                "INSERT INTO topics(chat, lang, text, key, created, spec, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat, lang, text, key, now, spec, _blob(vector)))
            return Topic(int(cur.lastrowid or 0), chat, lang, text, now)

    def unfollow(self, chat: str, which: str) -> Topic:
        """Stop following a topic, named by its number or its words; its pending alerts go."""
        topic = next((t for t in self.topics(chat)
                      if which.strip() == str(t.id) or topic_key(which) == topic_key(t.text)),
                     None)
        if topic is None:
            raise FollowError("unknown", f"this chat follows no topic {which!r}",
                              which=which)
        with self._tx() as db:
            _delete_topics(db, [topic.id])
        return topic

    def topics(self, chat: str | None = None) -> list[Topic]:
        """The topics of ``chat`` (all chats' when None), oldest first."""
        sql = "SELECT id, chat, lang, text, created FROM topics"
        rows = (self._read(sql + " WHERE chat = ? ORDER BY id", (chat,)) if chat is not None
                else self._read(sql + " ORDER BY id"))
        return [Topic(*row) for row in rows]

    def topic_count(self) -> int:
        if not self.exists:
            return 0
        return int(self._read("SELECT count(*) FROM topics")[0][0])

    def vectors(self, spec: str) -> tuple[list[Topic], np.ndarray, list[Topic]]:
        """Every topic with a vector made by the embedder ``spec`` (a matrix, one row each),
        and the topics whose vectors another embedder made (to be made again)."""
        rows = self._read(
            "SELECT id, chat, lang, text, created, spec, vector FROM topics ORDER BY id")
        good = [(Topic(*row[:5]), row[6]) for row in rows if row[5] == spec and row[6]]
        stale = [Topic(*row[:5]) for row in rows if row[5] != spec or not row[6]]
        if not good:
            return [], np.zeros((0, 0), dtype=np.float32), stale
        matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in good])
        return [t for t, _ in good], matrix, stale

    def set_vector(self, topic_id: int, spec: str, vector: np.ndarray) -> None:
        with self._tx() as db:
            db.execute("UPDATE topics SET spec = ?, vector = ? WHERE id = ?",
                       (spec, _blob(vector), topic_id))

    def drop_chat(self, chat: str) -> int:
        """Forget everything of a chat that can no longer be reached (it blocked the bot):
        its topics, their matches and unsent alerts, and its digest. Returns the topics."""
        with self._tx() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM topics WHERE chat = ?",
                                                (chat,))]
            _delete_topics(db, ids)
            db.execute("DELETE FROM digests WHERE chat = ?", (chat,))
        return len(ids)

    # Matching ----------------------------------------------------------------------------

    def unseen(self, paths: Iterable[str]) -> list[str]:
        """Which of ``paths`` no matching has looked at yet."""
        paths = list(paths)
        seen: set[str] = set()
        for i in range(0, len(paths), 500):
            chunk = paths[i:i + 500]
            seen.update(row[0] for row in self._read(
                f"SELECT path FROM seen WHERE path IN ({','.join('?' * len(chunk))})", chunk))
        return [p for p in paths if p not in seen]

    def baselined(self) -> bool:
        """Whether ``baseline`` has run on this file (a follow then reads no article list)."""
        return self.exists and bool(self._read("SELECT 1 FROM meta WHERE key = 'baseline'"))

    def baseline(self, paths: Iterable[str]) -> bool:
        """On a new follows file, note ``paths`` (what is indexed now) as seen, once: topics
        alert about what arrives after them, not about the whole archive."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'baseline'").fetchone():
                return False
            now = time.time()
            db.executemany("INSERT OR IGNORE INTO seen(path, at) VALUES (?, ?)",
                           [(p, now) for p in paths])
            db.execute("INSERT INTO meta(key, value) VALUES ('baseline', ?)", (str(now),))
        return True

    def record(self, seen: Iterable[str], matches: Sequence[NewMatch],
               same_story: Callable[[frozenset, frozenset], bool] | None = None) -> list[int]:
        """Store ``matches`` and mark ``seen`` as looked at, in one transaction; a match of a
        story the topic already has (a wire copy arriving later) is stored without an alert.
        ``same_story(a, b)`` compares two passages' shingles. Returns the new alerts' ids."""
        now = time.time()
        alerts: list[int] = []
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO seen(path, at) VALUES (?, ?)",
                           [(p, now) for p in seen])
            for m in matches:
                chat_row = db.execute("SELECT chat FROM topics WHERE id = ?",
                                      (m.topic_id,)).fetchone()
                if chat_row is None:  # unfollowed while matching ran
                    continue
                story = None
                if same_story is not None:
                    for story_id, shingles in db.execute(
                            "SELECT story, shingles FROM matches WHERE topic_id = ? "
                            "ORDER BY id DESC LIMIT 200", (m.topic_id,)):
                        if same_story(m.shingles, _shingles_from(shingles)):
                            story = story_id
                            break
                cur = db.execute(
                    "INSERT OR IGNORE INTO matches(topic_id, chat, story, path, date, at, "
                    "shingles, citation) VALUES (?, ?, 0, ?, ?, ?, ?, ?)",
                    (m.topic_id, chat_row[0], m.path, m.date, now,
                     json.dumps(sorted(" ".join(s) for s in m.shingles), ensure_ascii=False),
                     json.dumps(m.citation, ensure_ascii=False)))
                if not cur.rowcount:
                    continue
                match_id = int(cur.lastrowid or 0)
                if story is None:
                    db.execute("UPDATE matches SET story = id WHERE id = ?", (match_id,))
                    out = db.execute("INSERT INTO outbox(match_id, chat, at) VALUES (?, ?, ?)",
                                     (match_id, chat_row[0], now))
                    alerts.append(int(out.lastrowid or 0))
                else:
                    db.execute("UPDATE matches SET story = ? WHERE id = ?", (story, match_id))
                    _name_copy(db, story, m.citation)
        return alerts

    def background(self, key: str) -> dict[str, np.ndarray] | None:
        """Background vectors kept by an earlier run (``match.background``)."""
        row = self._read("SELECT value FROM meta WHERE key = ?", (f"background:{key}",))
        if not row:
            return None
        return {lang: np.array(v, dtype=np.float32) for lang, v in json.loads(row[0][0]).items()}

    def set_background(self, key: str, vectors: dict[str, np.ndarray]) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                       (f"background:{key}",
                        json.dumps({lang: v.tolist() for lang, v in vectors.items()})))

    # Delivery ----------------------------------------------------------------------------

    def pending(self, chat_prefix: str = "", limit: int = 50) -> list[Alert]:
        """Unsent alerts for chats whose id starts with ``chat_prefix``, oldest first."""
        if not self.exists:
            return []
        rows = self._read(_UNSENT + "o.chat >= ? AND o.chat < ? ORDER BY o.id LIMIT ?",
                          (chat_prefix, chat_prefix + "\uffff", limit))
        return [_alert(row) for row in rows]

    def take(self, chat: str, limit: int = 50) -> list[Alert]:
        """The unsent alerts of ``chat`` (exactly), marked sent in the same transaction: for
        front ends that deliver by being read (the terminal, a web poll), so two readers never
        get one alert twice."""
        if not self.exists:
            return []
        with self._tx() as db:
            rows = db.execute(_UNSENT + "o.chat = ? ORDER BY o.id LIMIT ?",
                              (chat, limit)).fetchall()
            db.executemany("UPDATE outbox SET sent = ? WHERE id = ?",
                           [(time.time(), row[0]) for row in rows])
        return [_alert(row) for row in rows]

    def attempt(self, alert_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (alert_id,))

    def sent(self, alert_id: int) -> None:
        """The alert was delivered: it is never sent again."""
        with self._tx() as db:
            db.execute("UPDATE outbox SET sent = ? WHERE id = ?", (time.time(), alert_id))

    # Digests -----------------------------------------------------------------------------

    def set_digest(self, chat: str, at: str, tz: str, lang: str) -> Digest:
        with self._tx() as db:
            latest = db.execute("SELECT coalesce(max(id), 0) FROM matches").fetchone()[0]
            db.execute(
                "INSERT INTO digests(chat, at, tz, lang, last_day, last_match) "
                "VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT(chat) DO UPDATE SET at = excluded.at, "
                "tz = excluded.tz, lang = excluded.lang", (chat, at, tz, lang, latest))
        return next(d for d in self.digests() if d.chat == chat)

    def stop_digest(self, chat: str) -> bool:
        with self._tx() as db:
            return bool(db.execute("DELETE FROM digests WHERE chat = ?", (chat,)).rowcount)

    def digests(self) -> list[Digest]:
        if not self.exists:
            return []
        return [Digest(*row) for row in self._read(
            "SELECT chat, at, tz, lang, last_day, last_match FROM digests ORDER BY chat")]

    def matches_since(self, chat: str, after: int) -> list[Match]:
        """The chat's matches stored after match ``after``, oldest first."""
        rows = self._read(
            "SELECT id, topic_id, chat, story, path, date, at, citation FROM matches "
            "WHERE chat = ? AND id > ? ORDER BY id", (chat, after))
        return [_match(row) for row in rows]

    def digest_sent(self, chat: str, day: str, last_match: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE digests SET last_day = ?, last_match = ? WHERE chat = ?",
                       (day, last_match, chat))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _check(db: sqlite3.Connection, chat: str, key: str, limit: int) -> None:
    rows = db.execute("SELECT id, key FROM topics WHERE chat = ?", (chat,)).fetchall()
    same = next((row[0] for row in rows if row[1] == key), None)
    if same is not None:
        raise FollowError("duplicate", f"this chat already follows topic {same}", id=same)
    if len(rows) >= limit:
        raise FollowError("limit", f"a chat may follow at most {limit} topics "
                          "(KHABAR_MAX_TOPICS_PER_CHAT); unfollow one first", limit=limit)


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _shingles_from(stored: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(s.split(" ")) for s in json.loads(stored))


def _alert(row: Sequence) -> Alert:
    return Alert(row[0], row[1], Topic(*row[3:8]), _match(row[8:]), row[2])


def _match(row: Sequence) -> Match:
    return Match(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))


def name_copy(first: dict, copy: dict) -> bool:
    """Name wire copy ``copy`` (a citation's JSON) under ``first``'s ``also_in``, once;
    whether it was new there."""
    also = first.setdefault("also_in", [])
    if copy["doc"] == first["doc"] or any(a["doc"] == copy["doc"] for a in also):
        return False
    also.append({k: copy.get(k) for k in ("doc", "title", "outlet", "date")})
    return True


def _name_copy(db: sqlite3.Connection, story: int, citation: dict) -> None:
    """Name a later wire copy's outlet under the story's first match (``also_in``), so a
    digest or an unsent alert lists it."""
    row = db.execute("SELECT citation FROM matches WHERE id = ?", (story,)).fetchone()
    if row is None:
        return
    first = json.loads(row[0])
    if name_copy(first, citation):
        db.execute("UPDATE matches SET citation = ? WHERE id = ?",
                   (json.dumps(first, ensure_ascii=False), story))


def _delete_topics(db: sqlite3.Connection, ids: Sequence[int]) -> None:
    for topic_id in ids:
        db.execute("DELETE FROM outbox WHERE match_id IN "
                   "(SELECT id FROM matches WHERE topic_id = ?)", (topic_id,))
        db.execute("DELETE FROM matches WHERE topic_id = ?", (topic_id,))
        db.execute("DELETE FROM topics WHERE id = ?", (topic_id,))
