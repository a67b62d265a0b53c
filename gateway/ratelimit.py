"""Fixed-window rate limits per (limit name, key) with the API.md response headers."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

PRUNE_EVERY = 4096


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window ends

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            # ISO 8601 in UTC to the second (every request carries it: no datetime objects)
            "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.reset_at)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.reset_at - time.time())))
        return headers


class RateLimiter:
    """Counts hits per key in windows that start at a key's first hit."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._hits = 0

    def hit(self, name: str, key: str, limit: int, window_s: float) -> Verdict:
        now = time.time()
        self._hits += 1
        if self._hits % PRUNE_EVERY == 0:
            self._prune(now)
        started, count = self._windows.get((name, key), (now, 0))
        if now - started >= window_s:
            started, count = now, 0
        reset_at = started + window_s
        if count >= limit:
            return Verdict(False, limit, 0, reset_at)
        count += 1
        self._windows[(name, key)] = (started, count)
        return Verdict(True, limit, limit - count, reset_at)

    def _prune(self, now: float) -> None:
        # Windows are at most 15 minutes long; anything older is finished.
        expired = [k for k, (started, _) in self._windows.items() if now - started > 900]
        for key in expired:
            del self._windows[key]
