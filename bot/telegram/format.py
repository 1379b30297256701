"""Telegram HTML for answers, alerts, digests and timelines: escaped corpus text, bidi-safe
paragraphs, 4096-char parts.

Every piece of article text is passed through ``html.escape``: a seed containing ``<b>``, ``&``
or ``</blockquote>`` must render as text, never as markup. Each paragraph starts with a strong
direction mark of its own language (RLM for Arabic script, LRM for Latin), so a Persian answer
followed by English metadata keeps its right-to-left layout and ``[1]`` stays where it belongs.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from khabar.bot.answers import also_in, byline, notices, read_as
from khabar.retrieval.normalize import script
from khabar.retrieval.strings import say
from khabar.retrieval.types import Answer, Citation

if TYPE_CHECKING:
    from khabar.retrieval.follow.digest import DigestText
    from khabar.retrieval.follow.timeline import Timeline
    from khabar.retrieval.intake import AddReport, FeedResult

MAX_MESSAGE = 4096
RLM, LRM = "\u200f", "\u200e"

def mark(plain: str) -> str:
    """The direction mark a paragraph of ``plain`` text should start with."""
    return RLM if script(plain) == "arabic" else LRM


def _e(value: str) -> str:
    return html.escape(value, quote=False)


def article_header(c: Citation) -> str:
    """A cited article, named once: its citation numbers, title, outlet and date, file."""
    title = c.title or c.doc
    meta = byline(c.outlet, c.date)
    line = f"<b>{_e(title)}</b>" + (f" — {_e(meta)}" if meta else "")
    return mark(title) + line + f"\n{LRM}<code>{_e(c.doc)}</code>"


def answer_blocks(answer: Answer, lang: str = "en") -> list[str]:
    """Self-contained HTML blocks: the answer, then one block per cited article with its
    snippets, each under its ``[n]``, and the other outlets carrying the same story."""
    blocks = [mark(answer.answer) + _e(answer.answer)
              + "".join(f"\n{LRM}<i>{_e(line)}</i>" for line in notices(answer))]
    read = read_as(answer)
    if read:
        blocks[0] = f"{mark(read)}<i>↳ {_e(read)}</i>\n" + blocks[0]
    blocks.extend(article_block(group, lang) for group in answer.by_article())
    return blocks


def article_block(group: Sequence[Citation], lang: str, *, expandable: bool = True) -> str:
    """One cited article: its header, the other outlets carrying the story, then each snippet
    under its ``[n]``. Answers fold the snippets away (the answer already quotes them); an
    alert shows its one snippet open, since the snippet is the news."""
    quote = "blockquote expandable" if expandable else "blockquote"
    quotes = "".join(f"\n{mark(c.snippet)}[{c.n}]{_page(c)} <{quote}>"
                     f"{mark(c.snippet)}{_e(c.snippet)}</blockquote>" for c in group)
    return article_header(group[0]) + _also(group, lang) + quotes


def _also(group: Sequence[Citation], lang: str) -> str:
    also = also_in(tuple(group))
    return f"\n{mark(also)}<i>{_e(say('also_in', lang))}: {_e(also)}</i>" if also else ""


def alert_blocks(topic: str, cited: Citation, lang: str) -> list[str]:
    """A new article on a followed topic: the topic, then the article cited as answers cite
    it (title, outlet, date, file, the exact snippet, the other outlets of a wire copy)."""
    heading = say("alert_heading", lang)
    return [f"{mark(heading)}🔔 <i>{_e(heading)}:</i> <b>{_e(topic)}</b>",
            article_block((cited,), lang, expandable=False)]


def digest_blocks(news: DigestText) -> list[str]:
    """A daily digest: each topic with news, then its stories, newest first, each one
    sentence and its citation. A topic's heading shares a block with its first story, so a
    split never leaves a heading alone at the end of a message."""
    lang = news.lang
    heading = say("digest_heading", lang, day=news.day)
    blocks = [f"{mark(heading)}📰 <b>{_e(heading)}</b>"]
    for topic in news.topics:
        stories = [_story(Citation.from_json(s), lang) for s in topic.stories]
        if not stories:
            continue
        blocks.append(f"{mark(topic.topic.text)}🔔 <b>{_e(topic.topic.text)}</b>\n{stories[0]}")
        blocks.extend(stories[1:])
    return blocks


def _story(c: Citation, lang: str) -> str:
    return f"{mark(c.snippet)}• {_e(c.snippet)}\n" + article_header(c) + _also((c,), lang)


def timeline_blocks(timeline: Timeline, lang: str) -> list[str]:
    """A story's timeline, oldest first: "date — outlet: sentence [title]" per article, the
    dates its relative words mean ("yesterday" = 2024-06-18), and the other outlets of a wire
    copy. Each entry starts with its sentence's direction mark and keeps the date in a
    left-to-right run, so an Arabic or Persian entry reads right to left with its date
    intact."""
    heading = say("timeline_heading", lang, topic=timeline.topic)
    blocks = [f"{mark(heading)}🕰 <b>{_e(heading)}</b>"]
    if not timeline.entries:
        empty = say("timeline_empty", lang, topic=timeline.topic)
        blocks.append(f"{mark(empty)}{_e(empty)}")
    for entry in timeline.entries:
        c = Citation.from_json(entry.citation)
        m = mark(c.snippet)
        line = (f"{m}{LRM}<b>{_e(entry.date)}</b>{m} — {_e(c.outlet or c.title or c.doc)}: "
                f"{_e(c.snippet)} [{_e(c.title or c.doc)}]{m}")
        resolved = "; ".join(f"«{d['text']}» = {LRM}{d['date']}{m}" for d in entry.dates)
        if resolved:
            line += f"\n{m}<i>{_e(resolved)}</i>"
        blocks.append(line + _also((c,), lang))
    if timeline.undated:
        left = say("timeline_undated", lang, n=timeline.undated)
        blocks.append(f"{mark(left)}<i>{_e(left)}</i>")
    return blocks


def _page(c: Citation) -> str:
    return f" {LRM}p. {c.page}" if c.page else ""


def passage_html(title: str | None, doc: str, outlet: str | None, date: str | None,
                 url: str | None, passage: str) -> str:
    meta = byline(outlet, date)
    head = mark(title or doc) + f"<b>{_e(title or doc)}</b>"
    if meta:
        head += f"\n{mark(meta)}{_e(meta)}"
    if url:
        head += f"\n{LRM}{_e(url)}"
    head += f"\n{LRM}<code>{_e(doc)}</code>"
    return head + f"\n\n{mark(passage)}{_e(passage)}"


def added_blocks(report: AddReport, lang: str) -> list[str]:
    """What became of each item sent to the bot: added (title, outlet, date, passages, file),
    already indexed, or not added with the reason."""
    blocks = []
    for a in report.added:
        title = a.title or a.path
        meta = byline(a.outlet, a.date, say("passages", lang, n=a.passages))
        blocks.append(f"{mark(title)}✅ {say('added', lang)}: <b>{_e(title)}</b>\n"
                      f"{mark(meta)}{_e(meta)}\n{LRM}<code>{_e(a.path)}</code>")
    for u in report.unchanged:
        blocks.append(f"☑️ {say('unchanged', lang)}: {LRM}<code>{_e(u.path)}</code>")
    for f in report.failed:
        blocks.append(f"❌ {say('not_added', lang)}: {LRM}<code>{_e(f.item)}</code>\n"
                      f"{LRM}{_e(f.reason)}")
    return blocks


def feeds_blocks(results: list[FeedResult], now: float | None = None) -> list[str]:
    """Each followed feed: its last poll's outcome and age, new items, and error."""
    now = time.time() if now is None else now
    blocks = []
    for r in results:
        when = ("never" if r.last_poll is None
                else f"{max(0, now - r.last_poll) / 60:.0f} min ago")
        line = (f"{LRM}<b>{_e(r.feed)}</b>\n{LRM}{_e(r.status)} · last poll {when} · "
                f"{r.new_items} new")
        if r.error:
            line += f"\n{LRM}⚠️ {_e(r.error)}"
        blocks.append(line)
    return blocks


def pack(blocks: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join blocks into messages of at most ``limit`` characters, each valid HTML on its own."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in _fit(block, limit):
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined) <= limit:
                current = joined
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


_TAG = re.compile(r"<(/?)([a-z]+)[^>]*>")


def _fit(block: str, limit: int) -> list[str]:
    """Split one over-long block at sentence or word boundaries, re-opening open tags."""
    if len(block) <= limit:
        return [block]
    pieces: list[str] = []
    rest = block
    budget = limit - 64  # room for the tags re-opened and closed around each piece
    while len(rest) > limit:
        cut = _boundary(rest, budget)
        head, rest = rest[:cut], rest[cut:].lstrip()
        open_tags = _open_tags(head)
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        pieces.append(head + closing)
        rest = "".join(tag for _, tag in open_tags) + rest
    pieces.append(rest)
    return pieces


def _boundary(s: str, budget: int) -> int:
    """A cut point <= budget after a sentence end, else a space, never inside a tag or entity."""
    window = s[:budget]
    for pattern in (r"[.!?؟…]\s", r"\s"):
        found = [m.end() for m in re.finditer(pattern, window)]
        found = [i for i in found if _safe(s, i)]
        if found and found[-1] > budget // 2:
            return found[-1]
    i = budget
    while i > 0 and not _safe(s, i):
        i -= 1
    return i or budget


def _safe(s: str, i: int) -> bool:
    last_lt, last_gt = s.rfind("<", 0, i), s.rfind(">", 0, i)
    last_amp, last_semi = s.rfind("&", 0, i), s.rfind(";", 0, i)
    return last_lt <= last_gt and (last_amp <= last_semi or i - last_amp > 10)


def _open_tags(s: str) -> list[tuple[str, str]]:
    stack: list[tuple[str, str]] = []
    for m in _TAG.finditer(s):
        if m.group(1):
            if stack and stack[-1][0] == m.group(2):
                stack.pop()
        else:
            stack.append((m.group(2), m.group(0)))
    return stack
