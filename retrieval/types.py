"""The records every stage speaks, in one place: parsing -> chunking -> store -> analyse ->
retrieve -> rerank -> compose -> generate, and the ``Answer`` every front end renders.

They are frozen so that a stage can never mutate what an earlier stage handed it, and small so
that they cross process and JSON boundaries without ceremony. ``Answer.to_json`` is the public
JSON contract (``khabar ask --json``, ``ask -``, the HTTP API): fields may be added, none
removed or renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

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
class Candidate:
    """A passage competing for an answer, with its named scores: ``dense`` its cosine to the
    question, ``lexical`` its BM25 relative to the best candidate's, and ``score`` its rank
    score so far (fused, then moved by the time asked and by the rerank stage)."""

    passage_id: int
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    """A sentence of a top passage as an answer candidate, scored by the rerank stage."""

    passage_id: int
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Query:
    """A question as the search and answer stages see it, analysed once.

    ``text`` is what is searched; ``vector`` its query embedding, ``tokens`` its normalised
    terms, ``script`` and ``lang`` what lexical trust and the reply language depend on;
    ``period`` the time it asks about, which ranking prefers; ``read_as`` the corpus terms
    that its words the corpus never uses are read as (``retrieval.lexicon``). The analyse
    stage (``stages/analyse.py``) builds it.
    """

    text: str
    vector: np.ndarray
    tokens: frozenset[str]
    script: str
    lang: str
    period: Period | None = None
    read_as: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # What kind of answer it asks for: a date ("when", "متى", "کی"), or any number or date
    # ("how many", "كم", "چند"), which the sentences that state one are preferred for.
    wants_date: bool = False
    wants_quantity: bool = False


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a stored passage, with what the answer stage scores it on: its vector
    and its normalised tokens, both computed at indexing time."""

    passage_id: int
    start: int
    end: int
    norm: str
    vector: np.ndarray

@dataclass(frozen=True, slots=True)
class Source:
    """Another article carrying a cited passage's story (the same wire copy elsewhere)."""

    doc: str
    title: str | None
    outlet: str | None
    date: str | None


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source shown under an answer; ``snippet == file_text[start:end]``."""

    n: int
    doc: str
    title: str | None
    outlet: str | None
    date: str | None
    url: str | None
    snippet: str
    start: int
    end: int
    score: float
    passage_id: int = field(default=0, compare=False)
    # The same story in other articles (outlets republishing one agency's copy).
    also_in: tuple[Source, ...] = ()
    # The page of a paged document (a PDF) the snippet starts on; None for other documents.
    page: int | None = None

    @classmethod
    def from_json(cls, data: Mapping) -> Citation:
        """A citation from its JSON (``Answer.to_json``'s, or as the follows file keeps one
        for an alert, a digest or a timeline), so those are cited exactly as answers are."""
        return cls(
            n=int(data.get("n") or 1), doc=data["doc"], title=data.get("title"),
            outlet=data.get("outlet"), date=data.get("date"), url=data.get("url"),
            snippet=data["snippet"], start=data["start"], end=data["end"],
            score=float(data.get("score") or 0.0), passage_id=int(data.get("passage_id") or 0),
            also_in=tuple(Source(a["doc"], a.get("title"), a.get("outlet"), a.get("date"))
                          for a in data.get("also_in") or ()),
            page=data.get("page"))


@dataclass(frozen=True, slots=True)
class Removed:
    """A generated sentence that failed a claim check, and which check it failed."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What every front end renders."""

    question: str
    found: bool
    answer: str
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float]
    # The question as understood in its conversation: what was searched. Empty = the question.
    standalone: str = ""
    # "llm" when the answer was generated (and checked), "extractive" otherwise.
    mode: str = "extractive"
    removed: tuple[Removed, ...] = ()
    # Why a configured model's answer is not the one shown (the extractive one is instead).
    fallback: str | None = None

    def by_article(self) -> list[tuple[Citation, ...]]:
        """The citations grouped by article, in order of first citation: front ends show each
        article's title, outlet and date once, with its snippets (and their ``[n]``) under it."""
        groups: dict[str, list[Citation]] = {}
        for c in self.citations:
            groups.setdefault(c.doc, []).append(c)
        return [tuple(g) for g in groups.values()]

    def to_json(self) -> dict:
        citations = []
        for c in self.citations:
            d = asdict(c)
            d.pop("passage_id")
            d["score"] = round(d["score"], 4)
            d["also_in"] = [asdict(source) for source in c.also_in]
            citations.append(d)
        return {
            "question": self.question,
            "standalone": self.standalone or self.question,
            "found": self.found,
            "answer": self.answer,
            "citations": citations,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "mode": self.mode,
            "removed": [{"text": r.text, "reason": r.reason} for r in self.removed],
            "fallback": self.fallback,
        }
