"""SQLite store: documents, passages, sentences, their vectors, and the lexical index.

One store file serves every generation built on it. Rows are versioned instead of copied: each
row records the generation that added it (``gen_from``) and the one that removed it
(``gen_to``, NULL while alive), and a reader of generation G sees exactly the rows with
``gen_from <= G < gen_to``. So a new generation writes only what changed (adding one article to
100,000 passages no longer copies a 500 MB file) and a reader keeps a consistent view while the
writer works. The writer keeps all of a run in one transaction, which it commits once the
generation's vectors are in place, so a killed writer leaves nothing behind. The commit is the
publication: ``meta.generation`` names the live generation, and readers switch to it between
questions (``retrieval.index.generations``). Rows no kept generation can see are deleted by
``collect``. Term statistics (FTS5's and the df table) count every row in the file, so after
``collect`` BM25 sees slightly different counts for the same generation.

The lexical index is SQLite FTS5 rather than bm25s: it updates row by row inside the same
transaction as the passages, so incremental reindexing and crash safety come free, and it lives
in the same file as everything else. bm25s is faster on huge static corpora but must rebuild
its whole matrix on every change, which is the wrong trade for a news desk adding files all day.
FTS5 sees text we already normalised and stemmed (``khabar.retrieval.normalize.tokens``), so its
own tokenizer only splits on spaces.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from khabar.retrieval.blobs import from_blob, from_blobs, to_blob
from khabar.retrieval.index.records import (
    DocMeta,
    FileState,
    PassageRow,
    StoredArticle,
    StoredPassage,
)
from khabar.retrieval.normalize import script, tokens
from khabar.retrieval.translit import lookup_keys
from khabar.retrieval.types import Document, Passage, Sentence

# 11: indexing gives corpus terms vectors (``retrieval.lexicon``); a rebuild fills them in.
SCHEMA_VERSION = 11

# One file may hold many documents (a JSON Lines export); ``documents.path`` is the file path
# for single-article files and ``file#N`` for the N-th record of an export.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    problems TEXT NOT NULL DEFAULT '[]',
    gen_from INTEGER NOT NULL,
    gen_to INTEGER
);
CREATE INDEX IF NOT EXISTS files_alive ON files(path) WHERE gen_to IS NULL;
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT, date TEXT, outlet TEXT, url TEXT, lang TEXT,
    text TEXT NOT NULL,
    gen_from INTEGER NOT NULL,
    gen_to INTEGER
);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file);
CREATE INDEX IF NOT EXISTS documents_path ON documents(path);
CREATE INDEX IF NOT EXISTS documents_gone ON documents(gen_to) WHERE gen_to IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_new ON documents(gen_from);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    norm TEXT NOT NULL,
    script TEXT NOT NULL,
    vector BLOB NOT NULL,
    gen_from INTEGER NOT NULL,
    gen_to INTEGER
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE INDEX IF NOT EXISTS passages_gone ON passages(gen_to) WHERE gen_to IS NOT NULL;
CREATE INDEX IF NOT EXISTS passages_new ON passages(gen_from);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    norm TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_passage ON sentences(passage_id);
-- Passages per term, kept beside FTS5 because FTS5's own vocabulary table counts them by
-- walking every posting list: 3-6 ms a question at 100,000 passages, against ~0.1 ms here.
-- It counts what FTS5 holds: passages stay in both until ``collect`` deletes them.
CREATE TABLE IF NOT EXISTS terms (
    term TEXT PRIMARY KEY,
    df INTEGER NOT NULL
) WITHOUT ROWID;
-- Consonant skeletons and Arabic-script folds of the terms (``retrieval.translit``): how a
-- name asked in one script finds its spelling in another (Putin -> بوتين, پوتین). Rows of
-- terms no longer held stay until the terms come back; lookups join ``terms``.
CREATE TABLE IF NOT EXISTS skeletons (
    skeleton TEXT NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (skeleton, term)
) WITHOUT ROWID;
-- Per article language, the number of passages and the sum of their vectors: the language's
-- centroid, against which search measures how much a passage stands out for a question
-- (``stages.retrieve``). Kept as running sums so a small addition does not read them all.
CREATE TABLE IF NOT EXISTS languages (
    lang TEXT PRIMARY KEY,
    passages INTEGER NOT NULL,
    vector_sum BLOB NOT NULL
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    norm, content='passages', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, norm) VALUES (new.id, new.norm);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, norm) VALUES ('delete', old.id, old.norm);
END;
"""


def _visible(alias: str, generation: int) -> str:
    """The rows generation ``generation`` sees (an int of ours, never user input)."""
    return (f"{alias}.gen_from <= {int(generation)} AND "
            f"({alias}.gen_to IS NULL OR {alias}.gen_to > {int(generation)})")


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class Store:
    """A view of the store file as generation ``generation`` sees it.

    Readers open one per generation. The writer opens one with ``writer=True`` and
    ``generation`` = the generation it is building: it reads the latest committed rows and
    stamps what it adds or removes with that number.
    """

    def __init__(self, path: Path, generation: int, *, writer: bool = False) -> None:
        self.path = path
        self.generation = generation
        self.writer = writer
        # Readers and the writer share the file: WAL lets them read while it writes.
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
        if writer:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.executescript(_SCHEMA)
        else:
            self.db.execute("PRAGMA query_only = 1")
            self.db.execute("PRAGMA mmap_size = 1073741824")
        self._seen = _visible("p", generation)

    def close(self) -> None:
        self.db.close()

    # --- writing -------------------------------------------------------------------------

    def files(self) -> dict[str, FileState]:
        rows = self.db.execute(
            "SELECT path, sha256, size, mtime_ns, problems FROM files WHERE gen_to IS NULL")
        return {r[0]: FileState(r[0], r[1], r[2], r[3],
                                tuple(tuple(p) for p in json.loads(r[4]))) for r in rows}

    def files_at(self, paths: Sequence[str]) -> dict[str, FileState]:
        """``files()`` for the given paths alone (a targeted run reads no other row)."""
        out: dict[str, FileState] = {}
        for path in dict.fromkeys(paths):
            row = self.db.execute(
                "SELECT path, sha256, size, mtime_ns, problems FROM files"
                " WHERE path = ? AND gen_to IS NULL", (path,)).fetchone()
            if row:
                out[path] = FileState(row[0], row[1], row[2], row[3],
                                      tuple(tuple(p) for p in json.loads(row[4])))
        return out

    def set_file(self, state: FileState) -> None:
        """Record what a file looked like when indexed, so the next scan can skip it."""
        self._drop_file_state(state.path)
        self.db.execute(
            "INSERT INTO files (path, sha256, size, mtime_ns, problems, gen_from)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (state.path, state.sha256, state.size, state.mtime_ns,
             json.dumps([list(p) for p in state.problems], ensure_ascii=False), self.generation),
        )

    def _drop_file_state(self, path: str) -> None:
        self.db.execute("UPDATE files SET gen_to = ? WHERE path = ? AND gen_to IS NULL",
                        (self.generation, path))

    def documents_of(self, file: str) -> dict[str, str]:
        """Document path -> content hash, for every live document a file produced."""
        rows = self.db.execute(
            "SELECT path, sha256 FROM documents WHERE file = ? AND gen_to IS NULL", (file,))
        return dict(rows.fetchall())

    def delete_file(self, file: str) -> list[int]:
        """Remove a file and every document it produced; returns the passage ids gone."""
        gone: list[int] = []
        for path in self.documents_of(file):
            gone += self.delete_document(path)
        self._drop_file_state(file)
        return gone

    def delete_document(self, path: str) -> list[int]:
        """Remove a document with its passages; returns the passage ids gone."""
        row = self.db.execute("SELECT id FROM documents WHERE path = ? AND gen_to IS NULL",
                              (path,)).fetchone()
        if row is None:
            return []
        rows = self.db.execute(
            "SELECT p.id, p.vector, d.lang FROM passages p JOIN documents d ON d.id = p.doc_id"
            " WHERE p.doc_id = ? AND p.gen_to IS NULL", row).fetchall()
        ids = [r[0] for r in rows]
        if rows:
            self._count_language(rows[0][2], np.vstack([from_blob(r[1]) for r in rows]), -1)
        self.db.execute("UPDATE passages SET gen_to = ? WHERE doc_id = ? AND gen_to IS NULL",
                        (self.generation, row[0]))
        self.db.execute("UPDATE documents SET gen_to = ? WHERE id = ?", (self.generation, row[0]))
        return ids

    def add_document(
        self,
        doc: Document,
        file: str,
        content_hash: str,
        passages: Sequence[Passage],
        passage_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
    ) -> list[int]:
        """Insert a parsed document; sentence vectors are in passage-then-sentence order."""
        cur = self.db.execute(
            "INSERT INTO documents (path, file, sha256, title, date, outlet, url, lang, text,"
            " gen_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.path, file, content_hash, doc.title, doc.date, doc.outlet, doc.url, doc.lang,
             doc.text, self.generation),
        )
        doc_id = cur.lastrowid
        ids: list[int] = []
        norms: list[str] = []
        s = 0
        for p, vec in zip(passages, passage_vectors, strict=True):
            norms.append(" ".join(tokens(p.text)))
            cur = self.db.execute(
                "INSERT INTO passages (doc_id, ordinal, start, end, norm, script, vector,"
                " gen_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (doc_id, p.ordinal, p.start, p.end, norms[-1], script(p.text[:200]),
                 to_blob(vec), self.generation),
            )
            pid = cur.lastrowid
            ids.append(pid)
            rows = []
            for span in p.sentences:
                rows.append((pid, span.start, span.end,
                             " ".join(tokens(doc.text[span.start:span.end])),
                             to_blob(sentence_vectors[s])))
                s += 1
            self.db.executemany(
                "INSERT INTO sentences (passage_id, start, end, norm, vector)"
                " VALUES (?, ?, ?, ?, ?)", rows
            )
        self._count_terms(norms, +1)
        self._count_language(doc.lang, np.asarray(passage_vectors), +1)
        return ids

    def _count_language(self, lang: str | None, vectors: np.ndarray, sign: int) -> None:
        """Add (``sign`` +1) or remove (-1) passages' vectors from their language's sum."""
        if lang is None or not len(vectors):
            return
        row = self.db.execute("SELECT passages, vector_sum FROM languages WHERE lang = ?",
                              (lang,)).fetchone()
        total = np.asarray(vectors, dtype=np.float64).sum(axis=0) * sign
        count = len(vectors) * sign
        if row is not None and len(row[1]) == total.nbytes:
            total += np.frombuffer(row[1], dtype=np.float64)
            count += row[0]
        self.db.execute("INSERT INTO languages (lang, passages, vector_sum) VALUES (?, ?, ?)"
                        " ON CONFLICT(lang) DO UPDATE SET passages = excluded.passages,"
                        " vector_sum = excluded.vector_sum", (lang, count, total.tobytes()))

    def _count_terms(self, norms: Iterable[str], sign: int) -> None:
        """Add (``sign`` +1) or remove (-1) passages' distinct terms from the df table."""
        counts = Counter(t for norm in norms for t in set(norm.split()))
        self.db.executemany(
            "INSERT INTO terms (term, df) VALUES (?, ?)"
            " ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
            ((t, sign * n) for t, n in counts.items()),
        )
        if sign < 0:
            self.db.executemany("DELETE FROM terms WHERE term = ? AND df <= 0",
                                ((t,) for t in counts))
        else:
            self.db.executemany("INSERT OR IGNORE INTO skeletons (skeleton, term) VALUES (?, ?)",
                                ((k, t) for t in counts for k in lookup_keys(t)))

    def commit(self) -> None:
        """Publish this generation: its rows and the store's record of the live generation
        change in one transaction, so readers see all of it or none, and a writer killed
        before this leaves no trace."""
        self.db.execute("INSERT INTO meta (key, value) VALUES ('generation', ?)"
                        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (self.generation,))
        self.db.commit()

    def collect(self, oldest_kept: int) -> None:
        """Delete the rows no kept generation (``oldest_kept`` and newer) can see."""
        rows = self.db.execute(
            "SELECT id, norm FROM passages WHERE gen_to IS NOT NULL AND gen_to <= ?",
            (oldest_kept,)).fetchall()
        ids = [(r[0],) for r in rows]
        self._count_terms((r[1] for r in rows), -1)
        self.db.executemany("DELETE FROM sentences WHERE passage_id = ?", ids)
        self.db.executemany("DELETE FROM passages WHERE id = ?", ids)
        for table in ("documents", "files"):
            self.db.execute(f"DELETE FROM {table} WHERE gen_to IS NOT NULL AND gen_to <= ?",
                            (oldest_kept,))
        self.db.commit()

    # --- reading -------------------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(documents, passages) this generation sees."""
        docs = self.db.execute(
            f"SELECT count(*) FROM documents d WHERE {_visible('d', self.generation)}"
        ).fetchone()[0]
        passages = self.db.execute(f"SELECT count(*) FROM passages p WHERE {self._seen}"
                                   ).fetchone()[0]
        return docs, passages

    def counts_since(self, since: int, documents: int, passages: int) -> tuple[int, int]:
        """``counts()`` from generation ``since``'s counts and what changed after it: reads
        only the changed rows (counting all of them took 40 ms at 30,000 passages)."""
        out = []
        for table, before in (("documents", documents), ("passages", passages)):
            added = self.db.execute(
                f"SELECT count(*) FROM {table} t WHERE t.gen_from > ?"
                f" AND {_visible('t', self.generation)}", (since,)).fetchone()[0]
            gone = self.db.execute(
                f"SELECT count(*) FROM {table} t WHERE t.gen_to IS NOT NULL AND t.gen_to <= ?"
                f" AND {_visible('t', since)}", (self.generation,)).fetchone()[0]
            out.append(before + added - gone)
        return out[0], out[1]

    def iter_vectors(self, dim: int, batch: int = 4096, *,
                     since: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Passage vectors this generation sees, in id order and bounded batches; with
        ``since``, only those added after generation ``since``."""
        cur = self.db.execute(
            f"SELECT id, vector FROM passages p WHERE {self._seen} AND p.gen_from > ?"
            " ORDER BY id", (since,))
        while rows := cur.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, from_blobs([r[1] for r in rows], dim)

    def removed_since(self, since: int) -> list[int]:
        """Passage ids generation ``since`` saw and this generation no longer sees."""
        return [r[0] for r in self.db.execute(
            f"SELECT id FROM passages p WHERE {_visible('p', since)}"
            " AND p.gen_to IS NOT NULL AND p.gen_to <= ?", (self.generation,))]

    def sample_texts(self, n: int) -> list[str]:
        """Texts of ``n`` passages spread evenly over the store (deterministic)."""
        total = self.counts()[1]
        step = max(1, total // max(1, n))
        rows = self.db.execute(
            "SELECT substr(d.text, p.start + 1, p.end - p.start) FROM passages p"
            f" JOIN documents d ON d.id = p.doc_id WHERE {self._seen} AND p.id % ? = 0"
            " ORDER BY p.id LIMIT ?",
            (step, n),
        )
        return [r[0] for r in rows]

    def lexical(self, query_tokens: Iterable[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over the passages this generation sees; scores are positive, higher is better."""
        terms = sorted({t for t in query_tokens if t})
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        # The full-text index holds every generation's rows. Joining each match to its passage
        # row to ask whether this generation sees it read every matching row (a passage with
        # its vector: one page each), 60% of the lexical time at 10,000 passages; instead the
        # best ``want`` are ranked on the full-text index alone and only they are checked,
        # asking for more in the rare case that too many belong to other generations.
        want = limit
        while True:
            rows = self.db.execute(
                "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?"
                " ORDER BY bm25(passages_fts) LIMIT ?", (match, want)).fetchall()
            seen = self._visible_ids([r[0] for r in rows])
            hits = [(int(r[0]), float(r[1])) for r in rows if r[0] in seen]
            if len(hits) >= limit or len(rows) < want:
                return hits[:limit]
            want *= 4

    def _visible_ids(self, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        rows = self.db.execute(f"SELECT p.id FROM passages p WHERE p.id IN ({_marks(ids)})"
                               f" AND {self._seen}", list(ids))
        return {r[0] for r in rows}

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages hold each term (absent terms are left out)."""
        if not terms:
            return {}
        rows = self.db.execute(f"SELECT term, df FROM terms WHERE term IN ({_marks(terms)})",
                               list(terms))
        return {r[0]: int(r[1]) for r in rows}

    def spellings(self, keys: Iterable[str]) -> dict[str, int]:
        """The terms held under any of ``keys`` (``translit.lookup_keys``), with their df."""
        keys = sorted(set(keys))
        if not keys:
            return {}
        rows = self.db.execute(
            "SELECT DISTINCT t.term, t.df FROM skeletons s JOIN terms t ON t.term = s.term"
            f" WHERE s.skeleton IN ({_marks(keys)})", keys)
        return {r[0]: int(r[1]) for r in rows}

    def passage_rows(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        """Ranking data of those ``ids`` this generation sees (others are left out)."""
        if not ids:
            return {}
        rows = self.db.execute(
            "SELECT p.id, p.norm, p.script, d.lang, d.date FROM passages p"
            f" JOIN documents d ON d.id = p.doc_id WHERE p.id IN ({_marks(ids)}) AND {self._seen}",
            list(ids))
        return {r[0]: PassageRow(*r) for r in rows}

    def language_centroids(self, dim: int) -> dict[str, np.ndarray]:
        """The mean passage vector of each article language (kept as running sums)."""
        rows = self.db.execute("SELECT lang, passages, vector_sum FROM languages"
                               " WHERE passages > 0")
        return {r[0]: (np.frombuffer(r[2], dtype=np.float64) / r[1]).astype(np.float32)
                for r in rows if len(r[2]) == 8 * dim}

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Those ``ids`` this generation sees, with their articles."""
        if not ids:
            return {}
        rows = self.db.execute(
            "SELECT p.id, p.start, p.end, p.norm, p.script, p.doc_id, d.path, d.title, d.date,"
            " d.outlet, d.url, d.lang FROM passages p JOIN documents d ON d.id = p.doc_id"
            f" WHERE p.id IN ({_marks(ids)}) AND {self._seen}",
            list(ids),
        ).fetchall()
        # Each article's text is read once, however many of its passages are candidates.
        doc_ids = sorted({r[5] for r in rows})
        texts = dict(self.db.execute(
            f"SELECT id, text FROM documents WHERE id IN ({_marks(doc_ids)})", doc_ids))
        out = {}
        for pid, start, end, norm, kind, doc_id, path, title, date, outlet, url, lang in rows:
            meta = DocMeta(path, title, date, outlet, url, lang)
            text = texts[doc_id]
            out[pid] = StoredPassage(pid, meta, start, end, text[start:end], norm, kind, text)
        return out

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not ids:
            return {}
        rows = self.db.execute(f"SELECT id, vector FROM passages WHERE id IN ({_marks(ids)})",
                               list(ids))
        return {r[0]: from_blob(r[1]) for r in rows}

    def sentences(self, passage_ids: Sequence[int]) -> list[Sentence]:
        """Every sentence of the given passages, in passage-then-text order."""
        if not passage_ids:
            return []
        rows = self.db.execute(
            f"SELECT passage_id, start, end, norm, vector FROM sentences"
            f" WHERE passage_id IN ({_marks(passage_ids)}) ORDER BY id",
            list(passage_ids),
        )
        return [Sentence(r[0], r[1], r[2], r[3], from_blob(r[4])) for r in rows]

    def documents(self) -> list[DocMeta]:
        """The articles this generation sees, by path."""
        rows = self.db.execute(
            "SELECT path, title, date, outlet, url, lang FROM documents d"
            f" WHERE {_visible('d', self.generation)} ORDER BY path"
        )
        return [DocMeta(*r) for r in rows]

    def passage_counts(self) -> dict[str, int]:
        """Passages per document path, as this generation sees them."""
        rows = self.db.execute(
            "SELECT d.path, count(p.id) FROM documents d LEFT JOIN passages p"
            f" ON p.doc_id = d.id AND {self._seen} WHERE {_visible('d', self.generation)}"
            " GROUP BY d.id"
        )
        return dict(rows.fetchall())

    def passage_ids(self, paths: Sequence[str]) -> dict[str, list[int]]:
        """The passage ids of each of ``paths`` this generation sees, in text order."""
        out: dict[str, list[int]] = {}
        for i in range(0, len(paths), 500):
            chunk = list(paths[i:i + 500])
            rows = self.db.execute(
                "SELECT d.path, p.id FROM documents d JOIN passages p ON p.doc_id = d.id"
                f" AND {self._seen} WHERE {_visible('d', self.generation)}"
                f" AND d.path IN ({_marks(chunk)}) ORDER BY p.id", chunk)
            for path, pid in rows:
                out.setdefault(path, []).append(pid)
        return out

    def article(self, path: str) -> StoredArticle | None:
        """One document's metadata, text and passage spans, or None if it is not stored."""
        row = self.db.execute(
            "SELECT id, path, title, date, outlet, url, lang, text FROM documents d"
            f" WHERE path = ? AND {_visible('d', self.generation)}",
            (path,),
        ).fetchone()
        if row is None:
            return None
        spans = self.db.execute(
            f"SELECT start, end FROM passages p WHERE doc_id = ? AND {self._seen} ORDER BY ordinal",
            (row[0],)
        )
        return StoredArticle(DocMeta(*row[1:7]), row[7], tuple(map(tuple, spans)))
