"""How every SQLite file of the index keeps a vector (the store, the lexicon).

A module of its own, below both: the lexicon is filled by the indexer, so taking the codec
from the store would make the index room and the lexicon import each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Vectors are stored as float16: cosine scores move by ~1e-4 and the files are half the size.
_VECTOR_DTYPE = np.float16


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=_VECTOR_DTYPE).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_VECTOR_DTYPE).astype(np.float32)


def from_blobs(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Many stored vectors as one matrix, in one copy."""
    return np.frombuffer(b"".join(blobs), dtype=_VECTOR_DTYPE).reshape(
        len(blobs), dim).astype(np.float32)
