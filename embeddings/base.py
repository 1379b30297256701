"""The one embedder interface: a LangChain ``Embeddings`` that backends fill with one method.

Backends implement ``embed_batch`` (texts in, L2-normalised float32 rows out) and say whether
they need query/passage roles. Batching, vector hygiene and the LangChain methods live here once,
so every backend behaves alike in the index, the retriever and any LangChain chain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from khabar.retrieval.errors import KhabarError


class EmbedderError(KhabarError):
    """A backend could not be loaded or failed to embed."""


class Embedder(Embeddings, ABC):
    """Base for every backend; ``spec`` is the registry string that recreates it."""

    batch_size: int = 32

    def __init__(self, spec: str) -> None:
        self.spec = spec

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector width; recorded in the index so a mismatch is caught on open."""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        """Embed at most ``batch_size`` texts; ``query`` selects the query or passage role."""

    def token_count(self, text: str) -> int:
        """Approximate model tokens in ``text``; backends with a tokenizer override this."""
        return max(1, len(text) // 4)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """All of ``texts`` as one ``(n, dim)`` float32 matrix of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._clean(self.embed_batch(b, query=query)) for b in self._batches(texts)]
        return np.vstack(parts)

    def embed_one_query(self, text: str) -> np.ndarray:
        """One query vector, skipping list conversions on the latency-critical path."""
        return self._clean(self.embed_batch([text], query=True))[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts, query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_one_query(text).tolist()

    def _batches(self, texts: Sequence[str]) -> Iterator[Sequence[str]]:
        for i in range(0, len(texts), self.batch_size):
            yield texts[i:i + self.batch_size]

    def _clean(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise EmbedderError(
                f"embedder {self.spec!r} returned shape {vectors.shape}, expected (n, {self.dim})"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # Inner product on unit vectors is cosine; renormalising is cheap insurance against a
        # backend that returns raw pooled vectors.
        return vectors / np.maximum(norms, 1e-12)
