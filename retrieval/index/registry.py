"""Index backends by name: ``KHABAR_BACKEND`` resolved to the code that opens the index.

The interface (``backend.py``) knows no implementation and no implementation knows another:
each registers its opener here when its module is imported. The built-in backends are named
once, below, with the module that registers each; that module is imported only when its
backend is chosen, so the local backend never loads pymilvus (about a second of imports). The
settings take their choices from here, and this module imports nothing heavy, so ``khabar
--help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from khabar.retrieval.errors import SettingsError

if TYPE_CHECKING:
    from khabar.retrieval.config import EngineConfig
    from khabar.retrieval.index.backend import IndexBackend

# The built-in backends, the default first, and the module that registers each.
_BUILT_IN = {
    "local": "khabar.retrieval.index.generations",
    "milvus": "khabar.retrieval.index.milvus",
}
BACKENDS = tuple(_BUILT_IN)


# An opener reads the backend's part of the configuration (index_dir, milvus_*).
Opener = Callable[["EngineConfig"], "IndexBackend"]

_openers: dict[str, Opener] = {}


def register(name: str, opener: Opener) -> None:
    """Make ``KHABAR_BACKEND=name`` open its index with ``opener``. A second opener for a
    name already taken is refused: it would silently replace the first."""
    if _openers.get(name, opener) is not opener:
        raise ValueError(f"index backend {name!r} is already registered")
    _openers[name] = opener


def names() -> tuple[str, ...]:
    """Every backend that can be chosen: the built-in ones, then any registered since."""
    return (*BACKENDS, *(name for name in _openers if name not in _BUILT_IN))


def open_backend(settings: EngineConfig) -> IndexBackend:
    """The configured backend; its module is imported only now that it is chosen."""
    if settings.backend not in _openers and settings.backend in _BUILT_IN:
        importlib.import_module(_BUILT_IN[settings.backend])
    opener = _openers.get(settings.backend)
    if opener is None:
        raise SettingsError(f"invalid setting KHABAR_BACKEND={settings.backend!r}: choose from "
                            f"{', '.join(names())}")
    return opener(settings)
