"""Plain-terminal rendering of answers (the chat and ``khabar ask`` without ``--json``)."""

from __future__ import annotations

from khabar.retrieval.answer.types import Answer, Citation


def article_line(c: Citation) -> str:
    """One line naming a cited article: title (outlet — date) · file."""
    meta = " — ".join(x for x in (c.outlet, c.date) if x)
    title = c.title or c.doc
    return title + (f" ({meta})" if meta else "") + f" · {c.doc}"


_EXCERPT_CHARS = 100


def excerpt(snippet: str) -> str:
    """The snippet's opening words on one line: enough to tell two passages of one article
    apart without flooding a terminal."""
    text = " ".join(snippet.split())
    if len(text) <= _EXCERPT_CHARS:
        return text
    cut = text.rfind(" ", 0, _EXCERPT_CHARS)
    return text[:cut if cut > _EXCERPT_CHARS // 2 else _EXCERPT_CHARS] + "…"


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


def answer_text(answer: Answer, *, full: bool = False) -> str:
    """The answer, then each cited article once with its snippets under it (an excerpt each;
    ``full`` gives whole snippets and the link). A follow-up shows how it was read."""
    lines = []
    if answer.standalone and answer.standalone != answer.question:
        lines.append(f"(read as: {answer.standalone})")
    lines += [answer.answer, *notices(answer), ""]
    for group in answer.by_article():
        lines.append(article_line(group[0]))
        for c in group:
            if full:
                lines.append(f"    [{c.n}] " + c.snippet.replace("\n", "\n        "))
            else:
                lines.append(f"    [{c.n}] {excerpt(c.snippet)}")
        if full and group[0].url:
            lines.append(f"    {group[0].url}")
    return "\n".join(lines).rstrip()
