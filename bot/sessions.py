"""Who may ask, how often, and what they asked before: the rules every chat front end shares.

Nothing here knows a chat app. Callers pass plain user ids, usernames and conversation keys
(a Telegram chat id, a terminal's one conversation, an API key's number), so the allowlist, the
admin rule, the rate limit and the conversation memory behave the same wherever a user asks.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


class RateLimiter:
    """At most ``per_minute`` counted events per key in any 60 seconds; 0 means no limit.

    Not thread-safe: each front end calls it from its one event loop.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._recent: dict[Hashable, deque[float]] = defaultdict(deque)

    def retry_after(self, key: Hashable, now: float | None = None) -> int:
        """Seconds until ``key`` may go again (0: now, and this event is counted)."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic() if now is None else now
        window = self._recent[key]
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= self.per_minute:
            return max(1, int(60 - (now - window[0])) + 1)
        window.append(now)
        return 0


@dataclass
class Access:
    """Who may ask, who may administer, and how often.

    ``allowed`` and ``admins`` hold numeric user ids as text and lower-case usernames without
    ``@`` (``parse`` makes them so); an empty ``allowed`` lets everyone ask.
    """

    allowed: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    per_minute: int = 0
    _refused: set[int] = field(default_factory=set)
    _limiter: RateLimiter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._limiter = RateLimiter(self.per_minute)

    @staticmethod
    def parse(value: str) -> frozenset[str]:
        return frozenset(p.strip().lstrip("@").lower() for p in value.split(",") if p.strip())

    def allows(self, user_id: int, username: str | None = None) -> bool:
        keys = {str(user_id)} | ({username.lower()} if username else set())
        return not self.allowed or bool(keys & (self.allowed | self.admins))

    def is_admin(self, user_id: int) -> bool:
        """By numeric id only: a username can be changed, then taken by someone else."""
        return str(user_id) in self.admins

    def first_refusal(self, user_id: int) -> bool:
        """True once per user: a stranger is told their id once, then ignored."""
        if user_id in self._refused:
            return False
        self._refused.add(user_id)
        return True

    def retry_after(self, user_id: int, now: float | None = None) -> int:
        """Seconds until this user may ask again (0: now, and the question is counted)."""
        return self._limiter.retry_after(user_id, now)


ConversationKey = tuple[Hashable, ...]


@dataclass
class Conversations:
    """Earlier questions per conversation, forgotten after ``ttl`` seconds of silence.

    What makes a conversation is the front end's choice (its key). A reply, any hashable id of
    a message that held an answer, can be mapped back to the conversation it belonged to
    (``thread``), so replying to an answer continues it, whoever replies.
    """

    ttl: float = 1800.0
    max_threads: int = 10_000
    _turns: dict[ConversationKey, tuple[float, list[str]]] = field(default_factory=dict)
    _threads: OrderedDict[Hashable, ConversationKey] = field(default_factory=OrderedDict)

    def history(self, key: ConversationKey, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        seen, turns = self._turns.get(key, (0.0, []))
        return list(turns) if now - seen < self.ttl else []

    def add(self, key: ConversationKey, question: str, replies: Iterable[Hashable] = (),
            now: float | None = None) -> None:
        """Remember ``question`` in ``key``'s conversation, and the replies that answered it."""
        now = time.monotonic() if now is None else now
        self._turns[key] = (now, [*self.history(key, now), question][-12:])
        for reply in replies:
            self._threads[reply] = key
        while len(self._threads) > self.max_threads:
            self._threads.popitem(last=False)
        if len(self._turns) > self.max_threads:  # drop the silent ones
            self._turns = {k: v for k, v in self._turns.items() if now - v[0] < self.ttl}

    def thread(self, reply: Hashable) -> ConversationKey | None:
        """The conversation ``reply`` answered in, if it is still remembered."""
        return self._threads.get(reply)

    def reset(self, key: ConversationKey) -> None:
        self._turns.pop(key, None)

    def forget(self, head: Hashable) -> None:
        """Forget every conversation whose key begins with ``head``, and the replies that led to
        them: a chat that is gone (it blocked the bot) with its private conversation and each
        of its users'."""
        self._turns = {k: v for k, v in self._turns.items() if not k or k[0] != head}
        for reply in [r for r, k in self._threads.items() if k and k[0] == head]:
            del self._threads[reply]
