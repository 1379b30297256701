"""Article files -> ``Document``: metadata, and the spans of real article text.

Scraped news pages carry navigation, "read also" headline lists, tag clouds and comment forms
around the article. They are dropped here, line by line, so that neither retrieval nor answers
ever quote them. What is kept is recorded as spans into the original text, never copied and
cleaned, so every quote can be located in the file it came from.

The rules are deliberately conservative: a line is dropped only when it is recognisably chrome
(a marker phrase, a metadata line) or sits inside a headline list. A full article appended after
"إقرأ أيضاً:" is kept, because readers ask about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from khabar.retrieval.dates import date_from_url, parse_date
from khabar.retrieval.normalize import detect_lang
from khabar.retrieval.types import Document, Span

# Lines that introduce a list of other headlines.
_LIST_MARKERS = re.compile(
    r"^(?:[إا]قرأ\s+[أا]يض(?:اً|ًا|ا)|شاهد\s+[أا]يض(?:اً|ًا|ا)"
    r"|مقالات\s+(?:مشابهة|ذات\s+صلة)|أخبار\s+ذات\s+صلة|اخبار\s+ذات\s+صلة|مواضيع\s+ذات\s+صلة"
    r"|اقرأ\s+المزيد|بیشتر\s+بخوانید|بخوانید|مطالب\s+مرتبط|اخبار\s+مرتبط"
    r"|read\s+(?:also|more)|related(?:\s+(?:articles|stories|news))?|see\s+also)"
    r"\s*[:：]?\s*",
    re.IGNORECASE,
)
# Lines after which nothing is article text any more (comment forms, footers).
_STOP = re.compile(
    r"^(?:اترك\s+تعليق|أضف\s+تعليق|التعليقات|الكلمات\s+الأكثر\s+بحث|نظر\s*\(\s*\d+\s*\)"
    r"|ارسال\s+نظر|نظرات|leave\s+a\s+(?:reply|comment)|comments?\s*\(\d+\))",
    re.IGNORECASE,
)
# Single lines of page chrome.
_CHROME = re.compile(
    r"^(?:اتصل\s+بنا|من\s+نحن|الرئيسية|تماس\s+با\s+ما|درباره\s+ما|صفحه\s+اصلی|contact\s+us|home"
    r"|لن\s+يتم\s+نشر\s+عنوان\s+بريدك.*|share|print|طباعة|مشاركة)\s*$",
    re.IGNORECASE,
)
# Metadata lines of scraper exports and front matter ("Title: ...", "المصدر: ...", "تاریخ:
# ...", YAML "date: ..."): read as metadata wherever they stand, never kept as article text.
_FIELD_LABELS = {
    "title": ("title", "headline", "العنوان", "عنوان", "تيتر", "تیتر"),
    "date": ("date", "published", "pubdate", "تاريخ النشر", "التاريخ", "تاريخ", "تاریخ",
             "تاریخ انتشار"),
    "outlet": ("source", "outlet", "publisher", "site", "المصدر", "مصدر", "منبع"),
    "url": ("url", "link", "canonical_url", "الرابط", "رابط", "لینک", "نشانی", "پیوند"),
    "author": ("author", "by", "الكاتب", "كاتب", "نویسنده"),
}
_FIELD_NAME = {label: field for field, labels in _FIELD_LABELS.items() for label in labels}
_FIELD = re.compile(
    r"^(?P<label>" + "|".join(sorted(map(re.escape, _FIELD_NAME), key=len, reverse=True))
    + r")\s*[:：]\s*(?P<value>\S.{0,300})$", re.IGNORECASE)
# Labels of a tag line, with a colon or (below) without one.
_TAG_LABELS = r"وسوم|برچسب(?:\u200c?ها)?|tags"
_TAGS = re.compile(
    r"^(?:كلمات\s+دلالية|الكلمات\s+المفتاحية|کلیدواژه(?:\u200c?ها)?|" + _TAG_LABELS + r")\s*[:：]",
    re.IGNORECASE,
)
# Tags written without a colon ("سمات الطوارئ تفجير عسير"): only a short, unfinished line after
# the article body counts, since "سمات" also opens real sentences.
_BARE_TAGS = re.compile(r"^(?:سمات|الوسوم|" + _TAG_LABELS + r")\s+\S", re.IGNORECASE)
_BARE_TAG_WORDS = 15
# An agency's end-of-story marker ("// انتهى //", "-انتهى-", "پایان پیام", "-END-") and the
# filing time printed under it ("15:52 ت م", "10:05 GMT"): footers, never article text.
_END_MARKER = re.compile(
    r"^[\s/\\\-–—_(\[«*.]*(?:[إا]نتهى|[إا]نتهي|پایان(?:\s+پیام)?|end)[\s/\\\-–—_)\]»*.]*$",
    re.IGNORECASE)
_FILING_TIME = re.compile(
    r"^\d{1,2}[:：]\d{2}(?:\s*(?:ت\s*[مغ]|[صم]|ب\.?ظ|ق\.?ظ|am|pm|gmt|utc|ksa))*$", re.IGNORECASE)
# "رابط الخبر بصحيفة الوئام: <headline>", "لینک کوتاه: <url>", "Short link: ...": a pointer
# to the story itself; its URL, if any, is metadata.
_SELF_LINK = re.compile(
    r"^(?:رابط\s+(?:الخبر|المقال|مختصر|المختصر|دائم)|الرابط\s+المختصر|لینک\s+(?:کوتاه|خبر|مطلب)"
    r"|short\s*link|permalink)[^:：]{0,40}[:：]", re.IGNORECASE)
# The same two, run on after the article's last sentence on its line.
_TRAILER = re.compile(r"(?<=[.!?؟»\"”)])\s+(?=\S)")
# "Next Previous" left in front of a line by a page's pager.
_PAGER = re.compile(
    r"^(?:next\s+previous|previous\s+next|التالي\s+السابق|السابق\s+التالي|بعدی\s+قبلی"
    r"|قبلی\s+بعدی)\s+", re.IGNORECASE)
_PUBLISHED = re.compile(
    r"(?:نشر\s+في|تاريخ\s+النشر|تاريخ\s+النشر|تاریخ\s+انتشار|منتشر\s+شده|published|posted\s+on)",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://\S+")
# "موسكو-سانا", "نيسان ـ": a place or agency name before a dash, alone on a line.
_DATELINE = re.compile(
    r"^(?P<place>[^\W\d][\w\s،,]{1,30}?)\s*[-–—ـ]\s*(?P<agency>[^\W\d][\w\s]{1,30})$"
)
_LEAD_OUTLET = re.compile(r"^\((?P<outlet>[^()]{2,40})\)\s*[-–—ـ]")
_BULLET = re.compile(r"^[•·▪●◦\-*]\s")
_TEASER_END = ("…", "...")
_WORD = re.compile(r"\w+")

_HEADER_LINES = 4
_PARAGRAPH_WORDS = 6
_LONG_WORDS = 30
_TITLE_MAX_CHARS = 160


@dataclass
class Metadata:
    """Article metadata; formats that carry it (HTML, JSON, front matter) pass it to ``parse``."""

    title: str | None = None
    date: str | None = None
    outlet: str | None = None
    url: str | None = None
    dateline_outlet: str | None = None


@dataclass
class _Blocks:
    """Kept spans, plus the headline-list state machine that decides what to keep."""

    kept: list[Span] = field(default_factory=list)
    in_list: bool = False
    pending: list[tuple[Span, bool]] = field(default_factory=list)

    def paragraph(self, span: Span) -> None:
        # Up to two short lines right before a paragraph are that article's headline and
        # dateline; more than that, or any bullet/teaser, is a headline list.
        if self.in_list and self.pending and len(self.pending) <= 2 and not any(
            listy for _, listy in self.pending
        ):
            self.kept.extend(s for s, _ in self.pending)
        self.pending.clear()
        self.in_list = False
        self.kept.append(span)

    def short(self, span: Span, listy: bool) -> None:
        if self.in_list:
            self.pending.append((span, listy))
        else:
            self.kept.append(span)

    def start_list(self) -> None:
        if not self.in_list:
            self.pending.clear()
        self.in_list = True

    def interrupt(self) -> None:
        """A metadata line breaks a headline run: what was pending was a list."""
        self.pending.clear()


def _line_spans(text: str) -> list[Span]:
    spans, pos = [], 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip(" \t\r\ufeff\u200f\u200e\u00a0")
        if stripped:
            lead = line.index(stripped[0])
            spans.append(Span(start + lead, start + lead + len(stripped)))
    return spans


def _is_paragraph(line: str) -> bool:
    """Article prose: a sentence-final ending, or too long to be a headline.

    Headlines are often a dozen words long but almost never end with a full stop, which is what
    tells a "read also" list apart from the appended article it sometimes introduces.
    """
    if line.endswith(_TEASER_END):
        return False
    words = len(_WORD.findall(line))
    return words >= _LONG_WORDS or (_is_ended(line) and words >= _PARAGRAPH_WORDS)


def _is_tag_line(line: str) -> bool:
    return (bool(_BARE_TAGS.match(line)) and not _is_ended(line)
            and len(_WORD.findall(line)) <= _BARE_TAG_WORDS)


def _trailer(line: str) -> int | None:
    """Where a self-link or tag line run on after a line's last sentence begins, if one does."""
    for gap in _TRAILER.finditer(line):
        rest = line[gap.end():]
        if _SELF_LINK.match(rest) or _is_tag_line(rest):
            return gap.start()
    return None


def _is_ended(line: str) -> bool:
    return line.rstrip("\"'”»)").endswith((".", "!", "?", "؟"))


def _field(name: str, value: str, meta: Metadata) -> None:
    """Take a metadata line's value; what the format itself gave (``known``) wins."""
    if name == "outlet":
        _source(value, meta)
    elif name == "title":
        meta.title = meta.title or value
    elif name == "date":
        meta.date = meta.date or parse_date(value)
    elif name == "url":
        meta.url = meta.url or value


def _source(value: str, meta: Metadata) -> None:
    url = _URL.search(value)
    if url:
        meta.url = meta.url or url.group(0)
        value = _URL.sub("", value).strip(" -–—|،,")
    if value and meta.outlet is None:
        meta.outlet = value


def parse(path: str, text: str, known: Metadata | None = None) -> Document:
    """Split ``text`` into metadata and kept body spans; never raises on odd input.

    Metadata in ``known`` wins over what the text suggests; with a known title the first short
    line is kept as text instead of being taken for the headline.
    """
    meta = replace(known) if known else Metadata()
    blocks = _Blocks()
    lines = _line_spans(text)
    seen_paragraph = False
    # Lines of text read so far: metadata lines ("Title: ...") do not push the headline and
    # dateline that follow them out of the header.
    read = 0
    for span in lines:
        line = text[span.start:span.end]
        header = read < _HEADER_LINES and not seen_paragraph
        if _STOP.match(line):
            break
        if (_CHROME.match(line) or not _WORD.search(line) or len(line) < 3
                or _END_MARKER.match(line) or _FILING_TIME.match(line)):
            continue
        pager = _PAGER.match(line)
        if pager:
            span = Span(span.start + pager.end(), span.end)
            line = line[pager.end():]
        if _SELF_LINK.match(line):
            url = _URL.search(line)
            meta.url = meta.url or (url.group(0) if url else None)
            blocks.interrupt()
            continue
        if seen_paragraph and _is_tag_line(line):
            blocks.interrupt()
            continue
        trailer = _trailer(line)
        if trailer is not None:
            span = Span(span.start, span.start + trailer)
            line = line[:trailer]
        marker = _LIST_MARKERS.match(line)
        if marker:
            blocks.start_list()
            rest = line[marker.end():]
            if not rest.strip():
                continue
            span = Span(span.start + marker.end(), span.end)
            line = rest
        field = _FIELD.match(line)
        if field:
            _field(_FIELD_NAME[field["label"].lower()], field["value"].strip(" \"'"), meta)
            blocks.interrupt()
            continue
        if _TAGS.match(line):
            blocks.interrupt()
            continue
        if _PUBLISHED.search(line) and len(line) <= 120:
            meta.date = meta.date or parse_date(line)
            agency = re.split(r"\s*[-–—ـ]\s*", line, maxsplit=1)[0]
            if agency and agency != line and len(agency) <= 30 and not _PUBLISHED.search(agency):
                meta.dateline_outlet = meta.dateline_outlet or agency
            blocks.interrupt()
            continue
        read += 1
        if header and len(line) <= 60:
            dateline = _DATELINE.match(line)
            if dateline:
                meta.dateline_outlet = meta.dateline_outlet or dateline["agency"].strip()
                continue
            found = parse_date(line)
            if found and len(_WORD.findall(line)) <= 8:
                meta.date = meta.date or found
                continue
        if header and meta.title is None and len(line) <= _TITLE_MAX_CHARS and not line.endswith(
            (".", "!", "?", "؟", ":", "…")
        ):
            meta.title = line
            blocks.short(span, listy=False)
            continue
        if _is_paragraph(line) and not _BULLET.match(line):
            if not seen_paragraph:
                lead = _LEAD_OUTLET.match(line)
                if lead:
                    meta.dateline_outlet = meta.dateline_outlet or lead["outlet"].strip()
            seen_paragraph = True
            blocks.paragraph(span)
            continue
        listy = bool(_BULLET.match(line)) or line.endswith(_TEASER_END)
        blocks.short(span, listy)

    kept = tuple(blocks.kept)
    body = " ".join(text[s.start:s.end] for s in kept)
    return Document(
        path=path,
        text=text,
        title=meta.title or _fallback_title(text, kept),
        date=meta.date or date_from_url(meta.url),
        outlet=meta.outlet or meta.dateline_outlet,
        url=meta.url,
        lang=detect_lang(body or text),
        blocks=kept,
    )


def _fallback_title(text: str, blocks: tuple[Span, ...]) -> str | None:
    """The lead's first sentence, for articles saved without a headline line."""
    if not blocks:
        return None
    lead = text[blocks[0].start:blocks[0].end]
    lead = _LEAD_OUTLET.sub("", lead).strip()
    first = re.split(r"(?<=[.!?؟])\s", lead, maxsplit=1)[0]
    return first if len(first) <= 120 else first[:117].rstrip() + "…"
