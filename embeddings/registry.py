"""Embedder spec strings -> backends. Unknown names fail loudly with the valid choices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from khabar.retrieval.errors import KhabarError

if TYPE_CHECKING:
    from khabar.embeddings.base import Embedder

DEFAULT_EMBEDDER = "e5-small-bundled"


class UnknownEmbedderError(KhabarError):
    """The spec names no backend we have."""


def _bundled(spec: str, arg: str) -> Embedder:
    from khabar.embeddings.bundled import BundledE5

    return BundledE5(spec)


def _sentence_transformers(spec: str, arg: str) -> Embedder:
    from khabar.embeddings.st import SentenceTransformerEmbedder

    if not arg:
        raise UnknownEmbedderError(
            f"embedder spec {spec!r} names no model: use st:<model name or local path>"
        )
    return SentenceTransformerEmbedder(spec, arg)


_BACKENDS = {
    "e5-small-bundled": _bundled,
    "st": _sentence_transformers,
}


def available() -> list[str]:
    """Valid spec forms, for help texts and error messages."""
    return ["e5-small-bundled", "st:<model name or path>"]


def get_embedder(spec: str) -> Embedder:
    """Build the backend for ``spec`` without loading any model yet."""
    name, _, arg = spec.strip().partition(":")
    factory = _BACKENDS.get(name)
    if factory is None or (name == "e5-small-bundled" and arg):
        raise UnknownEmbedderError(
            f"unknown embedder {spec!r} (KHABAR_EMBEDDER / --embedder); "
            f"choose from: {', '.join(available())}"
        )
    return factory(spec.strip(), arg)
