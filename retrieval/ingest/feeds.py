"""RSS and Atom feeds: which feeds to follow (``KHABAR_FEEDS``) and what a fetched feed lists.

feedparser is handed the bytes our fetcher brought, never a URL: given a URL it would fetch
by itself, past every check in ``khabar.retrieval.ingest.fetch``. A feed that is not quite
well-formed ("bozo") is still read for what it holds; one that yields nothing is an error.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from khabar.retrieval.errors import KhabarError, SettingsError
from khabar.retrieval.ingest.fetch import Fetched


class FeedError(KhabarError):
    """A fetched feed could not be read as RSS or Atom."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed: its stable id (the entry's guid, else its link) and its page."""

    id: str
    link: str
    title: str | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    items: list[FeedItem]
    # Said of a feed read despite a flaw (not well-formed, a wrong declared encoding).
    warning: str | None = None


def feed_urls(value: str) -> list[str]:
    """The feeds ``KHABAR_FEEDS`` names: comma-separated URLs, or the path of a file listing
    them one per line (blank lines and ``#`` comments ignored)."""
    value = value.strip()
    if not value:
        return []
    if "://" in value:
        urls = [part.strip() for part in value.split(",")]
    else:
        path = Path(value).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(
                f"KHABAR_FEEDS names the file {path}, which cannot be read "
                f"({getattr(exc, 'strerror', None) or type(exc).__name__}); give feed URLs "
                "separated by commas, or a file with one URL per line") from None
        urls = [line.strip() for line in lines if not line.strip().startswith("#")]
    out = [url for url in dict.fromkeys(urls) if url]
    for url in out:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"KHABAR_FEEDS: {url!r} is not an http:// or https:// URL")
    return out


def parse_feed(fetched: Fetched) -> ParsedFeed:
    """The entries of a fetched feed, links made absolute; raises ``FeedError`` when nothing
    in it can be read."""
    import feedparser

    content_type = fetched.content_type + (f"; charset={fetched.charset}"
                                           if fetched.charset else "")
    parsed = feedparser.parse(io.BytesIO(fetched.data), response_headers={
        "content-type": content_type, "content-location": fetched.final_url})
    problem = _short(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not parsed.entries:
        if problem:
            raise FeedError(f"malformed feed: {problem}")
        if not parsed.get("version"):
            raise FeedError("not an RSS or Atom feed")
    items: list[FeedItem] = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        link = urljoin(fetched.final_url, link.strip())
        items.append(FeedItem(str(entry.get("id") or link), link, entry.get("title")))
    warning = f"feed not well-formed ({problem}); read what it holds" if problem else None
    return ParsedFeed(parsed.feed.get("title"), items, warning)


def _short(exc: object) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:119] + "…"
