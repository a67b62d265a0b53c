"""The in-process performance monitor behind ``/api/monitoring/performance``.

Every request is recorded per operation (method and route): counts, failures, and the last
``SAMPLES_MAX`` durations for percentiles; the slowest and the failed are kept in bounded lists.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.views import iso_ms

SAMPLES_MAX = 2048
EVENTS_MAX = 500


# A request as recorded: (operation, duration in ms, HTTP status, epoch seconds). Kept as a
# tuple on every request; turned into its JSON shape only when someone asks.
Sample = tuple[str, float, int, float]


def _sample_view(sample: Sample) -> dict[str, Any]:
    operation, duration_ms, status, at = sample
    return {
        "operation": operation,
        "durationMs": round(duration_ms, 3),
        "status": status,
        "at": iso_ms(round(at * 1000)),
    }


@dataclass(slots=True)
class _Operation:
    count: int = 0
    failures: int = 0
    durations_ms: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_MAX))


class PerformanceMonitor:
    def __init__(self) -> None:
        self._operations: dict[str, _Operation] = {}
        self._recent: deque[Sample] = deque(maxlen=EVENTS_MAX)
        self._failed: deque[Sample] = deque(maxlen=EVENTS_MAX)

    def record(self, operation: str, duration_ms: float, status: int) -> None:
        entry = self._operations.get(operation)
        if entry is None:
            entry = self._operations[operation] = _Operation()
        entry.count += 1
        entry.durations_ms.append(duration_ms)
        sample = (operation, duration_ms, status, time.time())
        self._recent.append(sample)
        if status >= 500:
            entry.failures += 1
            self._failed.append(sample)

    def clear(self) -> None:
        self._operations.clear()
        self._recent.clear()
        self._failed.clear()

    def summary(self) -> list[dict[str, Any]]:
        return [self._summarize(name, entry) for name, entry in sorted(self._operations.items())]

    def operation(self, name: str) -> dict[str, Any] | None:
        entry = self._operations.get(name)
        return None if entry is None else self._summarize(name, entry)

    def slow(self, threshold_ms: float) -> list[dict[str, Any]]:
        slow = (s for s in self._recent if round(s[1], 3) >= threshold_ms)
        return [_sample_view(s) for s in sorted(slow, key=lambda s: -s[1])]

    def failed(self, limit: int) -> list[dict[str, Any]]:
        return [_sample_view(s) for s in list(self._failed)[-limit:][::-1]]

    @staticmethod
    def _summarize(name: str, entry: _Operation) -> dict[str, Any]:
        durations = np.fromiter(entry.durations_ms, dtype=np.float64)
        p50, p95, p99 = (
            np.percentile(durations, [50, 95, 99]) if len(durations) else (0.0, 0.0, 0.0)
        )
        return {
            "operation": name,
            "count": entry.count,
            "successRate": round(1 - entry.failures / entry.count, 4) if entry.count else 1.0,
            "p50Ms": round(float(p50), 3),
            "p95Ms": round(float(p95), 3),
            "p99Ms": round(float(p99), 3),
        }
