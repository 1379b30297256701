"""Question words the corpus never uses, read as the corpus words nearest to them.

An English question over Arabic articles shares no word with them, so lexical search and the
answer's word overlap have nothing to hold on to ("killed", "airport", "talks"). The embedder
already places words of every language in one space: each corpus term gets a vector once, at
indexing, and a question word the corpus does not hold is read as its nearest corpus terms
(killed -> قتل, airport -> مطار, talks -> محادثات). Nothing is translated by rule, so it works
for any language pair the embedder knows; the neighbours are often inflections or near-synonyms
rather than translations, which is all lexical evidence needs. Measured in docs/experiments.md.

The vectors live beside the index in their own SQLite file, per embedder: a cache that any
index generation, local or Milvus, can read, and that a rebuild of the index keeps.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from khabar.retrieval.blobs import from_blobs, to_blob
from khabar.retrieval.normalize import STOPWORDS

if TYPE_CHECKING:
    from khabar.embeddings.base import Embedder

log = logging.getLogger(__name__)

# Corpus terms worth a vector: in at least this many passages (a word seen once is as often a
# typo or a scraping artefact as a word), and words of at least ``MIN_LETTERS`` letters.
MIN_PASSAGES = 2
MIN_LETTERS = 3
# A question word is read as this many corpus terms: the second often is the translation when
# the first is an inflection of a neighbour (measured: 1 and 2 on xquad-ar English).
NEIGHBOURS = 2
# Neighbours looked at to find them: the lexicon may hold terms the live generation lacks (an
# indexing run killed before publishing, articles removed since), which are passed over.
CANDIDATES = 8
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (term TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


def worth_a_vector(term: str) -> bool:
    """Whether a term can be looked up across languages: a word, not a number or a stopword."""
    return term.isalpha() and len(term) >= MIN_LETTERS and term not in STOPWORDS


class Lexicon:
    """The corpus terms' vectors (written at indexing) and the reading of unknown question
    words against them (at question time). One file per embedder in ``folder``."""

    def __init__(self, folder: Path, embedder: Embedder) -> None:
        digest = hashlib.sha256(embedder.spec.encode()).hexdigest()[:12]
        self.path = folder / f"lexicon-{digest}.sqlite"
        self.embedder = embedder
        self._lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self._terms: list[str] = []
        self._matrix = np.zeros((0, embedder.dim), dtype=np.float32)
        self._loaded = -1

    def _writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, timeout=30)
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:  # a damaged cache: start it again, it only costs time
            log.warning("lexicon_damaged_recreated", extra={"path": str(self.path)})
            self.path.unlink(missing_ok=True)
            db = sqlite3.connect(self.path, timeout=30)
            db.executescript(_SCHEMA)
        return db

    def add(self, terms: Iterable[str]) -> int:
        """Embed the corpus terms that have no vector yet; returns how many were added."""
        wanted = sorted({t for t in terms if worth_a_vector(t)})
        if not wanted:
            return 0
        db = self._writer()
        try:
            have: set[str] = set()
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                have.update(r[0] for r in db.execute(
                    f"SELECT term FROM vectors WHERE term IN ({','.join('?' * len(chunk))})",
                    chunk))
            new = [t for t in wanted if t not in have]
            if new:
                vectors = self.embedder.embed(new, query=False)
                with db:
                    db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)",
                                   ((t, to_blob(v)) for t, v in zip(new, vectors, strict=True)))
            return len(new)
        finally:
            db.close()

    def nearest(self, words: Sequence[str], k: int,
                vectors: np.ndarray | None = None) -> dict[str, list[str]]:
        """Each of ``words`` (question terms the corpus does not hold) with its ``k`` nearest
        terms of the lexicon, nearest first; words that cannot be looked up are left out.
        ``vectors`` (one query-side row per word) spare the embedding when the caller has
        them: the analyse stage embeds a question and its unknown words in one call."""
        rows = {w: i for i, w in enumerate(words) if worth_a_vector(w)}
        if not rows:
            return {}
        terms, matrix = self._corpus()
        if not terms:
            return {}
        asked = list(rows)
        if vectors is None:
            vectors = self.embedder.embed(asked, query=True)
            rows = {w: i for i, w in enumerate(asked)}
        scores = vectors[[rows[w] for w in asked]] @ matrix.T
        k = min(k, len(terms))
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return {w: [terms[j] for j in sorted(best[i], key=lambda j: -scores[i, j])]
                for i, w in enumerate(asked)}

    def _corpus(self) -> tuple[list[str], np.ndarray]:
        """The corpus terms and their vectors, read again when indexing has added some."""
        with self._lock:
            if self._reader is None:
                if not self.path.exists():
                    return [], self._matrix
                # Not read-only: a reader must be able to roll back what an indexing run killed
                # mid-write left in the journal; query_only keeps it from writing anything else.
                self._reader = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self._reader.execute("PRAGMA query_only = 1")
            try:
                newest = self._reader.execute("SELECT max(rowid) FROM vectors").fetchone()[0]
                if (newest or 0) != self._loaded:
                    rows = self._reader.execute("SELECT term, vector FROM vectors").fetchall()
                    self._terms = [r[0] for r in rows]
                    self._matrix = from_blobs([r[1] for r in rows], self.embedder.dim)
                    self._loaded = newest or 0
            except sqlite3.DatabaseError as exc:  # no lookups beats no answer
                log.warning("lexicon_unreadable", extra={"path": str(self.path),
                                                         "error": str(exc)})
                self._reader.close()
                self._reader = None
                return [], self._matrix
            return self._terms, self._matrix

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
