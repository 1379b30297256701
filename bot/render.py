"""Plain-terminal rendering of answers (the chat and ``khabar ask`` without ``--json``)."""

from __future__ import annotations

from retrieval.types import Answer, Citation


def citation_line(c: Citation) -> str:
    meta = " — ".join(x for x in (c.outlet, c.date) if x)
    title = c.title or c.doc
    return f"[{c.n}] {title}" + (f" ({meta})" if meta else "") + f" · {c.doc}"


def answer_text(answer: Answer, *, full: bool = False) -> str:
    """The answer, then one line per citation; ``full`` adds each snippet below its line."""
    lines = [answer.answer, ""]
    for c in answer.citations:
        lines.append(citation_line(c))
        if full:
            lines.append("    " + c.snippet.replace("\n", "\n    "))
            if c.url:
                lines.append(f"    {c.url}")
    return "\n".join(lines).rstrip()
