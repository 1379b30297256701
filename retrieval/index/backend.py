"""Where an index lives: the interface every store backend provides.

Search, the answer stage and the indexer speak only to this interface, so the same questions
get the same answers whether the index is a directory on one disk (``local``: SQLite + FAISS,
``retrieval.index.generations``, the default and the fast path) or collections in a Milvus
deployment that any number of serving processes on any machines share (``milvus``:
``retrieval.index.milvus``, a Milvus Lite file or a server/cluster). Which one is chosen by name
in ``registry.py``; this module imports none of them, only the records they exchange
(``records.py``).

Every backend keeps the same semantics: an index is a sequence of immutable generations; a
writer builds the next one under a single-writer lock and publishes it atomically (a writer
killed at any moment leaves the previous generation answering, and the next run undoes its
leftovers); readers open the live generation and switch to a newer one between questions; an
index built by another embedder is refused with the rebuild hint. ``tests/backend_suite.py`` is
the one suite run against every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.records import (
    DocMeta,
    FileState,
    Manifest,
    PassageRow,
    StoredArticle,
    StoredPassage,
)
from khabar.retrieval.types import Document, Passage, Sentence

if TYPE_CHECKING:
    from khabar.embeddings.base import Embedder


class KhabarIndexError(KhabarError):
    """Base for index problems the user must act on."""


class IndexNotFoundError(KhabarIndexError):
    pass


class IndexMismatchError(KhabarIndexError):
    pass


class IndexLockedError(KhabarIndexError):
    pass


class IndexDamagedError(KhabarIndexError):
    pass


class IndexWriteError(KhabarIndexError):
    """The index cannot be written (not a folder, no permission, disk full)."""


class StoreReader(Protocol):
    """What search and the answer service read from a generation's rows."""

    def counts(self) -> tuple[int, int]: ...
    def documents(self) -> list[DocMeta]: ...
    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...
    def spellings(self, keys: Iterable[str]) -> dict[str, int]: ...
    def lexical(self, query_tokens: Iterable[str], limit: int) -> list[tuple[int, float]]: ...
    def passage_rows(self, ids: Sequence[int]) -> dict[int, PassageRow]: ...
    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]: ...
    def passage_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...
    def sentences(self, passage_ids: Sequence[int]) -> list[Sentence]: ...
    def language_centroids(self, dim: int) -> dict[str, np.ndarray]: ...
    def passage_counts(self) -> dict[str, int]: ...
    def passage_ids(self, paths: Sequence[str]) -> dict[str, list[int]]: ...
    def article(self, path: str) -> StoredArticle | None: ...
    def iter_vectors(self, dim: int, batch: int = 4096, *,
                     since: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def close(self) -> None: ...


class StoreWriter(Protocol):
    """What the indexer writes through while it builds generation ``generation``: it reads
    the latest published rows and stamps what it adds or removes with that number."""

    generation: int

    def files(self) -> dict[str, FileState]: ...
    def files_at(self, paths: Sequence[str]) -> dict[str, FileState]: ...
    def set_file(self, state: FileState) -> None: ...
    def documents_of(self, file: str) -> dict[str, str]: ...
    def delete_file(self, file: str) -> list[int]: ...
    def delete_document(self, path: str) -> list[int]: ...
    def add_document(self, doc: Document, file: str, content_hash: str,
                     passages: Sequence[Passage], passage_vectors: np.ndarray,
                     sentence_vectors: np.ndarray) -> list[int]: ...
    def counts(self) -> tuple[int, int]: ...
    def counts_since(self, since: int, documents: int, passages: int) -> tuple[int, int]: ...
    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...
    def close(self) -> None: ...


class VectorSearch(Protocol):
    """Dense search over the passages a generation sees."""

    kind: str

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...


@dataclass
class Generation:
    """An opened, read-only generation: what search needs, nothing more. ``path`` is its
    directory for the local backend, None where it lives in a database."""

    name: str
    path: Path | None
    manifest: Manifest
    store: StoreReader
    vectors: VectorSearch

    _centroids: dict[str, np.ndarray] | None = None

    @property
    def number(self) -> int:
        return self.manifest.generation

    def centroids(self) -> dict[str, np.ndarray]:
        """The mean passage vector per article language, read once per generation."""
        if self._centroids is None:
            self._centroids = self.store.language_centroids(self.manifest.dim)
        return self._centroids

    def close(self) -> None:
        self.store.close()


class IndexBackend(ABC):
    """An index's home: its generations, their publication and the writer lock."""

    # The store layout this code reads; a generation of another is rebuilt by the next run.
    schema: int

    @abstractmethod
    def describe(self) -> str:
        """Where the index is, for messages (a directory, or a Milvus URI and prefix)."""

    @abstractmethod
    def manifest(self) -> Manifest | None:
        """The live generation's manifest, or None when nothing was published."""

    @abstractmethod
    def current_name(self) -> str | None:
        """The live generation's name (``gen-000007``)."""

    @abstractmethod
    def current_stamp(self) -> object:
        """A cheap value that changes whenever a new generation goes live (asked before every
        question by serving processes)."""

    @abstractmethod
    def open(self, embedder_spec: str, dim: int | None = None) -> Generation:
        """The live generation, checked against the embedder."""

    @abstractmethod
    def damage(self, *, deep: bool = False) -> str | None:
        """What is wrong with the live generation, or None (also when there is no index).
        The quick check runs before every open and every indexing run (which repairs what it
        finds by rebuilding); ``deep`` (``khabar index --check``) reads everything."""

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]:
        """Hold the single-writer lock; a second writer fails at once saying who holds it."""

    @abstractmethod
    def recover(self) -> None:
        """Under the lock, before writing: undo whatever a killed writer left behind."""

    @abstractmethod
    def writer(self, base: Manifest | None, dim: int) -> StoreWriter:
        """A writing view for the next generation: on ``base``'s rows, or a fresh store."""

    @abstractmethod
    def publish(self, store: StoreWriter, embedder: Embedder, *, base: Manifest | None,
                documents: int, passages: int, chunking: dict[str, int]) -> str:
        """Make the generation ``store`` built live (atomically); returns its name."""

    @abstractmethod
    def collect(self) -> None:
        """Under the lock, after publishing: drop what no kept generation can see."""

    @abstractmethod
    def sibling(self, directory: Path, name: str) -> IndexBackend:
        """Another index of the same kind for a derived corpus (an eval set, a bench size):
        ``directory / name`` for a directory backend, another prefix in the same Milvus."""

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """The settings (environment variables) that point a ``khabar`` process at this
        index."""

    @abstractmethod
    def destroy(self) -> None:
        """Delete the whole index (bench corpora clean up after themselves)."""

    def close(self) -> None:  # noqa: B027 - only backends with connections override it
        """Release connections (a Milvus Lite file serves one process at a time)."""


def check_compatible(manifest: Manifest, where: str, embedder_spec: str, dim: int | None,
                     schema: int) -> None:
    if manifest.schema != schema:
        raise IndexMismatchError(
            f"the index at {where} has schema version {manifest.schema}, this khabar reads "
            f"version {schema}; rebuild it with `khabar index --rebuild`"
        )
    if manifest.embedder != embedder_spec or (dim is not None and manifest.dim != dim):
        raise IndexMismatchError(
            f"the index at {where} was built with embedder {manifest.embedder!r} "
            f"(dim {manifest.dim}) but the configured embedder is {embedder_spec!r}; "
            f"rebuild it with `khabar index --rebuild`, or set KHABAR_EMBEDDER={manifest.embedder}"
        )
