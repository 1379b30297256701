"""Incremental, atomic indexing of a seeds directory into a new generation.

Unchanged files are recognised by size and mtime without reading them, and by content hash
when only the mtime moved; their passages and vectors are carried over, never re-embedded.
Everything is written into a new generation directory that becomes live only when complete
(see ``retrieval.index``), so a killed run costs nothing but its own work.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.base import Embedder
from retrieval.chunking import Chunker, embedding_text
from retrieval.corpus import parse
from retrieval.decoding import UnreadableFileError, decode
from retrieval.index import IndexDir, Manifest, check_compatible
from retrieval.store import SCHEMA_VERSION, FileState, Store
from retrieval.types import Document, Passage
from retrieval.vectors import VectorIndex, kind_for

ARTICLE_SUFFIXES = (".txt",)
# Texts per embedder call: enough to keep both cores busy, small enough to bound memory.
_EMBED_BATCH_TEXTS = 256


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


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

    @property
    def ok(self) -> bool:
        return not self.skipped

    def summary(self) -> str:
        line = (
            f"indexed: {self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped; "
            f"{self.documents} documents, {self.passages} passages "
            f"({self.embedded_passages} embedded) in {self.seconds:.1f}s"
        )
        return line

    def to_json(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "removed": self.removed,
            "unchanged": self.unchanged, "documents": self.documents,
            "passages": self.passages, "embedded_passages": self.embedded_passages,
            "seconds": round(self.seconds, 3), "generation": self.generation,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


@dataclass
class _Pending:
    doc: Document
    state: FileState
    passages: list[Passage]
    replaces: bool


ProgressFn = Callable[[int, int], None]


class Indexer:
    """Brings ``index_dir`` in line with a seeds directory."""

    def __init__(self, index_dir: IndexDir, embedder: Embedder, chunker: Chunker,
                 max_file_bytes: int = 20_000_000) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.chunker = chunker
        self.max_file_bytes = max_file_bytes

    def run(self, seeds: Path, *, rebuild: bool = False,
            progress: ProgressFn | None = None) -> IndexReport:
        if not seeds.is_dir():
            raise FileNotFoundError(
                f"seeds directory {seeds} does not exist; create it or pass --seeds DIR "
                "(KHABAR_SEEDS_DIR)"
            )
        started = time.perf_counter()
        with self.index_dir.lock():
            self.index_dir.collect_garbage()
            report = self._run(seeds, rebuild, progress or (lambda done, total: None))
        report.seconds = time.perf_counter() - started
        return report

    def _run(self, seeds: Path, rebuild: bool, progress: ProgressFn) -> IndexReport:
        report = IndexReport()
        manifest = None if rebuild else self.index_dir.manifest()
        if manifest is not None:
            check_compatible(manifest, self.index_dir.root, self.embedder.spec, None)
            if manifest.chunk_chars != self.chunker.max_chars:
                manifest = None  # a new chunk size changes every passage: start over
        previous = manifest and self.index_dir.root / self.index_dir.current_name()
        known = _read_states(previous / "store.sqlite") if previous else {}

        to_index: list[tuple[str, Path, FileState, bytes]] = []
        touched: list[FileState] = []
        present: set[str] = set()
        for path in _article_files(seeds):
            rel = path.relative_to(seeds).as_posix()
            present.add(rel)
            st = path.stat()
            old = known.get(rel)
            if old and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
                report.unchanged += 1
                continue
            if st.st_size > self.max_file_bytes:
                report.skipped.append(Skipped(rel, f"larger than the {self.max_file_bytes:,}-byte "
                                              "limit (KHABAR_MAX_FILE_BYTES)"))
                continue
            data = path.read_bytes()
            state = FileState(rel, hashlib.sha256(data).hexdigest(), st.st_size, st.st_mtime_ns)
            if old and old.sha256 == state.sha256:
                report.unchanged += 1
                touched.append(state)
                continue
            to_index.append((rel, path, state, data))
        removed = sorted(set(known) - present)
        if not to_index and not removed and not touched and manifest is not None:
            report.documents, report.passages = manifest.documents, manifest.passages
            report.generation = self.index_dir.current_name()
            return report

        number = self.index_dir.next_number()
        tmp = self.index_dir.begin(number)
        store_path = tmp / "store.sqlite"
        if previous:
            _copy_sqlite(previous / "store.sqlite", store_path)
        store = Store(store_path)
        try:
            for rel in removed:
                store.delete_document(rel)
                report.removed += 1
            for state in touched:
                store.touch(state)
            self._index_files(store, to_index, known, report, progress)
            store.commit()
            report.documents, report.passages = store.counts()
            vectors = VectorIndex.build(
                self.embedder.dim, store.iter_vectors(self.embedder.dim), report.passages,
                kind=kind_for(report.passages),
            )
        finally:
            store.close()
        vectors.save(tmp / "vectors.faiss")
        Manifest(
            schema=SCHEMA_VERSION, embedder=self.embedder.spec, dim=self.embedder.dim,
            vector_index=vectors.kind, generation=number, documents=report.documents,
            passages=report.passages, chunk_chars=self.chunker.max_chars, created=time.time(),
        ).write(tmp / "manifest.json")
        report.generation = self.index_dir.publish(tmp, number)
        self.index_dir.collect_garbage()
        return report

    def _index_files(self, store: Store, files: list[tuple[str, Path, FileState, bytes]],
                     known: dict[str, FileState], report: IndexReport,
                     progress: ProgressFn) -> None:
        batch: list[_Pending] = []
        texts = 0
        total = len(files)
        for done, (rel, _path, state, data) in enumerate(files, start=1):
            try:
                text = decode(data)
            except UnreadableFileError as exc:
                report.skipped.append(Skipped(rel, str(exc)))
                progress(done, total)
                continue
            doc = parse(rel, text)
            passages = list(self.chunker.passages(doc))
            if not passages:
                report.skipped.append(Skipped(rel, "no article text found after cleaning"))
                progress(done, total)
                continue
            batch.append(_Pending(doc, state, passages, rel in known))
            texts += sum(1 + _extra_sentences(p) for p in passages)
            if texts >= _EMBED_BATCH_TEXTS:
                self._flush(store, batch, report)
                batch, texts = [], 0
            progress(done, total)
        self._flush(store, batch, report)

    def _flush(self, store: Store, batch: list[_Pending], report: IndexReport) -> None:
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
            if item.replaces:
                store.delete_document(item.doc.path)
                report.updated += 1
            else:
                report.added += 1
            sentences = np.array(sentence_rows, dtype=np.float32).reshape(-1, self.embedder.dim)
            store.add_document(item.doc, item.state, item.passages, np.array(passage_rows),
                               sentences)
            report.embedded_passages += len(item.passages)


def _extra_sentences(p: Passage) -> int:
    return len(p.sentences) if len(p.sentences) > 1 else 0


def _article_files(seeds: Path) -> list[Path]:
    return sorted(
        p for p in seeds.rglob("*")
        if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(seeds).parts)
    )


def _read_states(path: Path) -> dict[str, FileState]:
    store = Store(path, readonly=True)
    try:
        return store.files()
    finally:
        store.close()


def _copy_sqlite(src: Path, dst: Path) -> None:
    """Copy a generation's database through SQLite itself, so the copy is consistent."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
