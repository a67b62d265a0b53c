"""What the gateway records per request: rate-limit verdicts and their headers, and the
performance monitor's samples as the monitoring API shows them."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from gateway.observability.performance import PerformanceMonitor
from gateway.ratelimit import RateLimiter, Verdict

RESET_AT = 1_795_580_461.75  # 2026-11-25T04:21:01.75Z


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (
            Verdict(True, 20, 19, RESET_AT),
            {
                "X-RateLimit-Limit": "20",
                "X-RateLimit-Remaining": "19",
                "X-RateLimit-Reset": "2026-11-25T04:21:01Z",
            },
        ),
        (
            Verdict(True, 100, 0, 1_795_564_800.0),  # midnight exactly
            {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "2026-11-25T00:00:00Z",
            },
        ),
    ],
)
def test_headers_when_allowed_then_limit_remaining_and_reset_in_utc_seconds(
    verdict: Verdict, expected: dict[str, str]
) -> None:
    assert verdict.headers() == expected


def test_headers_when_refused_then_retry_after_in_whole_seconds_at_least_one() -> None:
    now = time.time()
    assert Verdict(False, 20, 0, now + 41.2).headers()["Retry-After"] == "42"
    assert Verdict(False, 20, 0, now + 0.01).headers()["Retry-After"] == "1"


def test_limiter_when_limit_reached_then_refused_until_window_ends() -> None:
    limiter = RateLimiter()
    verdicts = [limiter.hit("orders", "user-1", 3, 60) for _ in range(4)]
    assert [(v.allowed, v.remaining) for v in verdicts] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    assert len({v.reset_at for v in verdicts}) == 1  # one window, from the first hit
    assert limiter.hit("orders", "user-2", 3, 60).remaining == 2  # per key
    assert limiter.hit("general", "user-1", 3, 60).remaining == 2  # per limit
    assert limiter.hit("orders", "user-1", 3, 0).allowed  # a window that has ended restarts


def test_monitor_when_requests_recorded_then_slow_and_failed_show_them_newest_first() -> None:
    monitor = PerformanceMonitor()
    before = time.time()
    monitor.record("POST /api/trading/orders", 12.34567, 200)
    monitor.record("GET /api/trading/funds", 3.0, 503)
    monitor.record("DELETE /api/trading/orders", 40.0004, 500)
    monitor.record("GET /api/health", 0.5, 200)

    slow = monitor.slow(3.0)
    assert [(s["operation"], s["durationMs"], s["status"]) for s in slow] == [
        ("DELETE /api/trading/orders", 40.0, 500),
        ("POST /api/trading/orders", 12.346, 200),
        ("GET /api/trading/funds", 3.0, 503),
    ]
    # times are ISO 8601 UTC to the millisecond (docs/API.md conventions)
    stamps = [datetime.strptime(s["at"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() for s in slow]
    assert all(before - 0.001 <= stamp <= time.time() + 0.001 for stamp in stamps)  # ms rounding
    assert set(slow[0]) == {"operation", "durationMs", "status", "at"}
    failed = monitor.failed(10)
    assert [(f["operation"], f["status"]) for f in failed] == [
        ("DELETE /api/trading/orders", 500),
        ("GET /api/trading/funds", 503),
    ]
    assert [f["operation"] for f in monitor.failed(1)] == ["DELETE /api/trading/orders"]
    funds = monitor.operation("GET /api/trading/funds")
    assert funds is not None and (funds["count"], funds["successRate"]) == (1, 0.0)
    monitor.clear()
    assert (monitor.slow(0), monitor.failed(10), monitor.summary()) == ([], [], [])
