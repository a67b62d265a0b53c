"""Fixed-window rate limits per (limit name, key) with the docs/API.md response headers.

A :class:`Limit` either counts hits or, given a ``member``, counts distinct members (the emails
one address tries to sign in as). :meth:`RateLimiter.hit_all` checks several limits at once and
counts a hit against all of them only when every one allows it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``limit`` hits (or distinct ``member``s) per ``key`` in ``window_s``."""

    name: str
    key: str
    limit: int
    window_s: float
    member: str | None = None


@dataclass(slots=True)
class _Window:
    started: float
    window_s: float
    count: int = 0
    members: set[str] = field(default_factory=set)


def tightest(verdicts: list[Verdict]) -> Verdict:
    """The verdict a client should see: a refusal, else the one with the fewest hits left."""
    return min(verdicts, key=lambda v: (v.allowed, v.remaining, -v.reset_at))


class RateLimiter:
    """Counts hits per key in windows that start at a key's first hit."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # epoch seconds
        self._windows: dict[tuple[str, str], _Window] = {}
        self._hits = 0

    def hit(self, name: str, key: str, limit: int, window_s: float) -> Verdict:
        return self.hit_all([Limit(name, key, limit, window_s)])

    def hit_all(self, limits: list[Limit]) -> Verdict:
        """Count one hit against every limit if all allow it; return the :func:`tightest`."""
        now = self._clock()
        self._hits += 1
        if self._hits % PRUNE_EVERY == 0:
            self._prune(now)
        pairs = [(limit, self._current(limit, now)) for limit in limits]
        for limit, window in pairs:
            repeat = limit.member is not None and limit.member in window.members
            if window.count >= limit.limit and not repeat:
                return Verdict(False, limit.limit, 0, window.started + window.window_s)
        # Point of no return: every limit allows this hit.
        for limit, window in pairs:
            if limit.member is None:
                window.count += 1
            else:
                window.members.add(limit.member)
                window.count = len(window.members)
            self._windows[(limit.name, limit.key)] = window
        return tightest(
            [
                Verdict(
                    True, limit.limit, limit.limit - window.count, window.started + window.window_s
                )
                for limit, window in pairs
            ]
        )

    def _current(self, limit: Limit, now: float) -> _Window:
        window = self._windows.get((limit.name, limit.key))
        # The window the caller names now decides (a limit reconfigured shorter ends sooner).
        if window is None or now - window.started >= limit.window_s:
            return _Window(now, limit.window_s)
        return window

    def _prune(self, now: float) -> None:
        expired = [k for k, w in self._windows.items() if now - w.started >= w.window_s]
        for key in expired:
            del self._windows[key]
