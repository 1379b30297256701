"""What the answer stage hands every front end: an ``Answer`` and its ``Citation``s.

``Answer.to_json`` is the public JSON contract (``khabar ask --json``, ``ask -``): fields may
be added, none removed or renamed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
