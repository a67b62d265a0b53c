"""The fixed-window rate limiter, on a clock the test moves.

Proves: several limits are counted together or not at all; a distinct-member limit counts each
member once and refuses only new ones; the tightest verdict is the one reported; and windows
longer than 15 minutes (registrations per hour) survive pruning until they end.
"""

from __future__ import annotations

from gateway.ratelimit import PRUNE_EVERY, Limit, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def __call__(self) -> float:
        return self.now_s


def test_hit_all_when_one_limit_full_then_refused_and_none_counted() -> None:
    limiter = RateLimiter(Clock())
    wide, narrow = Limit("a", "k", 10, 60), Limit("b", "k", 1, 60)
    assert limiter.hit_all([wide, narrow]).allowed
    refused = limiter.hit_all([wide, narrow])
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 1, 0)
    # The refused hit did not use up the wide limit: 9 of 10 remain.
    assert limiter.hit_all([wide]).remaining == 8


def test_hit_all_when_both_allow_then_tightest_reported() -> None:
    limiter = RateLimiter(Clock())
    verdict = limiter.hit_all([Limit("a", "k", 10, 60), Limit("b", "k", 3, 60)])
    assert (verdict.limit, verdict.remaining) == (3, 2)


def test_hit_all_when_distinct_members_reach_limit_then_only_new_members_refused() -> None:
    limiter = RateLimiter(Clock())

    def try_email(email: str) -> bool:
        return limiter.hit_all([Limit("emails", "10.0.0.1", 2, 900, member=email)]).allowed

    assert try_email("a@x.io")
    assert try_email("a@x.io")  # the same email again is not a new one
    assert try_email("b@x.io")
    assert not try_email("c@x.io")
    assert try_email("a@x.io")
    assert limiter.hit_all([Limit("emails", "10.0.0.2", 2, 900, member="c@x.io")]).allowed


def test_hit_when_hour_window_outlives_prune_then_still_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert limiter.hit("register", "10.0.0.1", 1, 3600).allowed
    clock.now_s += 1800  # past the old 15-minute prune horizon, inside the hour
    for i in range(PRUNE_EVERY):
        limiter.hit("general", str(i), 1, 60)
    assert not limiter.hit("register", "10.0.0.1", 1, 3600).allowed
    clock.now_s += 1800
    assert limiter.hit("register", "10.0.0.1", 1, 3600).allowed
