"""Rerankers by name (``KHABAR_RERANKER``). The built-in ones are imported only when chosen;
a new one is one module that calls ``register`` and one line in ``_BUILTIN`` (or, outside
Khabar, a ``register`` call before the engine is built)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from khabar.retrieval.errors import SettingsError

if TYPE_CHECKING:  # the settings read the names without loading any reranker (or numpy)
    from khabar.retrieval.stages.rerank.base import Reranker, RerankOptions

# name -> the module that registers it
_BUILTIN = {
    "best-sentence": "khabar.retrieval.stages.rerank.best_sentence",
}
_FACTORIES: dict[str, Callable[[RerankOptions], Reranker]] = {}


def register(name: str, factory: Callable[[RerankOptions], Reranker]) -> None:
    """Make ``factory`` the reranker called ``name``."""
    _FACTORIES[name] = factory


def names() -> tuple[str, ...]:
    """Every reranker that can be chosen: the built-in ones and those registered since."""
    return tuple(dict.fromkeys([*_BUILTIN, *_FACTORIES]))


def get_reranker(name: str, options: RerankOptions) -> Reranker:
    """The reranker called ``name``; an unknown name fails with the list of choices."""
    if name not in _FACTORIES and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _FACTORIES:
        raise SettingsError(f"unknown reranker {name!r} (KHABAR_RERANKER): choose from "
                            f"{', '.join(names())}")
    return _FACTORIES[name](options)
