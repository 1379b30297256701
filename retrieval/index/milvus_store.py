"""The rows of a Milvus store: the same tables as the SQLite store, as Milvus collections.

A store is eight collections named ``<prefix>_<store>_<table>``:

    files       path, hash, size, mtime of each indexed file (the unchanged-file fast path),
                and what could not be used in it (reported again on every run)
    documents   path, file, content hash and metadata of each article
    texts       the article text in parts of ``TEXT_PART`` characters (a Milvus VARCHAR holds
                65,535 bytes; an article may be a 20 MB file)
    passages    offsets, normalised tokens (``norm``, the BM25 function's input), script, the
                article's language and date (what ranking reads, without a join), token
                count, the dense vector, and the BM25 sparse vector Milvus derives
    sentences   offsets, normalised tokens and vector of every passage sentence
    terms       passages per term (document frequencies), one row per term and generation
    keys        the terms' lookup keys (``translit.lookup_keys``: how a name asked in one
                script finds its spelling in another), a row per key and term, written when
                the term first appears (kept, as in the local store; lookups join ``terms``)
    languages   per article language, its passages and the sum of their vectors (the
                language's centroid, which search centres on), one row per language and
                generation

Rows are versioned exactly as in the SQLite store (``retrieval.index.store``): each carries the
generation that added it (``gen_from``) and the one that removed it (``gen_to``, ``ALIVE``
while alive), and a reader of generation G filters on ``gen_from <= G and gen_to > G``. A new
generation therefore writes only what changed (adding one article to 100,000 passages inserts
that article's rows and marks nothing else), and a reader of G keeps a consistent view while
the writer works. Sentences and text parts carry only ``gen_from``: they are read through their
passage or document, and removed with it. Ids are allocated by the writer from counters kept in
the generation's record (``MilvusIndex``), so they match the SQLite store's one for one.

The lexical index is Milvus full-text search: the ``BM25`` function over ``norm``, the text as
Khabar's own normalisation produced it (``khabar.retrieval.normalize.tokens``, joined by
spaces, as the local FTS5 sees it; the ``standard`` analyzer splits it back into the same
tokens). Milvus ranks the candidates; their scores are then computed the way SQLite's FTS5
computes ``bm25()`` (same k1, b and idf, from the terms table and the generation's counts),
because Milvus's idf formula differs and Milvus Lite keeps its statistics per segment: the
fused ranking above the interface then sees the same numbers as with the local backend.
Milvus is asked for ``_LEXICAL_WIDEN`` times as many candidates as wanted, so a passage FTS5
would rank in the top k but Milvus a little lower is still scored (docs/scale.md measures how
often the two top-k lists differ).

Milvus requires a vector field in every collection; the tables without one carry ``unit``, a
constant 2-dimensional vector that is never searched.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from khabar.retrieval.index.backend import KhabarIndexError
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

if TYPE_CHECKING:
    from pymilvus import MilvusClient

# ``gen_to`` of a live row: larger than any generation number.
ALIVE = 2**62
TABLES = ("files", "documents", "texts", "passages", "sentences", "terms", "keys",
          "languages")
# Tables whose rows a later generation may remove (the others go with their passage/document).
VERSIONED = ("files", "documents", "passages", "terms", "languages")
TEXT_PART = 16_000
_VARCHAR_BYTES = 65_535
UNIT = [1.0, 0.0]
# Rows per insert call and ids per ``in [...]`` filter: bounded messages either way.
_BATCH = 1000
# Rows buffered by the writer before they are sent (nothing is visible before publication, so
# buffering changes nothing but the number of calls).
_PENDING = 2000
# FTS5's bm25() constants.
_K1, _B = 1.2, 0.75
_LEXICAL_WIDEN = 3
# Readers ask for every row as of now: a generation's rows were written before its record, so a
# strong read that sees the record sees them (docs/scale.md discusses the cost on a cluster).
CONSISTENCY = "Strong"
# Dense index build and search parameters by index type; IVF_PQ's code size is set from the
# dimension (8 dimensions per byte).
INDEXES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "FLAT": ({}, {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
    "IVF_FLAT": ({"nlist": 1024}, {"nprobe": 32}),
    "IVF_SQ8": ({"nlist": 1024}, {"nprobe": 32}),
    "IVF_PQ": ({"nlist": 1024, "nbits": 8}, {"nprobe": 32}),
    "DISKANN": ({}, {"search_list": 100}),
    "AUTOINDEX": ({}, {}),
}


class MilvusLimitError(KhabarIndexError):
    """A row does not fit Milvus's limits."""


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression (JSON escaping is what it parses)."""
    return json.dumps(value, ensure_ascii=False)


def visible(generation: int) -> str:
    """The rows generation ``generation`` sees (an int of ours, never user input)."""
    g = int(generation)
    return f"gen_from <= {g} and gen_to > {g}"


def _in(field: str, values: Sequence[object]) -> str:
    items = ", ".join(quote(v) if isinstance(v, str) else str(int(v)) for v in values)
    return f"{field} in [{items}]"


def _chunks(values: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _half(vector: np.ndarray) -> list[float]:
    """The vector as the local store keeps it (float16), so dense scores match it exactly."""
    return np.asarray(vector, dtype=np.float16).astype(np.float32).tolist()


def _schema(client: MilvusClient, table: str, dim: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    text = {"datatype": DataType.VARCHAR, "max_length": _VARCHAR_BYTES}
    gen = ("gen_from", "gen_to") if table in VERSIONED else ("gen_from",)
    if table == "files":
        schema.add_field("path", **text)
        schema.add_field("sha256", DataType.VARCHAR, max_length=64)
        schema.add_field("size", DataType.INT64)
        schema.add_field("mtime_ns", DataType.INT64)
        schema.add_field("problems", **text)
    elif table == "documents":
        schema.add_field("path", **text)
        schema.add_field("file", **text)
        schema.add_field("sha256", DataType.VARCHAR, max_length=64)
        schema.add_field("meta", DataType.JSON)
    elif table == "texts":
        schema.add_field("doc_id", DataType.INT64)
        schema.add_field("part", DataType.INT64)
        schema.add_field("text", **text)
    elif table == "passages":
        schema.add_field("doc_id", DataType.INT64)
        for name in ("ordinal", "start", "end", "length"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("norm", **text, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("script", DataType.VARCHAR, max_length=16)
        schema.add_field("lang", **text)
        schema.add_field("date", **text)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["norm"], output_field_names=["sparse"]))
    elif table == "sentences":
        schema.add_field("passage_id", DataType.INT64)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("norm", **text)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    elif table == "terms":
        schema.add_field("term", **text)
        schema.add_field("df", DataType.INT64)
    elif table == "keys":
        schema.add_field("key", **text)
        schema.add_field("term", **text)
    elif table == "languages":
        schema.add_field("lang", **text)
        schema.add_field("passages", DataType.INT64)
        # float64 running sums, base64: a float vector field would round them to float32
        schema.add_field("vector_sum", **text)
    for name in gen:
        schema.add_field(name, DataType.INT64)
    if table not in ("passages", "sentences"):
        schema.add_field("unit", DataType.FLOAT_VECTOR, dim=len(UNIT))
    return schema


# Scalar fields filtered on by value (not by primary key): indexed on servers.
_LOOKUPS = {"files": ("path",), "documents": ("path", "file"), "texts": ("doc_id",),
            "passages": ("doc_id",), "sentences": ("passage_id",), "terms": ("term",),
            "keys": ("key",), "languages": ("lang",)}


def create(client: MilvusClient, name: str, schema: Any, index_params: Any) -> None:
    """Create and load a collection. Its indexes are created without pymilvus's wait for them
    to be built (it polls every 0.5 s: 7 s for the empty collections of a store), since Milvus
    builds them before the load completes anyway."""
    client.create_collection(name, schema=schema, consistency_level=CONSISTENCY)
    client.create_index(name, index_params, sync=False)
    client.load_collection(name)


class Tables:
    """The collections of one store: ``<prefix>_<store>_<table>``."""

    def __init__(self, client: MilvusClient, prefix: str, store: str, index_type: str) -> None:
        self.client = client
        self.prefix = prefix
        self.store = store
        self.index_type = index_type

    def name(self, table: str) -> str:
        return f"{self.prefix}_{self.store}_{table}"

    def search_params(self) -> dict[str, Any]:
        return INDEXES[self.index_type][1]

    def create(self, dim: int) -> None:
        """Create every collection afresh (a killed rebuild's leftovers are dropped first)."""
        for table in TABLES:
            name = self.name(table)
            if self.client.has_collection(name):
                self.client.drop_collection(name)
            params = self.client.prepare_index_params()
            if table == "passages":
                build, _ = INDEXES[self.index_type]
                if self.index_type == "IVF_PQ":
                    build = {**build, "m": max(1, dim // 8)}
                params.add_index(field_name="vector", index_type=self.index_type,
                                 metric_type="IP", params=build)
                params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                                 metric_type="BM25")
            elif table == "sentences":
                # Never searched, only read by passage: the cheapest index Milvus accepts.
                params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            else:
                params.add_index(field_name="unit", index_type="FLAT", metric_type="IP")
            for field in _LOOKUPS[table]:
                params.add_index(field_name=field, index_type="INVERTED")
            create(self.client, name, _schema(self.client, table, dim), params)

    def drop(self) -> None:
        for table in TABLES:
            self.client.drop_collection(self.name(table))

    def query(self, table: str, expr: str, fields: list[str],
              limit: int | None = None) -> list[dict]:
        extra = {"limit": limit} if limit is not None else {}
        return list(self.client.query(self.name(table), filter=expr, output_fields=fields,
                                      consistency_level=CONSISTENCY, **extra))

    def query_in(self, table: str, field: str, values: Sequence[object], expr: str,
                 fields: list[str]) -> list[dict]:
        """Rows whose ``field`` is one of ``values`` (and that match ``expr``), in bounded
        batches."""
        out: list[dict] = []
        for chunk in _chunks(list(values)):
            where = _in(field, chunk) + (f" and {expr}" if expr else "")
            out += self.query(table, where, fields)
        return out

    def iterate(self, table: str, expr: str, fields: list[str],
                batch: int = 4096) -> Iterator[list[dict]]:
        """Every matching row, in batches (a query returns at most 16,384 rows on a server)."""
        it = self.client.query_iterator(self.name(table), batch_size=batch, filter=expr,
                                        output_fields=fields, consistency_level=CONSISTENCY)
        try:
            while rows := it.next():
                yield rows
        finally:
            it.close()

    def insert(self, table: str, rows: list[dict]) -> None:
        for chunk in _chunks(rows):
            self.client.insert(self.name(table), list(chunk))

    def end(self, table: str, ids: Sequence[int], generation: int) -> None:
        """Mark rows as removed by ``generation`` (or alive again, with ``ALIVE``)."""
        for chunk in _chunks(list(ids)):
            self.client.upsert(self.name(table), [{"id": i, "gen_to": generation} for i in chunk],
                               partial_update=True)

    def delete_ids(self, table: str, ids: Sequence[int]) -> None:
        for chunk in _chunks(list(ids)):
            self.client.delete(self.name(table), filter=_in("id", chunk))

    def rollback(self, live: int) -> None:
        """Undo a writer killed before publishing: delete the rows it added and make alive
        again the rows it marked removed (rows only the unpublished generation sees)."""
        for table in TABLES:
            self.client.delete(self.name(table), filter=f"gen_from > {int(live)}")
        for table in VERSIONED:
            ended = [r["id"] for rows in self.iterate(
                table, f"gen_to > {int(live)} and gen_to < {ALIVE}", ["id"]) for r in rows]
            self.end(table, ended, ALIVE)

    def collect(self, oldest_kept: int) -> None:
        """Delete the rows no kept generation (``oldest_kept`` and newer) can see."""
        gone = f"gen_to <= {int(oldest_kept)}"
        passages = [r["id"] for rows in self.iterate("passages", gone, ["id"]) for r in rows]
        for chunk in _chunks(passages):
            self.client.delete(self.name("sentences"), filter=_in("passage_id", chunk))
        documents = [r["id"] for rows in self.iterate("documents", gone, ["id"]) for r in rows]
        for chunk in _chunks(documents):
            self.client.delete(self.name("texts"), filter=_in("doc_id", chunk))
        for table in VERSIONED:
            self.client.delete(self.name(table), filter=gone)

    def flush(self) -> None:
        """Seal what was written: Milvus Lite searches unsealed rows by brute force in
        Python (~0.6 s a question at 10,000 passages), sealed ones through their index."""
        for table in TABLES:
            self.client.flush(self.name(table))


def bm25(norms: dict[int, str], terms: Sequence[str], df: dict[str, int], rows: int,
         tokens_total: int) -> dict[int, float]:
    """SQLite FTS5's ``bm25()`` (negated, so higher is better) of each passage for ``terms``:
    idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6 as FTS5 does, k1 = 1.2, b = 0.75."""
    avgdl = tokens_total / rows if rows else 1.0
    idf = {}
    for t in terms:
        n = df.get(t, 0)
        value = math.log((rows - n + 0.5) / (n + 0.5)) if rows else 0.0
        idf[t] = value if value > 0 else 1e-6
    out = {}
    for pid, norm in norms.items():
        words = norm.split()
        counts = Counter(words)
        norm_len = _K1 * (1 - _B + _B * len(words) / avgdl)
        out[pid] = sum(idf[t] * counts[t] * (_K1 + 1) / (counts[t] + norm_len)
                       for t in terms if counts[t])
    return out


# What ranking and citing need of a passage: searches return it with their hits, so reading
# a question's candidates costs no further round trip.
_ROW = ["doc_id", "start", "end", "norm", "script", "lang", "date"]
_REMEMBERED = 4096


class MilvusStore:
    """A view of a Milvus store as generation ``generation`` sees it (the reader).

    A question is ~8 calls to Milvus (the generation check, two searches, the hits' articles
    and sentences, the vectors of lexical-only candidates); what a generation holds never
    changes, so passage rows and document frequencies already read are remembered (bounded).
    """

    def __init__(self, tables: Tables, generation: int, documents: int, passages: int,
                 tokens_total: int) -> None:
        self.tables = tables
        self.generation = generation
        self.seen = visible(generation)
        self._counts = (documents, passages)
        self._tokens = tokens_total
        self._df: dict[str, int | None] = {}
        self._rows: dict[int, dict] = {}

    def remember(self, hits: Iterable[dict]) -> None:
        """Keep the rows a search returned (``_ROW`` fields, as ``entity``)."""
        if len(self._rows) > _REMEMBERED:
            self._rows.clear()
        for h in hits:
            self._rows[int(h["id"])] = h["entity"]

    def _rows_of(self, ids: Sequence[int]) -> dict[int, dict]:
        missing = [i for i in dict.fromkeys(ids) if i not in self._rows]
        if missing:
            self.remember({"id": r["id"], "entity": r} for r in self.tables.query_in(
                "passages", "id", missing, self.seen, ["id", *_ROW]))
        return {i: self._rows[i] for i in ids if i in self._rows}

    def close(self) -> None:
        """Nothing to release: the connection belongs to the backend."""

    def counts(self) -> tuple[int, int]:
        return self._counts

    def documents(self) -> list[DocMeta]:
        out = [_doc_meta(r) for rows in self.tables.iterate("documents", self.seen,
                                                            ["path", "meta"]) for r in rows]
        return sorted(out, key=lambda d: d.path)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        wanted = [t for t in dict.fromkeys(terms) if t not in self._df]
        if wanted:
            found = {r["term"]: int(r["df"]) for r in self.tables.query_in(
                "terms", "term", wanted, self.seen, ["term", "df"])}
            if len(self._df) > 100_000:
                self._df.clear()
            self._df.update({t: found.get(t) for t in wanted})
        return {t: n for t in terms if (n := self._df.get(t)) is not None}

    def lexical(self, query_tokens: Iterable[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over the passages this generation sees; scores as FTS5 computes them."""
        terms = sorted({t for t in query_tokens if t})
        if not terms or limit <= 0:
            return []
        hits = self.tables.client.search(
            self.tables.name("passages"), data=[" ".join(terms)], anns_field="sparse",
            limit=limit * _LEXICAL_WIDEN, filter=self.seen, output_fields=_ROW,
            search_params={"metric_type": "BM25"}, consistency_level=CONSISTENCY)[0]
        self.remember(hits)
        norms = {int(h["id"]): h["entity"]["norm"] for h in hits}
        scores = bm25(norms, terms, self.document_frequencies(terms), self._counts[1],
                      self._tokens)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(pid, score) for pid, score in ranked[:limit] if score > 0]

    def spellings(self, keys: Iterable[str]) -> dict[str, int]:
        """The terms held under any of ``keys`` (``translit.lookup_keys``), with their df
        (terms this generation does not hold are left out)."""
        keys = sorted(set(keys))
        if not keys:
            return {}
        terms = sorted({r["term"] for r in self.tables.query_in(
            "keys", "key", keys, f"gen_from <= {self.generation}", ["term"])})
        return self.document_frequencies(terms)

    def passage_rows(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        return {i: PassageRow(i, r["norm"], r["script"], r["lang"] or None, r["date"] or None)
                for i, r in self._rows_of(ids).items()}

    def language_centroids(self, dim: int) -> dict[str, np.ndarray]:
        """The mean passage vector of each article language (kept as running sums)."""
        out = {}
        for r in self.tables.query("languages", f"{self.seen} and passages > 0",
                                   ["lang", "passages", "vector_sum"]):
            total = _from_sum(r["vector_sum"])
            if len(total) == dim:
                out[r["lang"]] = (total / r["passages"]).astype(np.float32)
        return out

    def passage_counts(self) -> dict[str, int]:
        """Passages per document path, as this generation sees them."""
        paths = {r["id"]: r["path"] for rows in self.tables.iterate(
            "documents", self.seen, ["id", "path"]) for r in rows}
        counts = Counter(r["doc_id"] for rows in self.tables.iterate(
            "passages", self.seen, ["doc_id"]) for r in rows)
        return {path: counts.get(doc_id, 0) for doc_id, path in paths.items()}

    def passage_ids(self, paths: Sequence[str]) -> dict[str, list[int]]:
        """The passage ids of each of ``paths`` this generation sees, in text order."""
        out: dict[str, list[int]] = {}
        docs = {r["id"]: r["path"] for r in self.tables.query_in(
            "documents", "path", list(paths), self.seen, ["id", "path"])}
        if not docs:
            return out
        rows = self.tables.query_in("passages", "doc_id", list(docs), self.seen,
                                    ["id", "doc_id"])
        for r in sorted(rows, key=lambda r: r["id"]):
            out.setdefault(docs[r["doc_id"]], []).append(int(r["id"]))
        return out

    def article(self, path: str) -> StoredArticle | None:
        """One document's metadata, text and passage spans, or None if it is not stored."""
        rows = self.tables.query("documents", f"path == {quote(path)} and {self.seen}",
                                 ["id", "path", "meta"])
        if not rows:
            return None
        doc_id = rows[0]["id"]
        parts = self.tables.query("texts", f"doc_id == {doc_id}", ["part", "text"])
        spans = self.tables.query("passages", f"doc_id == {doc_id} and {self.seen}",
                                  ["ordinal", "start", "end"])
        return StoredArticle(_doc_meta(rows[0]),
                             "".join(r["text"] for r in sorted(parts, key=lambda r: r["part"])),
                             tuple((r["start"], r["end"])
                                   for r in sorted(spans, key=lambda r: r["ordinal"])))

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        rows = self._rows_of(ids)
        doc_ids = sorted({r["doc_id"] for r in rows.values()})
        docs = {r["id"]: _doc_meta(r) for r in self.tables.query_in(
            "documents", "id", doc_ids, "", ["id", "path", "meta"])}
        parts: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for r in self.tables.query_in("texts", "doc_id", doc_ids, "",
                                      ["doc_id", "part", "text"]):
            parts[r["doc_id"]].append((r["part"], r["text"]))
        texts = {d: "".join(t for _, t in sorted(p)) for d, p in parts.items()}
        out = {}
        for pid, r in rows.items():
            text = texts[r["doc_id"]]
            out[pid] = StoredPassage(pid, docs[r["doc_id"]], r["start"], r["end"],
                                     text[r["start"]:r["end"]], r["norm"], r["script"], text)
        return out

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        rows = self.tables.query_in("passages", "id", ids, "", ["id", "vector"])
        return {r["id"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def sentences(self, passage_ids: Sequence[int]) -> list[Sentence]:
        """Every sentence of the given passages, in stored (passage-then-text) order."""
        rows = self.tables.query_in("sentences", "passage_id", passage_ids, "",
                                    ["id", "passage_id", "start", "end", "norm", "vector"])
        rows.sort(key=lambda r: r["id"])
        return [Sentence(r["passage_id"], r["start"], r["end"], r["norm"],
                         np.asarray(r["vector"], dtype=np.float32)) for r in rows]

    def iter_vectors(self, dim: int, batch: int = 4096, *,
                     since: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        expr = f"{self.seen} and gen_from > {int(since)}"
        for rows in self.tables.iterate("passages", expr, ["id", "vector"], batch):
            ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, np.asarray([r["vector"] for r in rows], dtype=np.float32).reshape(-1, dim)


class MilvusVectors:
    """Dense search over the passages a generation sees, filtered on their generations; the
    hits' rows go to the generation's store, which search reads next."""

    def __init__(self, store: MilvusStore, size: int) -> None:
        self.store = store
        self.kind = f"milvus-{store.tables.index_type}"
        self.size = size

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if k <= 0 or self.size == 0:
            return []
        tables = self.store.tables
        hits = tables.client.search(
            tables.name("passages"), data=[np.asarray(query, dtype=np.float32).tolist()],
            anns_field="vector", limit=k, filter=self.store.seen, output_fields=_ROW,
            search_params={"metric_type": "IP", "params": tables.search_params()},
            consistency_level=CONSISTENCY)[0]
        self.store.remember(hits)
        return [(int(h["id"]), float(h["distance"])) for h in hits]


_FILE = ["path", "sha256", "size", "mtime_ns", "problems"]


def _file_state(row: dict) -> FileState:
    return FileState(row["path"], row["sha256"], row["size"], row["mtime_ns"],
                     tuple(tuple(p) for p in json.loads(row["problems"] or "[]")))


def _to_sum(total: np.ndarray) -> str:
    return base64.b64encode(np.asarray(total, dtype=np.float64).tobytes()).decode("ascii")


def _from_sum(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float64)


def _doc_meta(row: dict) -> DocMeta:
    meta = row["meta"]
    return DocMeta(row["path"], meta.get("title"), meta.get("date"), meta.get("outlet"),
                   meta.get("url"), meta.get("lang"))


class MilvusWriter:
    """The writing view of the next generation: reads the latest published rows, buffers what
    it adds, marks what it removes, and keeps what publication records (counts, term and
    language deltas, token total, id counters)."""

    def __init__(self, tables: Tables, generation: int, next_ids: dict[str, int],
                 tokens_total: int) -> None:
        self.tables = tables
        self.generation = generation
        self.next_ids = dict(next_ids)
        self.tokens_total = tokens_total
        self._pending: dict[str, list[dict]] = defaultdict(list)
        self._files_ended: set[str] = set()
        self._files_new: dict[str, FileState] = {}
        self._df: Counter[str] = Counter()
        # Per language: the change in passages and in the float64 sum of their vectors.
        self._langs: dict[str, tuple[int, np.ndarray]] = {}
        self._documents = 0
        self._passages = 0

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages of the generation being built hold each term: the published
        count and this run's changes (the local store counts them as it writes)."""
        wanted = list(dict.fromkeys(terms))
        old = {r["term"]: int(r["df"]) for r in self.tables.query_in(
            "terms", "term", wanted, f"gen_to == {ALIVE}", ["term", "df"])}
        return {t: n for t in wanted if (n := old.get(t, 0) + self._df[t]) > 0}

    def close(self) -> None:
        """Nothing to release: unpublished rows are undone by the next run's recovery."""

    def _take(self, table: str) -> int:
        self.next_ids[table] = self.next_ids.get(table, 0) + 1
        return self.next_ids[table]

    def files(self) -> dict[str, FileState]:
        return {r["path"]: _file_state(r)
                for rows in self.tables.iterate("files", f"gen_to == {ALIVE}", _FILE)
                for r in rows}

    def files_at(self, paths: Sequence[str]) -> dict[str, FileState]:
        """``files()`` for the given paths alone (a targeted run reads no other row)."""
        return {r["path"]: _file_state(r) for r in self.tables.query_in(
            "files", "path", list(dict.fromkeys(paths)), f"gen_to == {ALIVE}", _FILE)}

    def set_file(self, state: FileState) -> None:
        self._files_ended.add(state.path)
        self._files_new[state.path] = state

    def documents_of(self, file: str) -> dict[str, str]:
        rows = self.tables.query("documents", f"file == {quote(file)} and gen_to == {ALIVE}",
                                 ["path", "sha256"])
        return {r["path"]: r["sha256"] for r in rows}

    def delete_file(self, file: str) -> list[int]:
        gone: list[int] = []
        for path in self.documents_of(file):
            gone += self.delete_document(path)
        self._files_ended.add(file)
        self._files_new.pop(file, None)
        return gone

    def delete_document(self, path: str) -> list[int]:
        rows = self.tables.query("documents", f"path == {quote(path)} and gen_to == {ALIVE}",
                                 ["id", "meta"])
        if not rows:
            return []
        doc_id = rows[0]["id"]
        passages = self.tables.query("passages", f"doc_id == {doc_id} and gen_to == {ALIVE}",
                                     ["id", "norm", "length", "vector"])
        ids = [r["id"] for r in passages]
        if passages:
            # the stored (float16-rounded) vectors, as the local store subtracts them
            self._count_language(rows[0]["meta"].get("lang"),
                                 np.asarray([r["vector"] for r in passages]), -1)
        self.tables.end("passages", ids, self.generation)
        self.tables.end("documents", [doc_id], self.generation)
        for r in passages:
            self._df.subtract(set(r["norm"].split()))
            self.tokens_total -= r["length"]
        self._documents -= 1
        self._passages -= len(ids)
        return ids

    def add_document(self, doc: Document, file: str, content_hash: str,
                     passages: Sequence[Passage], passage_vectors: np.ndarray,
                     sentence_vectors: np.ndarray) -> list[int]:
        """Buffer a parsed document; sentence vectors are in passage-then-sentence order."""
        g = self.generation
        doc_id = self._take("documents")
        meta = {"title": doc.title, "date": doc.date, "outlet": doc.outlet, "url": doc.url,
                "lang": doc.lang}
        self._pending["documents"].append({
            "id": doc_id, "path": doc.path, "file": file, "sha256": content_hash, "meta": meta,
            "gen_from": g, "gen_to": ALIVE, "unit": UNIT})
        for part, start in enumerate(range(0, max(1, len(doc.text)), TEXT_PART)):
            self._pending["texts"].append({
                "id": self._take("texts"), "doc_id": doc_id, "part": part,
                "text": doc.text[start:start + TEXT_PART], "gen_from": g, "unit": UNIT})
        ids: list[int] = []
        s = 0
        for p, vec in zip(passages, passage_vectors, strict=True):
            norm = " ".join(tokens(p.text))
            if len(norm.encode("utf-8")) > _VARCHAR_BYTES:
                raise MilvusLimitError(
                    f"a passage of {doc.path} is longer than a Milvus text field holds; lower "
                    "KHABAR_CHUNK_CHARS (passages of a few thousand characters fit)")
            pid = self._take("passages")
            ids.append(pid)
            length = len(norm.split())
            self._pending["passages"].append({
                "id": pid, "doc_id": doc_id, "ordinal": p.ordinal, "start": p.start,
                "end": p.end, "length": length, "norm": norm, "script": script(p.text[:200]),
                "lang": doc.lang or "", "date": doc.date or "", "vector": _half(vec),
                "gen_from": g, "gen_to": ALIVE})
            for span in p.sentences:
                self._pending["sentences"].append({
                    "id": self._take("sentences"), "passage_id": pid, "start": span.start,
                    "end": span.end, "norm": " ".join(tokens(doc.text[span.start:span.end])),
                    "vector": _half(sentence_vectors[s]), "gen_from": g})
                s += 1
            self._df.update(set(norm.split()))
            self.tokens_total += length
        self._count_language(doc.lang, np.asarray(passage_vectors), +1)
        self._documents += 1
        self._passages += len(ids)
        if sum(len(rows) for rows in self._pending.values()) >= _PENDING:
            self._send()
        return ids

    def _count_language(self, lang: str | None, vectors: np.ndarray, sign: int) -> None:
        """Add (``sign`` +1) or remove (-1) passages' vectors from their language's delta."""
        if lang is None or not len(vectors):
            return
        total = np.asarray(vectors, dtype=np.float64).sum(axis=0) * sign
        count, delta = self._langs.get(lang, (0, np.zeros_like(total)))
        self._langs[lang] = (count + len(vectors) * sign, delta + total)

    def _send(self) -> None:
        for table in ("documents", "texts", "passages", "sentences", "files"):
            rows = self._pending.pop(table, [])
            if rows:
                self.tables.insert(table, rows)

    def counts(self) -> tuple[int, int]:
        return self._documents, self._passages

    def counts_since(self, since: int, documents: int, passages: int) -> tuple[int, int]:
        return documents + self._documents, passages + self._passages

    def finish(self) -> None:
        """Send everything, end the replaced file states, write the changed document
        frequencies as new term rows, and seal it all: what publication makes visible."""
        g = self.generation
        ended = [r["id"] for r in self.tables.query_in(
            "files", "path", sorted(self._files_ended), f"gen_to == {ALIVE}", ["id"])]
        self.tables.end("files", ended, g)
        for state in self._files_new.values():
            self._pending["files"].append({
                "id": self._take("files"), "path": state.path, "sha256": state.sha256,
                "size": state.size, "mtime_ns": state.mtime_ns,
                "problems": json.dumps([list(p) for p in state.problems], ensure_ascii=False),
                "gen_from": g, "gen_to": ALIVE, "unit": UNIT})
        self._send()
        changed = sorted(t for t, n in self._df.items() if n)
        old = {r["term"]: r for r in self.tables.query_in(
            "terms", "term", changed, f"gen_to == {ALIVE}", ["id", "term", "df"])}
        self.tables.end("terms", [r["id"] for r in old.values()], g)
        rows = []
        for t in changed:
            df = (old[t]["df"] if t in old else 0) + self._df[t]
            if df > 0:
                rows.append({"id": self._take("terms"), "term": t, "df": df, "gen_from": g,
                             "gen_to": ALIVE, "unit": UNIT})
        self.tables.insert("terms", rows)
        self.tables.insert("keys", [
            {"id": self._take("keys"), "key": k, "term": t, "gen_from": g, "unit": UNIT}
            for t in changed if t not in old and self._df[t] > 0 for k in sorted(lookup_keys(t))])
        self._finish_languages()
        self.tables.flush()

    def _finish_languages(self) -> None:
        """End the changed languages' rows and insert their new sums."""
        g = self.generation
        changed = sorted(self._langs)
        old = {r["lang"]: r for r in self.tables.query_in(
            "languages", "lang", changed, f"gen_to == {ALIVE}",
            ["id", "lang", "passages", "vector_sum"])}
        self.tables.end("languages", [r["id"] for r in old.values()], g)
        rows = []
        for lang in changed:
            count, total = self._langs[lang]
            if lang in old:
                before = _from_sum(old[lang]["vector_sum"])
                if len(before) == len(total):
                    total = total + before
                    count += old[lang]["passages"]
            if count > 0:
                rows.append({"id": self._take("languages"), "lang": lang, "passages": count,
                             "vector_sum": _to_sum(total), "gen_from": g, "gen_to": ALIVE,
                             "unit": UNIT})
        self.tables.insert("languages", rows)
