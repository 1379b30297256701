"""The daily digest: once a day at a chat's chosen local time, what its topics matched since
the last digest, grouped by story (wire copies are one story naming the other outlets),
newest first. A day with nothing new sends nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from khabar.retrieval.follow.store import (
    Digest,
    FollowError,
    FollowStore,
    Match,
    Topic,
    name_copy,
)

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class TopicNews:
    """One topic's new stories, newest first: each the ``Citation`` JSON of its first
    article, with later copies in ``also_in``."""

    topic: Topic
    stories: tuple[dict, ...]


@dataclass(frozen=True, slots=True)
class DigestText:
    """A digest ready to send: the chat's topics with news, and the last match it covers."""

    chat: str
    day: str
    lang: str
    topics: tuple[TopicNews, ...]
    last_match: int


def check_time(at: str, tz: str) -> tuple[str, str]:
    """``HH:MM`` and an IANA zone name, checked; ``FollowError`` says what is wrong."""
    m = _TIME.match(at.strip())
    if m is None:
        raise FollowError("time", f"{at!r} is not a time of day; write it as HH:MM, e.g. 08:30",
                          value=at)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise FollowError("zone", f"{tz!r} is not a time zone; use a name such as "
                          "Asia/Tehran, Asia/Riyadh or UTC", value=tz) from None
    return f"{int(m[1]):02d}:{m[2]}", tz


def due(digest: Digest, now: datetime) -> str | None:
    """The chat's local day when its digest is due at ``now`` (aware), else None: the local
    time has reached ``at`` and no digest went out that day."""
    local = now.astimezone(ZoneInfo(digest.tz))
    day = local.date().isoformat()
    if digest.last_day == day or local.strftime("%H:%M") < digest.at:
        return None
    return day


def collect(store: FollowStore, digest: Digest, day: str) -> DigestText | None:
    """What a due digest says, or None when nothing matched since the last one."""
    matches = store.matches_since(digest.chat, digest.last_match)
    if not matches:
        return None
    topics = {t.id: t for t in store.topics(digest.chat)}
    news = []
    for topic_id in sorted({m.topic_id for m in matches}):
        if topic_id not in topics:
            continue
        of_topic = [m for m in matches if m.topic_id == topic_id]
        news.append(TopicNews(topics[topic_id], _stories(of_topic)))
    return DigestText(digest.chat, day, digest.lang, tuple(news),
                      max(m.id for m in matches))


def _stories(matches: list[Match]) -> tuple[dict, ...]:
    """One entry per story, its first article cited with the others as ``also_in``."""
    stories: dict[int, dict] = {}
    newest: dict[int, str] = {}
    for m in matches:
        first = stories.get(m.story)
        if first is None:
            first = dict(m.citation)
            first["also_in"] = list(first.get("also_in", []))
            stories[m.story] = first
        else:
            name_copy(first, m.citation)
        newest[m.story] = max(newest.get(m.story, ""), m.date or "")
    order = sorted(stories, key=lambda s: (newest[s], s), reverse=True)
    return tuple(stories[s] for s in order)
