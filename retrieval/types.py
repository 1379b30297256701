"""The records every stage speaks: parsing -> chunking -> store -> search -> answer.

They are frozen so that a stage can never mutate what an earlier stage handed it, and small so
that they cross process and JSON boundaries without ceremony.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass(frozen=True, slots=True)
class Answer:
    """What every front end renders; ``to_json`` is the public JSON contract."""

    question: str
    found: bool
    answer: str
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float]

    def to_json(self) -> dict:
        citations = []
        for c in self.citations:
            d = asdict(c)
            d.pop("passage_id")
            d["score"] = round(d["score"], 4)
            citations.append(d)
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "citations": citations,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
