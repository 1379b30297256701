"""Plain-terminal rendering of answers (the chat and ``khabar ask`` without ``--json``)."""

from __future__ import annotations

from khabar.retrieval.answer.types import Answer, Citation


def citation_line(c: Citation) -> str:
    meta = " — ".join(x for x in (c.outlet, c.date) if x)
    title = c.title or c.doc
    return f"[{c.n}] {title}" + (f" ({meta})" if meta else "") + f" · {c.doc}"


_EXCERPT_CHARS = 100


def excerpt(snippet: str) -> str:
    """The snippet's opening words on one line: enough to tell two passages of one article
    apart without flooding a terminal."""
    text = " ".join(snippet.split())
    if len(text) <= _EXCERPT_CHARS:
        return text
    cut = text.rfind(" ", 0, _EXCERPT_CHARS)
    return text[:cut if cut > _EXCERPT_CHARS // 2 else _EXCERPT_CHARS] + "…"


def answer_text(answer: Answer, *, full: bool = False) -> str:
    """The answer, then each citation with an excerpt of its snippet; ``full`` gives the whole
    snippet and the link instead."""
    lines = [answer.answer, ""]
    for c in answer.citations:
        lines.append(citation_line(c))
        if full:
            lines.append("    " + c.snippet.replace("\n", "\n    "))
            if c.url:
                lines.append(f"    {c.url}")
        else:
            lines.append(f"    {excerpt(c.snippet)}")
    return "\n".join(lines).rstrip()
