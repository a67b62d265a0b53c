"""Executions the market sent that an account refused, counted for metrics.

A fill or trigger can cross a modification or cancellation in flight (the market acted on the
order's old terms): the account refuses it as a value. Each refusal is logged and counted here
by command and reason, so a rise shows on the dashboard instead of hiding in the books.
"""

from __future__ import annotations

import threading
from collections import Counter

from engine.domain.enums import Rejection


class RefusedExecutions:
    """A thread-safe count of refused market executions by (command, reason)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, Rejection]] = Counter()
        self._lock = threading.Lock()

    def count(self, command: str, reason: Rejection) -> None:
        with self._lock:
            self._counts[(command, reason)] += 1

    def snapshot(self) -> dict[tuple[str, Rejection], int]:
        with self._lock:
            return dict(self._counts)
