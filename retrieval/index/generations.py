"""The index directory: immutable generations, an atomic CURRENT pointer, a writer lock.

Layout::

    <index>/CURRENT          name of the live generation, replaced by atomic rename
    <index>/LOCK             flock held by the one running writer (released if it dies)
    <index>/gen-000007/      manifest.json, store.sqlite, vectors.faiss

A writer builds the next generation in a temporary directory and publishes it by renaming the
directory and then CURRENT. A process killed at any moment therefore leaves CURRENT pointing at
a complete generation; readers never see a half-written one, and a question in flight finishes
on the generation it started with.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.store import SCHEMA_VERSION, Store
from khabar.retrieval.index.vectors import VectorIndex

_CURRENT = "CURRENT"
_LOCK = "LOCK"
_PREFIX = "gen-"
_TMP = ".tmp-"


class KhabarIndexError(KhabarError):
    """Base for index problems the user must act on."""


class IndexNotFoundError(KhabarIndexError):
    pass


class IndexMismatchError(KhabarIndexError):
    pass


class IndexLockedError(KhabarIndexError):
    pass


@dataclass(frozen=True, slots=True)
class Manifest:
    """What built a generation; checked on every open."""

    schema: int
    embedder: str
    dim: int
    vector_index: str
    generation: int
    documents: int
    passages: int
    created: float
    # ``Chunker.settings`` of the run that built it; None in manifests older than the field.
    chunking: dict[str, int] | None = None
    # Approximate index only: (lists probed, candidates re-ranked) chosen at build time, the
    # recall@10 against exact search it measured, and how many vectors its lists were trained on.
    vector_setting: list[int] | None = None
    recall_at_10: float | None = None
    vectors_trained_on: int | None = None

    def vector_fields(self) -> dict:
        """The fields ``VectorIndex.describe`` wrote, for ``VectorIndex.load``."""
        return {"vector_index": self.vector_index, "vector_setting": self.vector_setting,
                "recall_at_10": self.recall_at_10, "vectors_trained_on": self.vectors_trained_on}

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Fields this version does not know (older or newer manifests) are ignored."""
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def write(self, path: Path) -> None:
        _write_durable(path, json.dumps(asdict(self), indent=2))


def _write_durable(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Generation:
    """An opened, read-only generation: what search needs, nothing more."""

    name: str
    path: Path
    manifest: Manifest
    store: Store
    vectors: VectorIndex

    def close(self) -> None:
        self.store.close()


class IndexDir:
    """Operations on ``<index>``; every path the rest of the code touches comes from here."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current_name(self) -> str | None:
        try:
            name = (self.root / _CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def current_stamp(self) -> tuple[int, int] | None:
        """A cheap change detector for serving processes: (inode, mtime) of CURRENT."""
        try:
            st = os.stat(self.root / _CURRENT)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def manifest(self) -> Manifest | None:
        name = self.current_name()
        return Manifest.read(self.root / name / "manifest.json") if name else None

    def open(self, embedder_spec: str, dim: int | None = None) -> Generation:
        name = self.current_name()
        if name is None:
            raise IndexNotFoundError(
                f"no index at {self.root}; build it with `khabar index --seeds DIR --index "
                f"{self.root}`"
            )
        path = self.root / name
        manifest = Manifest.read(path / "manifest.json")
        check_compatible(manifest, self.root, embedder_spec, dim)
        store = Store(path / "store.sqlite", readonly=True)
        vectors = VectorIndex.load(path / "vectors.faiss", **manifest.vector_fields())
        return Generation(name, path, manifest, store, vectors)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the single-writer lock; a second writer fails at once with who holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / _LOCK, "a+", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise IndexLockedError(
                    f"{self.root} is being indexed by {holder}; wait for it to finish "
                    "(the lock is released automatically if that process dies)"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            yield

    def next_number(self) -> int:
        numbers = [int(p.name[len(_PREFIX):].split(".")[0]) for p in self.root.glob(_PREFIX + "*")
                   if p.name[len(_PREFIX):].split(".")[0].isdigit()]
        return max(numbers, default=0) + 1

    def begin(self, number: int) -> Path:
        """A fresh directory for generation ``number``, not yet visible to readers."""
        tmp = self.root / f"{_PREFIX}{number:06d}{_TMP}{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        return tmp

    def publish(self, tmp: Path, number: int) -> str:
        """Make ``tmp`` the live generation: rename it, then atomically replace CURRENT."""
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        name = f"{_PREFIX}{number:06d}"
        final = self.root / name
        os.replace(tmp, final)
        pointer = self.root / f"{_CURRENT}{_TMP}{os.getpid()}"
        _write_durable(pointer, name + "\n")
        os.replace(pointer, self.root / _CURRENT)
        _fsync_dir(self.root)
        return name

    def collect_garbage(self, keep: int = 2) -> None:
        """Drop unfinished builds of dead writers and generations older than the last ``keep``.

        The previous generation is kept so a serving process that opened it just before the
        switch can finish its question; on POSIX even a deleted generation stays readable to
        processes that hold it open.
        """
        current = self.current_name()
        finished = sorted(p for p in self.root.glob(_PREFIX + "*") if _TMP not in p.name)
        for p in self.root.glob(_PREFIX + "*" + _TMP + "*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob(_CURRENT + _TMP + "*"):
            p.unlink(missing_ok=True)
        for p in finished[:-keep]:
            if p.name != current:
                shutil.rmtree(p, ignore_errors=True)


class LiveIndex:
    """The current generation for a serving process, switched between questions.

    A stat of CURRENT per question is the whole cost of noticing a new generation. The old
    generation is not closed on switch: a question running in another thread may still read
    it, and its SQLite handle goes when the last reference does.
    """

    def __init__(self, index_dir: IndexDir, embedder_spec: str) -> None:
        self.index_dir = index_dir
        self.embedder_spec = embedder_spec
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._stamp: tuple[int, int] | None = None

    def current(self) -> Generation:
        with self._lock:
            stamp = self.index_dir.current_stamp()
            if self._generation is None or stamp != self._stamp:
                self._generation = self.index_dir.open(self.embedder_spec)
                self._stamp = stamp
            return self._generation


def check_compatible(manifest: Manifest, root: Path, embedder_spec: str, dim: int | None) -> None:
    if manifest.schema != SCHEMA_VERSION:
        raise IndexMismatchError(
            f"the index at {root} has schema version {manifest.schema}, this khabar reads "
            f"version {SCHEMA_VERSION}; rebuild it with `khabar index --rebuild`"
        )
    if manifest.embedder != embedder_spec or (dim is not None and manifest.dim != dim):
        raise IndexMismatchError(
            f"the index at {root} was built with embedder {manifest.embedder!r} "
            f"(dim {manifest.dim}) but the configured embedder is {embedder_spec!r}; "
            f"rebuild it with `khabar index --rebuild`, or set KHABAR_EMBEDDER={manifest.embedder}"
        )

