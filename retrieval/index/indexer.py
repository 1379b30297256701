"""Incremental, atomic indexing of a seeds directory into a new generation.

Unchanged files are recognised by size and mtime without reading them, and by content hash
when only the mtime moved; their passages and vectors are carried over, never re-embedded.
Everything is written into a new generation that becomes live only when complete (see
``khabar.retrieval.index.backend``), so a killed run costs nothing but its own work.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from khabar.embeddings.base import Embedder
from khabar.retrieval.errors import SeedsNotFoundError
from khabar.retrieval.index.backend import (
    IndexBackend,
    IndexWriteError,
    StoreWriter,
    check_compatible,
)
from khabar.retrieval.index.records import FileState
from khabar.retrieval.ingest.chunking import Chunker, embedding_text
from khabar.retrieval.ingest.decoding import UnreadableFileError
from khabar.retrieval.ingest.formats import ARTICLE_SUFFIXES, is_article, is_hidden, read_articles
from khabar.retrieval.lexicon import MIN_PASSAGES, Lexicon, worth_a_vector
from khabar.retrieval.normalize import tokens
from khabar.retrieval.types import Document, Passage

log = logging.getLogger(__name__)
# Texts per embedder call: enough to keep both cores busy, small enough to bound memory.
_EMBED_BATCH_TEXTS = 256
_REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry left out of a run (or indexed with a warning), with a short reason that never
    quotes the file's content."""

    path: str
    reason: str

    @classmethod
    def of(cls, path: str, reason: str) -> Skipped:
        return cls(path, reason if len(reason) <= _REASON_CHARS else
                   reason[:_REASON_CHARS - 1] + "…")


@dataclass
class IndexReport:
    """The outcome of one run; ``summary()`` is the one line every run prints."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded_passages: int = 0
    embedded_texts: int = 0
    embedded_chars: int = 0
    passages: int = 0
    documents: int = 0
    seconds: float = 0.0
    generation: str | None = None
    skipped: list[Skipped] = field(default_factory=list)
    # Indexed, but something the user should know (a few undecodable bytes replaced).
    warnings: list[Skipped] = field(default_factory=list)
    # Damage found in the index and repaired by rebuilding it from the articles.
    repaired: list[str] = field(default_factory=list)
    # New corpus words given a vector for cross-language lookups (``retrieval.lexicon``).
    words: int = 0

    @property
    def ok(self) -> bool:
        return not self.skipped

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.skipped)

    def summary(self) -> str:
        line = (
            f"indexed: {self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped; "
            f"{self.documents} documents, {self.passages} passages "
            f"({self.embedded_passages} embedded)"
            + (f", {self.words} new words for cross-language lookups" if self.words else "")
            + f" in {self.seconds:.1f}s"
        )
        return line

    def to_json(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "removed": self.removed,
            "unchanged": self.unchanged, "documents": self.documents,
            "passages": self.passages, "embedded_passages": self.embedded_passages,
            "seconds": round(self.seconds, 3), "generation": self.generation,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": [{"path": s.path, "reason": s.reason} for s in self.warnings],
            "repaired": self.repaired, "words": self.words,
        }


@dataclass(frozen=True, slots=True)
class _Changed:
    """A file whose bytes differ from what the index holds (or that it has never seen)."""

    rel: str
    path: Path
    mtime_ns: int


@dataclass
class _Pending:
    doc: Document
    file: str
    content_hash: str
    passages: list[Passage]


ProgressFn = Callable[[int, int], None]


class Indexer:
    """Brings ``index_dir`` in line with a seeds directory."""

    def __init__(self, index_dir: IndexBackend, embedder: Embedder, chunker: Chunker,
                 max_file_bytes: int = 20_000_000, lexicon: Lexicon | None = None) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.chunker = chunker
        self.max_file_bytes = max_file_bytes
        self.lexicon = lexicon
        # The terms of this run's stored passages, for the lexicon.
        self._new_terms: set[str] = set()

    def run(self, seeds: Path, *, rebuild: bool = False, progress: ProgressFn | None = None,
            only: Sequence[str] | None = None) -> IndexReport:
        """Bring the index in line with ``seeds``; with ``only`` (paths relative to ``seeds``),
        look at those files alone: what a new article costs is then its embedding, not a scan
        of every file. An index that must be built or rebuilt is built from all of ``seeds``."""
        if not seeds.is_dir():
            raise SeedsNotFoundError(
                f"seeds directory {seeds} does not exist; create it or pass --seeds DIR "
                "(KHABAR_SEEDS_DIR)"
            )
        started = time.perf_counter()
        with self.index_dir.lock():
            self.index_dir.recover()
            self._new_terms = set()
            try:
                report = self._run(seeds, rebuild, progress or (lambda done, total: None),
                                   only)
            except (OSError, RuntimeError, sqlite3.OperationalError) as exc:
                reason = _write_failure(exc)
                if reason is None:
                    raise
                self.index_dir.recover()  # the unfinished build goes at once
                raise IndexWriteError(
                    f"cannot write the index at {self.index_dir.describe()}: {reason}. Free "
                    "some space and run `khabar index` again; the previous index keeps "
                    "answering.") from None
        report.seconds = time.perf_counter() - started
        return report

    def _run(self, seeds: Path, rebuild: bool, progress: ProgressFn,
             only: Sequence[str] | None = None) -> IndexReport:
        report = IndexReport()
        damage = self.index_dir.damage()
        if damage:
            log.warning("index_damaged_rebuilding", extra={"found": damage})
            report.repaired.append(damage)
        manifest = None if rebuild or damage else self.index_dir.manifest()
        schema = self.index_dir.schema
        if manifest is not None and (manifest.schema != schema or manifest.store is None):
            log.info("schema_changed_rebuilding", extra={"old": manifest.schema, "new": schema})
            manifest = None
        if manifest is not None:
            check_compatible(manifest, self.index_dir.describe(), self.embedder.spec, None,
                             schema)
            if manifest.chunking != self.chunker.settings:
                log.info("passage_settings_changed_rebuilding",
                         extra={"old": manifest.chunking, "new": self.chunker.settings})
                manifest = None  # every passage would differ: start over
        store = self.index_dir.writer(manifest, self.embedder.dim)
        try:
            if only is not None and manifest is not None:
                changed, touched, removed = self._scan_only(seeds, only, store, report)
            else:
                changed, touched, removed = self._scan(seeds, store.files(), report)
            if not (changed or removed or touched) and manifest is not None:
                report.documents, report.passages = manifest.documents, manifest.passages
                report.generation = self.index_dir.current_name()
                return report
            for rel in removed:
                store.delete_file(rel)
                report.removed += 1
            for state in touched:
                store.set_file(state)
            self._index_files(store, changed, report, progress)
            if manifest is None:
                report.documents, report.passages = store.counts()
            else:
                report.documents, report.passages = store.counts_since(
                    manifest.generation, manifest.documents, manifest.passages)
            # Before publishing: a run killed after it would leave the lexicon behind the index
            # for good (the next run finds nothing new); killed before it, the next run redoes it.
            report.words = self._update_lexicon(store)
            report.generation = self.index_dir.publish(
                store, self.embedder, base=manifest, documents=report.documents,
                passages=report.passages, chunking=self.chunker.settings)
        finally:
            store.close()
        self.index_dir.collect()
        return report

    def _scan(self, seeds: Path, known: dict[str, FileState], report: IndexReport,
              ) -> tuple[list[_Changed], list[FileState], list[str]]:
        """Sort files into changed / only touched / removed; reads a file only when its size or
        mtime moved, and keeps no file contents (memory stays flat on 10,000 files).

        An entry that cannot be listed, statted or named is reported and counts as present:
        what was indexed from it stays indexed until it is fixed or really removed.
        """
        changed: list[_Changed] = []
        touched: list[FileState] = []
        listing = _article_files(seeds)
        report.skipped += listing.problems
        present = {p.path for p in listing.problems}
        present |= {rel for rel in known if rel.startswith(listing.unlistable)}
        for rel, st in listing.files:
            present.add(rel)
            old = known.get(rel)
            if old and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
                report.unchanged += 1
                report.skipped += [Skipped.of(path, why) for path, why in old.problems]
                continue
            if st.st_size > self.max_file_bytes:
                report.skipped.append(Skipped.of(rel, f"larger than the {self.max_file_bytes:,}"
                                                      "-byte limit (KHABAR_MAX_FILE_BYTES)"))
                continue
            path = seeds / rel
            if old:
                try:
                    same = old.sha256 == _sha256(path.read_bytes())
                except OSError:
                    same = False  # read again below, where the error is reported
                if same:
                    report.unchanged += 1
                    report.skipped += [Skipped.of(p, why) for p, why in old.problems]
                    touched.append(replace(old, size=st.st_size, mtime_ns=st.st_mtime_ns))
                    continue
            changed.append(_Changed(rel, path, st.st_mtime_ns))
        return changed, touched, sorted(set(known) - present)

    def _scan_only(self, seeds: Path, only: Sequence[str], store: StoreWriter,
                   report: IndexReport,
                   ) -> tuple[list[_Changed], list[FileState], list[str]]:
        """``_scan`` for the files named in ``only``: a missing one that was indexed is
        removed; the others are sorted as ``_scan`` sorts them."""
        known = store.files_at(only)
        changed: list[_Changed] = []
        touched: list[FileState] = []
        removed: list[str] = []
        for rel in dict.fromkeys(only):
            path = seeds / rel
            try:
                st = path.stat()
            except FileNotFoundError:
                removed += [rel] if rel in known else []
                continue
            except OSError as exc:
                report.skipped.append(Skipped.of(rel, _os_reason(exc, path.is_symlink())))
                continue
            old = known.get(rel)
            if not stat.S_ISREG(st.st_mode) or not is_article(rel) or is_hidden(path.name):
                report.skipped.append(Skipped.of(rel, "not an article file"))
            elif old and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns):
                report.unchanged += 1
                report.skipped += [Skipped.of(p, why) for p, why in old.problems]
            elif st.st_size > self.max_file_bytes:
                report.skipped.append(Skipped.of(rel, f"larger than the {self.max_file_bytes:,}"
                                                      "-byte limit (KHABAR_MAX_FILE_BYTES)"))
            elif old and _same_bytes(old, path):
                report.unchanged += 1
                report.skipped += [Skipped.of(p, why) for p, why in old.problems]
                touched.append(replace(old, size=st.st_size, mtime_ns=st.st_mtime_ns))
            else:
                changed.append(_Changed(rel, path, st.st_mtime_ns))
        return changed, touched, removed

    def _index_files(self, store: StoreWriter, files: list[_Changed], report: IndexReport,
                     progress: ProgressFn) -> None:
        """Embed and store the changed files in bounded batches.

        Inside a changed export only the records whose content changed are re-embedded, so
        appending one article to a JSON Lines feed costs one article.
        """
        batch: list[_Pending] = []
        texts = 0
        for done, item in enumerate(files, start=1):
            progress(done - 1, len(files))
            try:
                data = item.path.read_bytes()
                extracted = read_articles(item.rel, data)
            except UnreadableFileError as exc:
                # The previous version (if any) stays indexed and the file is retried next run.
                report.skipped.append(Skipped.of(item.rel, str(exc)))
                continue
            except OSError as exc:
                report.skipped.append(Skipped.of(item.rel, _os_reason(exc)))
                continue
            report.skipped += [Skipped.of(path, why) for path, why in extracted.problems]
            report.warnings += [Skipped.of(path, why) for path, why in extracted.warnings]
            old = store.documents_of(item.rel)
            problems = list(extracted.problems)
            keep = {path for path, _ in extracted.problems}
            for doc in extracted.documents:
                passages = list(self.chunker.passages(doc))
                if not passages:
                    problems.append((doc.path, "no article text found after cleaning"))
                    report.skipped.append(Skipped.of(*problems[-1]))
                    continue
                keep.add(doc.path)
                digest = _content_hash(doc)
                if old.get(doc.path) == digest:
                    continue
                store.delete_document(doc.path)
                batch.append(_Pending(doc, item.rel, digest, passages))
                texts += sum(1 + _extra_sentences(p) for p in passages)
                if texts >= _EMBED_BATCH_TEXTS:
                    self._flush(store, batch, report)
                    batch, texts = [], 0
            for stale in old.keys() - keep:
                store.delete_document(stale)
            if keep or old or problems:
                # Problems are kept with the file's state, so an unchanged file that yields
                # nothing is reported on every run until it is fixed or removed.
                store.set_file(FileState(item.rel, _sha256(data), len(data), item.mtime_ns,
                                         tuple(problems)))
            if old:
                report.updated += 1
            elif keep - {path for path, _ in problems}:
                report.added += 1
        self._flush(store, batch, report)
        progress(len(files), len(files))

    def _flush(self, store: StoreWriter, batch: list[_Pending], report: IndexReport) -> None:
        if not batch:
            return
        texts: list[str] = []
        for item in batch:
            for p in item.passages:
                texts.append(embedding_text(p, item.doc.title))
                if _extra_sentences(p):
                    texts.extend(item.doc.text[s.start:s.end] for s in p.sentences)
        vectors = self.embedder.embed(texts, query=False)
        report.embedded_texts += len(texts)
        report.embedded_chars += sum(len(t) for t in texts)
        at = 0
        for item in batch:
            passage_rows, sentence_rows = [], []
            for p in item.passages:
                passage_rows.append(vectors[at])
                if _extra_sentences(p):
                    sentence_rows.extend(vectors[at + 1:at + 1 + len(p.sentences)])
                    at += 1 + len(p.sentences)
                else:
                    # A one-sentence passage's sentence vector is the passage vector itself.
                    sentence_rows.extend([vectors[at]] * len(p.sentences))
                    at += 1
            sentences = np.array(sentence_rows, dtype=np.float32).reshape(-1, self.embedder.dim)
            store.add_document(item.doc, item.file, item.content_hash, item.passages,
                               np.array(passage_rows), sentences)
            report.embedded_passages += len(item.passages)
            if self.lexicon is not None:
                for p in item.passages:
                    self._new_terms.update(t for t in tokens(p.text) if worth_a_vector(t))

    def _update_lexicon(self, store: StoreWriter) -> int:
        """Vectors for the terms of this run's passages that two passages or more of the
        generation being built hold (``retrieval.lexicon``). A term's second passage may come
        in a later run; it is new in that run."""
        terms, self._new_terms = sorted(self._new_terms), set()
        if self.lexicon is None or not terms:
            return 0
        df: dict[str, int] = {}
        for i in range(0, len(terms), 5000):
            df.update(store.document_frequencies(terms[i:i + 5000]))
        return self.lexicon.add(t for t in terms if df.get(t, 0) >= MIN_PASSAGES)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same_bytes(state: FileState, path: Path) -> bool:
    try:
        return state.sha256 == _sha256(path.read_bytes())
    except OSError:
        return False  # read again when indexed, where the error is reported


def _content_hash(doc: Document) -> str:
    """What a document's passages and vectors depend on; equal hashes let them be carried."""
    blocks = [(b.start, b.end) for b in doc.blocks]
    key = json.dumps([doc.text, doc.title, doc.date, doc.outlet, doc.url, blocks])
    return _sha256(key.encode("utf-8"))


def _extra_sentences(p: Passage) -> int:
    return len(p.sentences) if len(p.sentences) > 1 else 0


@dataclass
class _Listing:
    files: list[tuple[str, os.stat_result]] = field(default_factory=list)
    problems: list[Skipped] = field(default_factory=list)
    # Folders that could not be listed ("a/b/"): what was indexed under them is kept.
    unlistable: tuple[str, ...] = ()


def _article_files(seeds: Path) -> _Listing:
    """The article files under ``seeds`` with their stat, hidden ones left out, and the entries
    that could not be read as such (each with its reason); other files are logged once per run
    and left alone.

    ``os.scandir`` hands back each entry's type with the listing, so a 10,000-file tree costs one
    ``stat`` a file and no path objects (pathlib's rglob was two thirds of an unchanged check).
    Symbolic links to files are followed; links to folders are not (a loop would never end).
    """
    out = _Listing()
    ignored: list[str] = []
    unlistable: list[str] = []
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        try:
            with os.scandir(seeds / rel_dir if rel_dir else seeds) as entries:
                listed = list(entries)
        except OSError as exc:
            if not rel_dir:
                raise SeedsNotFoundError(f"cannot list the seeds directory {seeds}: "
                                         f"{_os_reason(exc)}") from None
            out.problems.append(Skipped.of(rel_dir + "/", f"cannot list this folder: "
                                                          f"{_os_reason(exc)}"))
            unlistable.append(rel_dir + "/")
            continue
        for entry in listed:
            if is_hidden(entry.name):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(rel)
                    continue
                if not is_article(entry.name):
                    ignored.append(entry.name)
                    continue
                if not _utf8_name(rel):
                    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8",
                                                                         "backslashreplace")
                    out.problems.append(Skipped.of(shown, "the file name is not valid UTF-8; "
                                                          "rename the file"))
                    continue
                st = entry.stat()
            except OSError as exc:
                out.problems.append(Skipped.of(rel, _os_reason(exc, entry.is_symlink())))
                continue
            if stat.S_ISDIR(st.st_mode):
                ignored.append(entry.name)  # a link to a folder: not followed
            elif stat.S_ISREG(st.st_mode):
                out.files.append((rel, st))
            else:
                out.problems.append(Skipped.of(rel, "not a regular file"))
    if ignored:
        log.info("unknown_extensions_skipped",
                 extra={"count": len(ignored), "example": ignored[0],
                        "known": " ".join(ARTICLE_SUFFIXES)})
    out.files.sort()
    out.unlistable = tuple(unlistable)
    return out


_NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _write_failure(exc: BaseException) -> str | None:
    """The reason, if ``exc`` says the disk is full (or a file size limit was reached), as
    the OS, SQLite or FAISS word it; None for anything else (a bug, shown as such)."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return os.strerror(exc.errno).lower()
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("full" in text or "disk i/o" in text):
        return "no space left on the device (SQLite: " + str(exc) + ")"
    if isinstance(exc, RuntimeError) and any(os.strerror(e).lower() in text for e in _NO_SPACE):
        return "no space left on the device (FAISS could not write its file)"
    return None


def _utf8_name(name: str) -> bool:
    """Whether a name read from the file system is valid UTF-8 (Python keeps invalid bytes as
    lone surrogates, which nothing downstream can store or print)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(exc: OSError, link: bool = False) -> str:
    """A short, stable reason for an operating-system error on one entry."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError):
        return "broken symbolic link" if link else "disappeared while being indexed"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "a folder, not a file"
    return exc.strerror or type(exc).__name__
