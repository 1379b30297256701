"""Plain-terminal rendering of answers (the chat and ``khabar ask`` without ``--json``)."""

from __future__ import annotations

import unicodedata

from khabar.bot.answers import also_in, byline, notices, read_as
from khabar.retrieval.types import Answer, Citation

# Direction controls: in a file name they can make a report line read as something it is not.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(name: str) -> str:
    """``name`` for a terminal line: control, line-breaking, bidi-override and undecodable
    characters escaped (``\\n``, ``\\u202e``), so a file name cannot forge report lines."""
    out = []
    for ch in name:
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs"):
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       if ch != "\\" else ch)
        else:
            out.append(ch)
    return "".join(out)


def article_line(c: Citation) -> str:
    """One line naming a cited article: title (outlet — date) · file."""
    meta = byline(c.outlet, c.date, sep=" — ")
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


def answer_text(answer: Answer, *, full: bool = False) -> str:
    """The answer, then each cited article once with its snippets under it (an excerpt each;
    ``full`` gives whole snippets and the link). A follow-up shows how it was read."""
    lines = []
    read = read_as(answer)
    if read:
        lines.append(f"(read as: {read})")
    lines += [answer.answer, *notices(answer), ""]
    for group in answer.by_article():
        lines.append(article_line(group[0]))
        also = also_in(group)
        if also:
            lines.append(f"    also in: {also}")
        for c in group:
            label = f"    [{c.n}] " + (f"p. {c.page} " if c.page else "")
            if full:
                lines.append(label + c.snippet.replace("\n", "\n        "))
            else:
                lines.append(label + excerpt(c.snippet))
        if full and group[0].url:
            lines.append(f"    {group[0].url}")
    return "\n".join(lines).rstrip()
