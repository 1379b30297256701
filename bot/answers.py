"""What every front end says about an answer, before its own markup (terminal text, Telegram
HTML, Markdown): how a follow-up was read, why a model's answer is not shown, the other outlets
of a story, an article's byline. Written once, so the front ends cannot drift apart.
"""

from __future__ import annotations

from khabar.retrieval.types import Answer, Citation


def read_as(answer: Answer) -> str | None:
    """How a follow-up was read, when that is not what was asked (None otherwise)."""
    if answer.standalone and answer.standalone != answer.question:
        return answer.standalone
    return None


def notices(answer: Answer) -> list[str]:
    """One line each: why a configured model's answer is not shown, and how many generated
    sentences the claim checks removed (their text and reasons are in the JSON answer)."""
    lines = []
    if answer.fallback:
        lines.append(f"(extractive answer: {answer.fallback})")
    elif answer.removed:
        n = len(answer.removed)
        lines.append(f"({n} generated sentence{'s' if n > 1 else ''} removed: not supported "
                     "by the cited passages)")
    return lines


def also_in(group: tuple[Citation, ...]) -> str:
    """The other outlets (or files) that carry a cited story, once each."""
    names = dict.fromkeys(s.outlet or s.title or s.doc for c in group for s in c.also_in)
    return ", ".join(names)


def byline(*parts: str | None, sep: str = " · ") -> str:
    """An article's outlet, date and the like on one line; the missing ones are left out."""
    return sep.join(p for p in parts if p)
