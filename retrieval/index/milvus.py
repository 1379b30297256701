"""The Milvus backend: one corpus served from Milvus by any number of processes on any machines.

``KHABAR_MILVUS_URI`` is a Milvus Lite file (a path ending in ``.db``: embedded, one process at
a time) or a Milvus server or cluster (``http://host:19530``); the same pymilvus client talks to
both. Everything a question needs is in Milvus (``retrieval.index.milvus_store``), so a serving
process needs no local file.

Generations. Rows are versioned as in the local store, and the publication is one row: the
``<prefix>_control`` collection holds a record per kept generation (its manifest, the store it
reads, the id counters and token total its writer left), and the live generation is the one
with the highest number. A writer adds its rows stamped with the next number, seals them, and
then inserts that record: a single-row insert, so readers see all of the generation or none of
it. A writer killed before the insert leaves rows no reader looks at; the next writer removes
them (``recover``) before it starts. A rebuild (new embedder or passage settings) writes a new
store, i.e. a new set of collections, and its record names it, so switching stores is the same
single insert; collections no kept generation names are dropped.

Why not a new collection and an alias switch per generation: an alias switch is atomic, but
the new collection must hold every row, so adding one article to 100,000 passages would copy
the whole corpus (docs/scale.md measures the copy rate: minutes, against about a second for the
versioned rows). The alias approach is what a rebuild is; versioned rows filtered by generation
keep small additions proportional to the addition.

One writer at a time, across machines. Milvus has no lock primitive, so the writer lock is a
lease row in the control collection: a writer inserts its own row, then reads every lock row;
it holds the lock only if no other live row exists (two writers racing both see each other and
both give up, never both proceed: with strong reads, whichever reads second sees the other's
row). The holder renews its lease every ``_LEASE_S / 3`` seconds and checks it still holds the
lock just before publishing. A dead holder's row is ignored once its lease expires, at once if
it ran on this machine and its process is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from khabar.retrieval.config import EngineConfig
from khabar.retrieval.index.backend import (
    Generation,
    IndexBackend,
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    KhabarIndexError,
    StoreWriter,
    check_compatible,
)
from khabar.retrieval.index.milvus_store import (
    CONSISTENCY,
    INDEXES,
    TABLES,
    UNIT,
    MilvusStore,
    MilvusVectors,
    MilvusWriter,
    Tables,
    create,
    quote,
    visible,
)
from khabar.retrieval.index.records import Manifest
from khabar.retrieval.index.registry import register

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from khabar.embeddings.base import Embedder

log = logging.getLogger(__name__)

# 2: file problems, terms' lookup keys, language sums, passages' language and date.
SCHEMA = 2
# Generations kept: the live one and the one before, for questions in flight at the switch.
_KEEP = 2
_LEASE_S = 60.0


class MilvusUnavailableError(KhabarIndexError):
    """Milvus cannot be reached or opened with the configured settings."""


def _quiet_clients() -> None:
    """pymilvus logs a traceback for every failed call, even those we handle (and through a
    handler of its own, past our redaction); its exceptions are what users see."""
    for name in ("pymilvus", "milvus_lite.server_manager"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.CRITICAL)


class MilvusIndex(IndexBackend):
    """An index kept in Milvus under ``prefix``."""

    schema = SCHEMA

    def __init__(self, uri: str, *, token: str = "", prefix: str = "khabar",
                 index_type: str = "FLAT") -> None:
        if index_type not in INDEXES:
            raise KhabarIndexError(f"invalid setting KHABAR_MILVUS_INDEX={index_type!r}: "
                                   f"choose from {', '.join(INDEXES)}")
        self.uri = uri
        self._token = token
        self.prefix = prefix
        self.index_type = index_type
        self._client: MilvusClient | None = None
        self._loaded: set[str] = set()
        self._holder: str | None = None
        self._store_name = re.compile(rf"{re.escape(prefix)}_(s\d{{6}})_({'|'.join(TABLES)})")

    def describe(self) -> str:
        return f"{self.uri} (collections {self.prefix}_*)"

    @property
    def lite(self) -> bool:
        return self.uri.endswith(".db")

    @property
    def client(self) -> MilvusClient:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> MilvusClient:
        from pymilvus import MilvusClient, MilvusException

        _quiet_clients()
        if self.lite:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return MilvusClient(uri=self.uri, token=self._token, timeout=30)
        except MilvusException as exc:
            if self.lite and _locked(Path(self.uri)):
                raise MilvusUnavailableError(
                    f"the Milvus Lite file {self.uri} (KHABAR_MILVUS_URI) is open in another "
                    "process, and Milvus Lite serves one process per file; to serve it from "
                    f"several processes run `milvus-lite server --data-dir {self.uri} --port "
                    "19530` and set KHABAR_MILVUS_URI=http://127.0.0.1:19530") from None
            raise MilvusUnavailableError(
                f"cannot open Milvus at {self.uri} (KHABAR_MILVUS_URI): {exc.message}; start "
                "it, or fix KHABAR_MILVUS_URI / KHABAR_MILVUS_TOKEN") from None

    def close(self) -> None:
        """Close the connection; for a Milvus Lite file, stop its embedded server too, so
        another process may open the file."""
        if self._client is None:
            return
        self._client.close()
        self._client = None
        self._loaded.clear()
        if self.lite:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)

    # --- the control collection: generation records and writer leases ---------------------

    @property
    def _control(self) -> str:
        return f"{self.prefix}_control"

    def _load(self, name: str) -> None:
        """Load a collection unless it is loaded: never reload one that operators loaded with
        their own number of replicas."""
        from pymilvus.client.types import LoadState

        if name in self._loaded:
            return
        if self.client.get_load_state(name)["state"] != LoadState.Loaded:
            self.client.load_collection(name)
        self._loaded.add(name)

    def _ensure_control(self) -> bool:
        """Whether the control collection exists (loaded for this process)."""
        if self._control in self._loaded:
            return True
        if not self.client.has_collection(self._control):
            return False
        self._load(self._control)
        return True

    def _create_control(self) -> None:
        from pymilvus import DataType

        if self._ensure_control():
            return
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("number", DataType.INT64)
        schema.add_field("body", DataType.VARCHAR, max_length=65_535)
        schema.add_field("unit", DataType.FLOAT_VECTOR, dim=len(UNIT))
        params = self.client.prepare_index_params()
        params.add_index(field_name="unit", index_type="FLAT", metric_type="IP")
        create(self.client, self._control, schema, params)
        self._loaded.add(self._control)

    def _rows(self, kind: str, fields: list[str]) -> list[dict]:
        if not self._ensure_control():
            return []
        return list(self.client.query(self._control, filter=f"kind == {quote(kind)}",
                                      output_fields=fields, consistency_level=CONSISTENCY))

    def _records(self) -> list[tuple[int, dict]]:
        """(number, record) of every kept generation, oldest first."""
        return sorted((r["number"], json.loads(r["body"]))
                      for r in self._rows("generation", ["number", "body"]))

    def _live(self) -> tuple[int, dict] | None:
        records = self._records()
        return records[-1] if records else None

    def current_stamp(self) -> int | None:
        return max((r["number"] for r in self._rows("generation", ["number"])), default=None)

    def current_name(self) -> str | None:
        number = self.current_stamp()
        return None if number is None else f"gen-{number:06d}"

    def manifest(self) -> Manifest | None:
        live = self._live()
        return None if live is None else Manifest.from_dict(live[1]["manifest"])

    def _tables(self, manifest: Manifest) -> Tables:
        index_type = manifest.vector_index.removeprefix("milvus-")
        tables = Tables(self.client, self.prefix, manifest.store or "", index_type)
        for table in TABLES:
            self._load(tables.name(table))
        return tables

    def damage(self, *, deep: bool = False) -> str | None:
        """What is wrong with the live generation: its record unreadable, a collection of its
        store missing (dropped by hand); ``deep`` also counts its documents and passages
        against its manifest. None when there is no index, or one of an older schema (which
        ``khabar index`` rebuilds anyway)."""
        try:
            live = self._live()
        except (ValueError, TypeError) as exc:
            return f"a generation record in {self._control} is damaged ({type(exc).__name__})"
        if live is None:
            return None
        number, record = live
        try:
            manifest = Manifest.from_dict(record["manifest"])
        except (KeyError, TypeError) as exc:
            return f"the record of gen-{number:06d} is damaged ({type(exc).__name__})"
        if manifest.schema != SCHEMA:
            return None
        tables = Tables(self.client, self.prefix, manifest.store or "", "FLAT")
        present = set(self.client.list_collections())
        for table in TABLES:
            if tables.name(table) not in present:
                return f"the collection {tables.name(table)} of gen-{number:06d} is missing"
        if not deep:
            return None
        tables = self._tables(manifest)
        seen = visible(number)
        counts = tuple(
            int(tables.query(t, seen, ["count(*)"])[0]["count(*)"])
            for t in ("documents", "passages"))
        if counts != (manifest.documents, manifest.passages):
            return (f"the collections of gen-{number:06d} hold {counts[0]} documents and "
                    f"{counts[1]} passages, its manifest says {manifest.documents} and "
                    f"{manifest.passages}")
        return None

    def open(self, embedder_spec: str, dim: int | None = None) -> Generation:
        damage = self.damage()
        if damage:
            raise IndexDamagedError(
                f"the index in Milvus at {self.describe()} is damaged: {damage}; run `khabar "
                "index` to repair it (it rebuilds from the articles)")
        live = self._live()
        if live is None:
            raise IndexNotFoundError(
                f"no index in Milvus at {self.describe()}; build it with `khabar index "
                "--backend milvus` (KHABAR_MILVUS_URI and KHABAR_MILVUS_PREFIX name it)")
        number, record = live
        manifest = Manifest.from_dict(record["manifest"])
        check_compatible(manifest, self.describe(), embedder_spec, dim, SCHEMA)
        tables = self._tables(manifest)
        store = MilvusStore(tables, number, manifest.documents, manifest.passages,
                            record["tokens"])
        vectors = MilvusVectors(store, manifest.passages)
        return Generation(f"gen-{number:06d}", None, manifest, store, vectors)

    # --- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self._create_control()
        token = uuid.uuid4().hex
        key = f"lock:{token}"
        me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        self._lease(key, me)
        others = [r for r in self._rows("lock", ["key", "number", "body"]) if r["key"] != key]
        holders = []
        for row in others:
            holder = json.loads(row["body"])
            if row["number"] < time.time() * 1000 or (
                    holder["host"] == me["host"] and not _alive(holder["pid"])):
                self.client.delete(self._control, filter=f"key == {quote(row['key'])}")
                log.info("writer_lock_freed", extra={"holder_pid": holder["pid"],
                                                     "holder_host": holder["host"]})
            else:
                holders.append(holder)
        if holders:
            self.client.delete(self._control, filter=f"key == {quote(key)}")
            h = holders[0]
            raise IndexLockedError(
                f"the Milvus index {self.describe()} is being indexed by pid {h['pid']} on "
                f"{h['host']}; wait for it to finish (a dead writer's lock is freed at once on "
                f"its own machine, after {_LEASE_S:.0f} s from any other)")
        stop = threading.Event()
        renew = threading.Thread(target=self._renew, args=(key, me, stop), daemon=True)
        renew.start()
        self._holder = key
        try:
            yield
        finally:
            self._holder = None
            stop.set()
            renew.join()
            self.client.delete(self._control, filter=f"key == {quote(key)}")

    def _lease(self, key: str, holder: dict) -> None:
        self.client.upsert(self._control, [{
            "key": key, "kind": "lock", "number": int((time.time() + _LEASE_S) * 1000),
            "body": json.dumps(holder), "unit": UNIT}])

    def _renew(self, key: str, holder: dict, stop: threading.Event) -> None:
        while not stop.wait(_LEASE_S / 3):
            try:
                self._lease(key, holder)
            except Exception as exc:  # a missed renewal is retried; publication checks
                log.warning("writer_lock_renewal_failed", extra={"error": str(exc)})

    def _check_holder(self) -> None:
        rows = self._rows("lock", ["key", "number"])
        if not any(r["key"] == self._holder and r["number"] > time.time() * 1000 for r in rows):
            raise IndexLockedError(
                f"this run lost the writer lock of {self.describe()} (its lease expired, so "
                "another writer may have started); nothing was published: run `khabar index` "
                "again")

    def recover(self) -> None:
        """Drop the collections no kept generation names (a killed rebuild) and undo the rows
        of a writer killed before publishing."""
        records = self._records()
        self._drop_unused({r["manifest"]["store"] for _, r in records})
        if records and self.damage() is None:  # a damaged store is rebuilt, not rolled back
            number, record = records[-1]
            self._tables(Manifest.from_dict(record["manifest"])).rollback(number)

    def _drop_unused(self, kept: set[str]) -> None:
        for name in self.client.list_collections():
            match = self._store_name.fullmatch(name)
            if match and match.group(1) not in kept:
                self.client.drop_collection(name)
                self._loaded.discard(name)

    def writer(self, base: Manifest | None, dim: int) -> MilvusWriter:
        live = self._live()
        number = (live[0] if live else 0) + 1
        if base is None or live is None:
            tables = Tables(self.client, self.prefix, f"s{number:06d}", self.index_type)
            tables.create(dim)
            self._loaded.update(tables.name(t) for t in TABLES)
            return MilvusWriter(tables, number, {}, 0)
        return MilvusWriter(self._tables(base), number, live[1]["next_ids"], live[1]["tokens"])

    def publish(self, store: StoreWriter, embedder: Embedder, *, base: Manifest | None,
                documents: int, passages: int, chunking: dict[str, int]) -> str:
        assert isinstance(store, MilvusWriter)
        store.finish()
        self._check_holder()
        number = store.generation
        manifest = Manifest(
            schema=SCHEMA, embedder=embedder.spec, dim=embedder.dim,
            vector_index=f"milvus-{store.tables.index_type}", generation=number,
            documents=documents, passages=passages, created=time.time(), chunking=chunking,
            store=store.tables.store)
        record = {"manifest": asdict(manifest), "next_ids": store.next_ids,
                  "tokens": store.tokens_total}
        # The publication: one row, so readers see the whole generation or none of it.
        self.client.insert(self._control, [{
            "key": f"generation:{number:012d}", "kind": "generation", "number": number,
            "body": json.dumps(record), "unit": UNIT}])
        log.info("published", extra={"generation": number, "store": store.tables.store,
                                     "documents": documents, "passages": passages})
        return f"gen-{number:06d}"

    def collect(self) -> None:
        records = self._records()
        if not records:
            return
        kept = records[-_KEEP:]
        oldest = kept[0][0]
        self.client.delete(self._control,
                           filter=f'kind == "generation" and number < {oldest}')
        self._drop_unused({r["manifest"]["store"] for _, r in kept})
        live = Manifest.from_dict(kept[-1][1]["manifest"])
        self._tables(live).collect(oldest)

    # --- derived indexes -------------------------------------------------------------------

    def sibling(self, directory: Path, name: str) -> MilvusIndex:
        clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
        return MilvusIndex(self.uri, token=self._token, prefix=f"{self.prefix}_{clean}",
                           index_type=self.index_type)

    def environment(self) -> dict[str, str]:
        return {"KHABAR_BACKEND": "milvus", "KHABAR_MILVUS_URI": self.uri,
                "KHABAR_MILVUS_PREFIX": self.prefix, "KHABAR_MILVUS_INDEX": self.index_type}

    def destroy(self) -> None:
        for name in self.client.list_collections():
            if self._store_name.fullmatch(name) or name == self._control:
                self.client.drop_collection(name)
        self._loaded.clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked(data_dir: Path) -> bool:
    """Whether another process holds the Milvus Lite file's own lock."""
    try:
        fd = os.open(data_dir / "LOCK", os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _open(settings: EngineConfig) -> MilvusIndex:
    return MilvusIndex(settings.milvus_uri, token=settings.milvus_token,
                       prefix=settings.milvus_prefix, index_type=settings.milvus_index)


register("milvus", _open)
