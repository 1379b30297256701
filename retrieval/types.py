"""The records the retrieval stages speak: parsing -> chunking -> store -> search.

They are frozen so that a stage can never mutate what an earlier stage handed it, and small so
that they cross process and JSON boundaries without ceremony.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from khabar.retrieval.dates import Period

# Separates the pages of a paged text (the PDF reader's output), as in pdftotext's.
PAGE_BREAK = "\f"


def page_at(text: str, offset: int) -> int | None:
    """The page (from 1) that ``offset`` falls on in ``text``; None for a text without pages."""
    if PAGE_BREAK not in text:
        return None
    return text.count(PAGE_BREAK, 0, offset) + 1


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` into a document's original text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """One article file, parsed: metadata plus the spans of its real body text.

    ``text`` is the whole decoded file, kept so that every offset downstream points into what
    the user can open, not into a cleaned copy.
    """

    path: str
    text: str
    title: str | None
    date: str | None
    outlet: str | None
    url: str | None
    lang: str
    blocks: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieval unit: a run of whole sentences from one block of one document."""

    doc: str
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage picked by search, with the evidence behind its rank."""

    passage_id: int
    doc: str
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True, slots=True)
class Query:
    """A question as the search and answer stages see it, analysed once.

    ``text`` is what is searched; ``vector`` its query embedding, ``tokens`` its normalised
    terms, ``script`` and ``lang`` what lexical trust and the reply language depend on;
    ``period`` the time it asks about, which ranking prefers; ``read_as`` the corpus terms
    that its words the corpus never uses are read as (``retrieval.lexicon``).
    """

    text: str
    vector: np.ndarray
    tokens: frozenset[str]
    script: str
    lang: str
    period: Period | None = None
    read_as: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a stored passage, with what the answer stage scores it on: its vector
    and its normalised tokens, both computed at indexing time."""

    passage_id: int
    start: int
    end: int
    norm: str
    vector: np.ndarray
