"""A sliding-window rate limit per key, shared by the front ends (Telegram users, API keys)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Hashable


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
