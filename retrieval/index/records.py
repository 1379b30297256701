"""The records that cross the index interface: what search, the answer stage and the indexer
get from a store, and a generation's manifest.

They are plain values shared by every backend, so they live apart from any backend: the
interface (``backend.py``) and each implementation import them, and none imports another
implementation to get them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store knows of an indexed file, for the unchanged-file fast path, and what
    could not be used in it (document path, reason), reported again on every run."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    problems: tuple[tuple[str, str], ...] = ()


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
    lang: str | None = None
    date: str | None = None


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
    # The store (a file in the index directory, or a set of Milvus collections) whose rows
    # this generation sees.
    store: str | None = None
    # Approximate index only: (lists probed, candidates re-ranked) chosen at build time, the
    # recall@10 against exact search it measured, and how many vectors its lists were trained on.
    vector_setting: list[int] | None = None
    recall_at_10: float | None = None
    vectors_trained_on: int | None = None
    # Vectors in the base file, and ids in the files whose passages are gone (tombstones).
    vectors_base: int | None = None
    vectors_stale: int = 0
    # Local backend: size in bytes of each file of the generation directory besides this one,
    # so a truncated or replaced file is found by a stat, without reading it.
    files: dict[str, int] | None = None

    def vector_fields(self) -> dict:
        """The fields ``VectorIndex.describe`` wrote, for ``VectorIndex.load``."""
        return {"vector_index": self.vector_index, "vector_setting": self.vector_setting,
                "recall_at_10": self.recall_at_10, "vectors_trained_on": self.vectors_trained_on,
                "vectors_base": self.vectors_base, "vectors_stale": self.vectors_stale,
                "dim": self.dim}

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        """Fields this version does not know (older or newer manifests) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.from_dict(json.loads(text))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.from_json(path.read_text(encoding="utf-8"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def write(self, path: Path) -> None:
        write_durable(path, self.to_json())


def write_durable(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
