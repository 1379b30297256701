"""An answer as Markdown, for chat clients (Open WebUI, LibreChat, ...) that render it.

The answer keeps its ``[n]`` markers; under it, each cited article is listed once (title,
outlet, date, link) with its numbered snippets quoted, so a reader can check every claim
without leaving the chat.
"""

from __future__ import annotations

import re

from khabar.bot.answers import byline, read_as
from khabar.retrieval.normalize import detect_lang
from khabar.retrieval.strings import say
from khabar.retrieval.types import Answer

# Emphasis, code and HTML would change how news text reads; brackets stay literal, so the
# answer's "[1]" markers read the same in clients that show the Markdown unrendered.
_SPECIAL = re.compile(r"([\\`*_<>])")


def escape(text: str) -> str:
    """``text`` on one line, with Markdown's markup characters taken literally."""
    line = _SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return "\\" + line if line.startswith("#") else line


def answer_markdown(answer: Answer) -> str:
    lang = detect_lang(answer.question)
    parts = []
    read = read_as(answer)
    if read:
        parts.append(f"*{say('read_as', lang)}: {escape(read)}*")
    parts.append(escape(answer.answer))
    groups = answer.by_article()
    if groups:
        lines = [f"**{say('sources_heading', lang)}**", ""]
        for group in groups:
            first = group[0]
            title = escape(first.title or first.doc)
            if first.url:
                link = title.replace("[", "\\[").replace("]", "\\]")
                title = f"[{link}](<{first.url}>)"
            meta = byline(*(escape(x) for x in (first.outlet, first.date) if x))
            lines.append(f"- **{title}**" + (f" — {meta}" if meta else "") + f" · `{first.doc}`")
            lines += [f"  - **[{c.n}]** “{escape(c.snippet)}”" for c in group]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
