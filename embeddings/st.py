"""Any sentence-transformers model, by hub name or local path (extra ``st``).

torch and the model load on the first embedding, not at construction, so commands that never
embed stay fast and work without the extra installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from khabar.embeddings.base import Embedder, EmbedderError


class SentenceTransformerEmbedder(Embedder):
    """``st:<model>``; e5-family models get the ``query: `` / ``passage: `` prefixes they need."""

    def __init__(self, spec: str, model_name: str) -> None:
        super().__init__(spec)
        self.model_name = model_name
        self._model: Any = None
        self._e5 = "e5" in model_name.lower()

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbedderError(
                    f"embedder {self.spec!r} needs sentence-transformers: "
                    "pip install 'khabar[st]' (install torch==2.13.0 first for the CPU build)"
                ) from exc
            try:
                self._model = SentenceTransformer(self.model_name, device="cpu")
            except OSError as exc:
                raise EmbedderError(
                    f"cannot load sentence-transformers model {self.model_name!r}: {exc}. "
                    "Give a local model directory, or a hub name already in the local cache."
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def embed_batch(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        items = list(texts)
        kwargs: dict[str, Any] = {}
        if self._e5:
            prefix = "query: " if query else "passage: "
            items = [prefix + t for t in items]
        else:
            prompt = "query" if query else "document"
            if self.model.prompts.get(prompt):
                kwargs["prompt_name"] = prompt
        return self.model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            **kwargs,
        )

    def token_count(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True)["input_ids"])
