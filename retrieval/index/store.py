"""SQLite store: documents, passages, sentences, their vectors, and the lexical index.

The lexical index is SQLite FTS5 rather than bm25s: it updates row by row inside the same
transaction as the passages, so incremental reindexing and crash safety come free, and it lives
in the same file as everything else. bm25s is faster on huge static corpora but must rebuild
its whole matrix on every change, which is the wrong trade for a news desk adding files all day.
FTS5 sees text we already normalised and stemmed (``khabar.retrieval.normalize.tokens``), so its own
tokenizer only splits on spaces.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from khabar.retrieval.normalize import script, tokens
from khabar.retrieval.types import Document, Passage, Sentence

SCHEMA_VERSION = 4
# Vectors are stored as float16: cosine scores move by ~1e-4, and the store (which every new
# generation copies) is half the size, so adding one article to a big index copies half as much.
_VECTOR_DTYPE = np.float16


def _to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=_VECTOR_DTYPE).tobytes()


def _from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_VECTOR_DTYPE).astype(np.float32)

# One file may hold many documents (a JSON Lines export); ``documents.path`` is the file path
# for single-article files and ``file#N`` for the N-th record of an export.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT, date TEXT, outlet TEXT, url TEXT, lang TEXT,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    norm TEXT NOT NULL,
    script TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
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
CREATE TABLE IF NOT EXISTS terms (
    term TEXT PRIMARY KEY,
    df INTEGER NOT NULL
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


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store knows of an indexed file, for the unchanged-file fast path."""

    path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class DocMeta:
    """Display metadata of a stored document."""

    path: str
    title: str | None
    date: str | None
    outlet: str | None
    url: str | None
    lang: str | None


@dataclass(frozen=True, slots=True)
class StoredPassage:
    """A passage row joined with its document's metadata and text."""

    id: int
    doc: DocMeta
    start: int
    end: int
    text: str
    norm: str
    script: str
    doc_text: str


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """A document's stored text with its passages' spans, for showing a citation in context."""

    doc: DocMeta
    text: str
    passages: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class PassageRow:
    """What ranking needs of a candidate passage: no metadata, no article text."""

    id: int
    norm: str
    script: str


class Store:
    """One generation's SQLite file. Readers open it read-only; the indexer writes a copy."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            uri = f"file:{path}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self.db.execute("PRAGMA mmap_size = 1073741824")
        else:
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.executescript(_SCHEMA)
        self.db.execute("PRAGMA foreign_keys = OFF")

    def close(self) -> None:
        self.db.close()

    # --- writing -------------------------------------------------------------------------

    def files(self) -> dict[str, FileState]:
        rows = self.db.execute("SELECT path, sha256, size, mtime_ns FROM files")
        return {r[0]: FileState(*r) for r in rows}

    def set_file(self, state: FileState) -> None:
        """Record what a file looked like when indexed, so the next scan can skip it."""
        self.db.execute(
            "INSERT INTO files (path, sha256, size, mtime_ns) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,"
            " mtime_ns = excluded.mtime_ns",
            (state.path, state.sha256, state.size, state.mtime_ns),
        )

    def documents_of(self, file: str) -> dict[str, str]:
        """Document path -> content hash, for every document a file produced."""
        rows = self.db.execute("SELECT path, sha256 FROM documents WHERE file = ?", (file,))
        return dict(rows.fetchall())

    def delete_file(self, file: str) -> list[int]:
        """Remove a file and every document it produced; returns the passage ids gone."""
        gone: list[int] = []
        for path in self.documents_of(file):
            gone += self.delete_document(path)
        self.db.execute("DELETE FROM files WHERE path = ?", (file,))
        return gone

    def delete_document(self, path: str) -> list[int]:
        """Remove a document with its passages and sentences; returns the passage ids gone."""
        row = self.db.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        rows = self.db.execute("SELECT id, norm FROM passages WHERE doc_id = ?", row).fetchall()
        ids = [r[0] for r in rows]
        self._count_terms((r[1] for r in rows), -1)
        self.db.executemany("DELETE FROM sentences WHERE passage_id = ?", ((i,) for i in ids))
        self.db.execute("DELETE FROM passages WHERE doc_id = ?", row)
        self.db.execute("DELETE FROM documents WHERE id = ?", row)
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
            "INSERT INTO documents (path, file, sha256, title, date, outlet, url, lang, text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.path, file, content_hash, doc.title, doc.date, doc.outlet, doc.url, doc.lang,
             doc.text),
        )
        doc_id = cur.lastrowid
        ids: list[int] = []
        norms: list[str] = []
        s = 0
        for p, vec in zip(passages, passage_vectors, strict=True):
            norms.append(" ".join(tokens(p.text)))
            cur = self.db.execute(
                "INSERT INTO passages (doc_id, ordinal, start, end, norm, script, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, p.ordinal, p.start, p.end, norms[-1], script(p.text[:200]),
                 _to_blob(vec)),
            )
            pid = cur.lastrowid
            ids.append(pid)
            rows = []
            for span in p.sentences:
                rows.append((pid, span.start, span.end,
                             " ".join(tokens(doc.text[span.start:span.end])),
                             _to_blob(sentence_vectors[s])))
                s += 1
            self.db.executemany(
                "INSERT INTO sentences (passage_id, start, end, norm, vector)"
                " VALUES (?, ?, ?, ?, ?)", rows
            )
        self._count_terms(norms, +1)
        return ids

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

    def commit(self) -> None:
        self.db.commit()

    # --- reading -------------------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        docs = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
        return docs, passages

    def max_passage_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM passages").fetchone()[0]

    def iter_vectors(self, dim: int, batch: int = 4096,
                     after: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Passage vectors with ids above ``after``, in id order and bounded batches."""
        cur = self.db.execute("SELECT id, vector FROM passages WHERE id > ? ORDER BY id", (after,))
        while rows := cur.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = _from_blob(b"".join(r[1] for r in rows))
            yield ids, vecs.reshape(len(rows), dim)

    def sample_texts(self, n: int) -> list[str]:
        """Texts of ``n`` passages spread evenly over the store (deterministic)."""
        total = self.counts()[1]
        step = max(1, total // max(1, n))
        rows = self.db.execute(
            "SELECT substr(d.text, p.start + 1, p.end - p.start) FROM passages p"
            " JOIN documents d ON d.id = p.doc_id WHERE p.id % ? = 0 ORDER BY p.id LIMIT ?",
            (step, n),
        )
        return [r[0] for r in rows]

    def lexical(self, query_tokens: Iterable[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over passages; scores are positive, higher is better."""
        terms = sorted({t for t in query_tokens if t})
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self.db.execute(
            "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?"
            " ORDER BY bm25(passages_fts) LIMIT ?",
            (match, limit),
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages hold each term (absent terms are left out)."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        rows = self.db.execute(f"SELECT term, df FROM terms WHERE term IN ({marks})", list(terms))
        return {r[0]: int(r[1]) for r in rows}

    def passage_rows(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, norm, script FROM passages WHERE id IN ({marks})",
                               list(ids))
        return {r[0]: PassageRow(*r) for r in rows}

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            "SELECT p.id, p.start, p.end, p.norm, p.script, p.doc_id, d.path, d.title, d.date,"
            " d.outlet, d.url, d.lang FROM passages p JOIN documents d ON d.id = p.doc_id"
            f" WHERE p.id IN ({marks})",
            list(ids),
        ).fetchall()
        # Each article's text is read once, however many of its passages are candidates.
        doc_ids = sorted({r[5] for r in rows})
        texts = dict(self.db.execute(
            f"SELECT id, text FROM documents WHERE id IN ({','.join('?' * len(doc_ids))})",
            doc_ids,
        ))
        out = {}
        for pid, start, end, norm, kind, doc_id, path, title, date, outlet, url, lang in rows:
            meta = DocMeta(path, title, date, outlet, url, lang)
            text = texts[doc_id]
            out[pid] = StoredPassage(pid, meta, start, end, text[start:end], norm, kind, text)
        return out

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, vector FROM passages WHERE id IN ({marks})", list(ids))
        return {r[0]: _from_blob(r[1]) for r in rows}

    def sentences(self, passage_ids: Sequence[int]) -> list[Sentence]:
        """Every sentence of the given passages, in passage-then-text order."""
        if not passage_ids:
            return []
        marks = ",".join("?" * len(passage_ids))
        rows = self.db.execute(
            f"SELECT passage_id, start, end, norm, vector FROM sentences"
            f" WHERE passage_id IN ({marks}) ORDER BY id",
            list(passage_ids),
        )
        return [Sentence(r[0], r[1], r[2], r[3], _from_blob(r[4])) for r in rows]

    def documents(self) -> list[DocMeta]:
        rows = self.db.execute(
            "SELECT path, title, date, outlet, url, lang FROM documents ORDER BY path"
        )
        return [DocMeta(*r) for r in rows]

    def passage_counts(self) -> dict[str, int]:
        """Passages per document path."""
        rows = self.db.execute(
            "SELECT d.path, count(p.id) FROM documents d LEFT JOIN passages p ON p.doc_id = d.id"
            " GROUP BY d.id"
        )
        return dict(rows.fetchall())

    def article(self, path: str) -> StoredArticle | None:
        """One document's metadata, text and passage spans, or None if it is not stored."""
        row = self.db.execute(
            "SELECT id, path, title, date, outlet, url, lang, text FROM documents WHERE path = ?",
            (path,),
        ).fetchone()
        if row is None:
            return None
        spans = self.db.execute(
            "SELECT start, end FROM passages WHERE doc_id = ? ORDER BY ordinal", (row[0],)
        )
        return StoredArticle(DocMeta(*row[1:7]), row[7], tuple(map(tuple, spans)))
