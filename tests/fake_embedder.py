"""A deterministic stand-in for the model, for tests where what is embedded is beside the point.

Each normalised token is hashed to a few signed dimensions (the hashing trick), so texts that
share words get similar vectors and the same text always gets the same vector: enough for
indexing, incremental updates and answer plumbing, in microseconds and with no model loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from khabar.embeddings.base import Embedder
from khabar.retrieval.normalize import tokens


class FakeEmbedder(Embedder):
    batch_size = 256

    def __init__(self, spec: str = "fake-hash", dim: int = 64) -> None:
        super().__init__(spec)
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def embed_batch(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            row[0] = 0.1  # never a zero vector
            for token in tokens(text):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                for i in range(0, 8, 2):
                    row[digest[i] % self._dim] += 1.0 if digest[i + 1] & 1 else -1.0
        return out
