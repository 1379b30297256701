"""Plain-terminal rendering of answers (the chat and ``khabar ask`` without ``--json``)."""

from __future__ import annotations

import unicodedata

from khabar.bot.answers import also_in, byline, notices, read_as
from khabar.retrieval.follow.store import Alert, Topic
from khabar.retrieval.follow.timeline import Timeline
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


def topics_text(topics: list[Topic]) -> str:
    if not topics:
        return "No topics followed. Follow one with /follow <words or a question>."
    return "\n".join(f"{t.id}. {t.text}" for t in topics)


def alert_text(alert: Alert) -> str:
    """A new article of a followed story: the topic, the article, the snippet that matched."""
    c = Citation.from_json(alert.match.citation)
    lines = [f"New in “{alert.topic.text}”:", article_line(c), f"    {c.snippet}"]
    others = also_in((c,))
    if others:
        lines.append(f"    also in: {others}")
    return "\n".join(lines)


def timeline_text(timeline: Timeline) -> str:
    """The story's dated articles, oldest first: date, article, the sentence cited."""
    if not timeline.entries:
        return f"No dated articles found for “{timeline.topic}”."
    lines = [f"Timeline: {timeline.topic}"]
    for e in timeline.entries:
        c = Citation.from_json(e.citation)
        lines.append(f"{e.date}  {article_line(c)}")
        lines.append(f"    {excerpt(c.snippet)}")
        for d in e.dates:
            lines.append(f"    («{d['text']}» = {d['date']})")
        others = also_in((c,))
        if others:
            lines.append(f"    also in: {others}")
    if timeline.undated:
        lines.append(f"({timeline.undated} more article(s) of this story carry no date.)")
    return "\n".join(lines)
