"""The index directory: immutable generations, an atomic publication, a writer lock.

Layout::

    <index>/CURRENT               name of the live store file, replaced by atomic rename
    <index>/LOCK                  flock held by the one running writer (released if it dies)
    <index>/store-000003.sqlite   the SQLite store, shared by the generations built on it
    <index>/gen-000007/           manifest.json (names its store), vectors.faiss

The store's rows carry the generations that see them (``retrieval.index.store``), so a new
generation adds rows to the same store instead of copying it, and the store itself records
which generation is live: a writer writes its rows in one transaction, builds the generation's
vectors and manifest in a temporary directory, renames it into place, and then commits, which
is the publication. A process killed at any moment therefore leaves the live generation
complete and untouched (uncommitted rows vanish, an unpublished directory is tidied away), and a
question in flight finishes on the generation it started with. A rebuild starts a new store
file and publishes it by replacing CURRENT; a store no kept generation names is deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from khabar.retrieval.config import EngineConfig
from khabar.retrieval.index.backend import (
    Generation,
    IndexBackend,
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    IndexWriteError,
    check_compatible,
)
from khabar.retrieval.index.records import Manifest, write_durable
from khabar.retrieval.index.registry import register
from khabar.retrieval.index.store import SCHEMA_VERSION, Store
from khabar.retrieval.index.vectors import VectorIndex, kind_for, tune_vectors

if TYPE_CHECKING:
    from khabar.embeddings.base import Embedder

_CURRENT = "CURRENT"
_LOCK = "LOCK"
_PREFIX = "gen-"
_STORE = "store-"
_TMP = ".tmp-"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexDir(IndexBackend):
    """The local backend: operations on ``<index>``; every path the rest of the code touches
    comes from here."""

    schema = SCHEMA_VERSION

    def __init__(self, root: Path) -> None:
        self.root = root
        self._watch = _StoreWatch()

    def describe(self) -> str:
        return str(self.root)

    def current_store(self) -> str | None:
        """The live store file's name, or None when nothing was ever published here."""
        try:
            name = (self.root / _CURRENT).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return name or None

    def current_number(self) -> int | None:
        """The live generation's number: what the live store says it committed last."""
        store = self.current_store()
        if store is None:
            return None
        if not store.startswith(_STORE):  # a layout older than versioned stores
            return _number(store)
        return _committed(self.root / store)

    def current_name(self) -> str | None:
        number = self.current_number()
        return None if number is None else _gen_name(number)

    def current_stamp(self) -> tuple[int, int, int | None] | None:
        """A cheap change detector for serving processes: CURRENT's inode and mtime (a new
        store) and the live store's committed generation (a new generation in it), read
        again only when SQLite says another connection committed since (``_StoreWatch``)."""
        try:
            st = os.stat(self.root / _CURRENT)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, self._watch.committed(self, (st.st_ino,
                                                                        st.st_mtime_ns))

    def close(self) -> None:
        self._watch.close()

    def manifest(self) -> Manifest | None:
        name = self.current_name()
        return Manifest.read(self.root / name / "manifest.json") if name else None

    def open(self, embedder_spec: str, dim: int | None = None) -> Generation:
        damage = self.damage()
        if damage:
            raise IndexDamagedError(
                f"the index at {self.root} is damaged: {damage}; run `khabar index` to repair "
                "it (it rebuilds from the articles)")
        name = self.current_name()
        if name is None:
            raise IndexNotFoundError(
                f"no index at {self.root}; build it with `khabar index --seeds DIR --index "
                f"{self.root}`"
            )
        path = self.root / name
        manifest = Manifest.read(path / "manifest.json")
        check_compatible(manifest, str(self.root), embedder_spec, dim, SCHEMA_VERSION)
        try:
            store = Store(self.root / (manifest.store or ""), manifest.generation)
            vectors = VectorIndex.load(path, **manifest.vector_fields())
        except (OSError, RuntimeError, sqlite3.DatabaseError) as exc:
            raise IndexDamagedError(
                f"the index at {self.root} is damaged: {name} cannot be read ({exc}); run "
                "`khabar index` to repair it (it rebuilds from the articles)") from None
        return Generation(name, path, manifest, store, vectors)

    def damage(self, *, deep: bool = False) -> str | None:
        """What is wrong with the live generation, or None (also when there is no index, or
        one of an older layout, which ``khabar index`` rebuilds anyway).

        The quick check stats files and reads the manifest and the store's record of the live
        generation; ``deep`` also checks the store's integrity, opens the vectors and compares
        the counts, which reads everything.
        """
        store_name = self.current_store()
        if store_name is None or not store_name.startswith(_STORE):
            return None
        store_path = self.root / store_name
        if not store_path.is_file():
            return f"{store_name}, named by CURRENT, is missing"
        number = _committed(store_path)
        if number is None:
            return f"{store_name} is not a readable Khabar store"
        path = self.path_of(number)
        try:
            manifest = Manifest.read(path / "manifest.json")
        except FileNotFoundError:
            return f"{path.name}, the live generation, is missing"
        except (OSError, ValueError, TypeError) as exc:
            return f"{path.name}/manifest.json is damaged ({type(exc).__name__})"
        for name, size in (manifest.files or {}).items():
            try:
                found = (path / name).stat().st_size
            except FileNotFoundError:
                return f"{path.name}/{name} is missing"
            if found != size:
                return f"{path.name}/{name} is damaged ({found:,} bytes, {size:,} expected)"
        return self._deep_damage(manifest, store_path, path) if deep else None

    def _deep_damage(self, manifest: Manifest, store_path: Path, path: Path) -> str | None:
        try:
            db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
            try:
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                db.close()
            if verdict != "ok":
                return f"{store_path.name} fails SQLite's integrity check: {verdict}"
            store = Store(store_path, manifest.generation)
            try:
                counts = store.counts()
            finally:
                store.close()
            vectors = VectorIndex.load(path, **manifest.vector_fields())
        except (OSError, RuntimeError, sqlite3.DatabaseError) as exc:
            return f"{path.name} cannot be read ({exc})"
        if counts != (manifest.documents, manifest.passages):
            return (f"{store_path.name} holds {counts[0]} documents and {counts[1]} passages "
                    f"for {path.name}, whose manifest says {manifest.documents} and "
                    f"{manifest.passages}")
        if vectors.size - vectors.stale != manifest.passages:
            return (f"{path.name}'s vectors hold {vectors.size - vectors.stale} passages, the "
                    f"store {manifest.passages}")
        return None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the single-writer lock; a second writer fails at once with who holds it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / _LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (held below)
        except (FileExistsError, NotADirectoryError):
            raise IndexWriteError(f"the index path {self.root} is not a folder; point "
                                  "KHABAR_INDEX_DIR (or --index) at a folder") from None
        except PermissionError:
            raise IndexWriteError(f"no permission to write the index folder {self.root}; "
                                  "make it writable or point KHABAR_INDEX_DIR (or --index) "
                                  "elsewhere") from None
        with fh:
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
        """A number no generation or store of this directory has used."""
        numbers = [n for p in self.root.iterdir() if (n := _number(p.name)) is not None]
        return max([*numbers, self.current_number() or 0]) + 1

    def path_of(self, number: int) -> Path:
        """The directory of generation ``number``."""
        return self.root / _gen_name(number)

    def new_store(self, number: int) -> Path:
        """The path of a fresh store file, for a build that starts over."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f"{_STORE}{number:06d}.sqlite"

    def begin(self, number: int) -> Path:
        """A fresh directory for generation ``number``, not yet visible to readers."""
        tmp = self.root / f"{_gen_name(number)}{_TMP}{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        return tmp

    def recover(self) -> None:
        self.collect_garbage()

    def writer(self, base: Manifest | None, dim: int) -> Store:
        self.root.mkdir(parents=True, exist_ok=True)  # the bench writes without the lock
        number = self.next_number()
        if base is None:
            return Store(self.new_store(number), number, writer=True)
        return Store(self.root / (base.store or ""), number, writer=True)

    def publish(self, store: Store, embedder: Embedder, *, base: Manifest | None,
                documents: int, passages: int, chunking: dict[str, int]) -> str:
        # Everything up to the commit happens inside one SQLite transaction (the vectors are
        # read from it uncommitted), and the commit comes right before publication: a run
        # killed before it leaves the store exactly as it was.
        vectors = self._vectors(store, base, passages, embedder)
        number = store.generation
        tmp = self.begin(number)
        vectors.save(tmp)
        Manifest(
            schema=SCHEMA_VERSION, embedder=embedder.spec, dim=embedder.dim,
            generation=number, documents=documents, passages=passages,
            chunking=chunking, created=time.time(), store=store.path.name,
            files=file_sizes(tmp), **vectors.describe(),
        ).write(tmp / "manifest.json")
        return self.place(store, tmp, number)

    def _vectors(self, store: Store, base: Manifest | None, live: int,
                 embedder: Embedder) -> VectorIndex:
        """The vector index of the generation ``store`` is building: the published one updated
        with what changed since it (removed ids out, new vectors in), or built anew."""
        dim = embedder.dim
        if base is not None and base.vector_index == kind_for(live):
            vectors = VectorIndex.load(self.path_of(base.generation),
                                       **base.vector_fields(), read_base=False)
            published = base.generation
            if vectors.update(store.removed_since(published),
                              store.iter_vectors(dim, since=published), live):
                return vectors
        vectors = VectorIndex.build(dim, store.iter_vectors(dim), live, kind=kind_for(live))
        tune_vectors(vectors, store, embedder)
        return vectors

    def collect(self) -> None:
        oldest = self.collect_garbage()
        store = self.current_store()
        if oldest is not None and store is not None:
            collector = Store(self.root / store, oldest, writer=True)
            try:
                collector.collect(oldest)
            finally:
                collector.close()

    def sibling(self, directory: Path, name: str) -> IndexDir:
        return IndexDir(directory / name)

    def environment(self) -> dict[str, str]:
        return {"KHABAR_BACKEND": "local", "KHABAR_INDEX_DIR": str(self.root)}

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def place(self, store: Store, tmp: Path, number: int) -> str:
        """Make generation ``number`` live: move its finished directory ``tmp`` into place
        (readers do not look at it yet), commit ``store`` (which makes it live for readers of
        that store), and, for a new store (a rebuild), point CURRENT at it."""
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        name = _gen_name(number)
        shutil.rmtree(self.root / name, ignore_errors=True)  # a killed run's leftover
        os.replace(tmp, self.root / name)
        _fsync_dir(self.root)
        store.commit()
        if self.current_store() != store.path.name:
            pointer = self.root / f"{_CURRENT}{_TMP}{os.getpid()}"
            write_durable(pointer, store.path.name + "\n")
            os.replace(pointer, self.root / _CURRENT)
            _fsync_dir(self.root)
        return name

    def collect_garbage(self, keep: int = 2) -> int | None:
        """Drop unfinished builds of dead writers, generations older than the last ``keep``
        (or newer than the live one: a run killed before its commit), and store files no kept
        generation names; returns the oldest kept generation's number of the live store, so
        the writer can delete the rows no kept generation sees.

        The previous generation is kept so a serving process that opened it just before the
        switch can finish its question; on POSIX even a deleted generation stays readable to
        processes that hold it open.
        """
        live = self.current_number() or 0
        for p in self.root.glob(_PREFIX + "*" + _TMP + "*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob(_CURRENT + _TMP + "*"):
            p.unlink(missing_ok=True)
        finished = sorted((n, p) for p in self.root.glob(_PREFIX + "*")
                          if (n := _number(p.name)) is not None)
        for n, p in finished:
            if n > live:
                shutil.rmtree(p, ignore_errors=True)
        finished = [(n, p) for n, p in finished if n <= live]
        for _, p in finished[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
        manifests = []
        for _, p in finished[-keep:]:
            try:
                manifests.append(Manifest.read(p / "manifest.json"))
            except (OSError, ValueError, TypeError):
                continue
        used = {m.store for m in manifests} | {self.current_store()}
        for p in self.root.glob(_STORE + "*.sqlite*"):
            if p.name.split(".sqlite")[0] + ".sqlite" not in used:
                p.unlink(missing_ok=True)
        current = self.current_store()
        return min((m.generation for m in manifests if m.store == current), default=None)


def file_sizes(directory: Path) -> dict[str, int]:
    """The sizes a manifest records of a generation directory's files (``Manifest.files``)."""
    return {p.name: p.stat().st_size for p in sorted(directory.iterdir())
            if p.name != "manifest.json"}


def _gen_name(number: int) -> str:
    return f"{_PREFIX}{number:06d}"


def _number(name: str) -> int | None:
    """The number in ``gen-000007`` or ``store-000003.sqlite`` (None for anything else)."""
    for prefix in (_PREFIX, _STORE):
        if name.startswith(prefix):
            digits = name[len(prefix):].split(".")[0]
            return int(digits) if digits.isdigit() else None
    return None


def _committed(path: Path) -> int | None:
    """The generation a store file committed last (read-only, without creating anything)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        db.execute("PRAGMA query_only = 1")
    except sqlite3.OperationalError:
        return None
    try:
        return _read_committed(db)
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()


def _read_committed(db: sqlite3.Connection) -> int | None:
    rows = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchall()
    return int(rows[0][0]) if rows else None


class _StoreWatch:
    """The live store's committed generation for ``current_stamp``, asked before every
    question: reading it afresh (open the file, query, close) cost ~0.4 ms a question, a
    tenth of a search at 10,000 passages. One read-only connection stays open on the live
    store instead, and the generation is read again only when ``PRAGMA data_version`` (which
    changes exactly when another connection commits) or CURRENT changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._key: tuple[int, int, int] | None = None  # (pid, CURRENT inode, CURRENT mtime)
        self._version: int | None = None
        self._number: int | None = None

    def committed(self, index: IndexDir, current: tuple[int, int]) -> int | None:
        key = (os.getpid(), *current)
        with self._lock:
            try:
                if key != self._key or self._db is None:
                    self._reopen(index, key)
                if self._db is None:  # no store file: an older layout, or nothing live
                    return index.current_number()
                # fetchall: a statement left unfinished would hold a read transaction open.
                version = self._db.execute("PRAGMA data_version").fetchall()[0][0]
                if version != self._version:
                    self._version = version
                    self._number = _read_committed(self._db)
                return self._number
            except sqlite3.DatabaseError:  # replaced or damaged under us: read it the slow way
                self._drop()
                return index.current_number()

    def _reopen(self, index: IndexDir, key: tuple[int, int, int]) -> None:
        self._drop()
        self._key = key
        store = index.current_store()
        if store is None or not store.startswith(_STORE):
            return
        try:
            self._db = sqlite3.connect(f"file:{index.root / store}?mode=rw", uri=True,
                                       check_same_thread=False)
            self._db.execute("PRAGMA query_only = 1")
        except sqlite3.OperationalError:
            self._drop()

    def _drop(self) -> None:
        # A connection inherited over fork belongs to the parent: forgotten, never closed.
        if self._db is not None and self._key is not None and self._key[0] == os.getpid():
            self._db.close()
        self._db, self._key, self._version, self._number = None, None, None, None

    def close(self) -> None:
        with self._lock:
            self._drop()


class LiveIndex:
    """The current generation for a serving process, switched between questions.

    Noticing a new generation costs the backend's ``current_stamp`` per question (locally a stat
    of CURRENT and one read of the store's committed generation; on Milvus one small query). A
    generation is used through ``use()``; when a newer one is live, the old one is closed as
    soon as the last question using it is done, so a process that lives for days and sees
    thousands of generations holds one or two open at a time.
    """

    def __init__(self, index_dir: IndexBackend, embedder_spec: str) -> None:
        self.index_dir = index_dir
        self.embedder_spec = embedder_spec
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._stamp: object = None
        self._users: dict[int, int] = {}
        self._retired: dict[int, Generation] = {}

    def current(self) -> Generation:
        """The live generation (for a quick look; questions go through ``use``)."""
        with self._lock:
            return self._refresh()

    @contextlib.contextmanager
    def use(self) -> Iterator[Generation]:
        """The live generation, held open until the block ends."""
        with self._lock:
            generation = self._refresh()
            key = id(generation)
            self._users[key] = self._users.get(key, 0) + 1
        try:
            yield generation
        finally:
            with self._lock:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key]
                    retired = self._retired.pop(key, None)
                    if retired is not None:
                        retired.close()

    def _refresh(self) -> Generation:
        stamp = self.index_dir.current_stamp()
        if self._generation is None or stamp != self._stamp:
            fresh = self.index_dir.open(self.embedder_spec)
            old, self._generation, self._stamp = self._generation, fresh, stamp
            if old is not None:
                if self._users.get(id(old)):
                    self._retired[id(old)] = old
                else:
                    old.close()
        return self._generation

    def close(self) -> None:
        with self._lock:
            if self._generation is not None and not self._users.get(id(self._generation)):
                self._generation.close()
            self._generation = None


def _open(settings: EngineConfig) -> IndexDir:
    return IndexDir(settings.index_dir)


register("local", _open)
