"""Which instruments are in use: the ones a live quote source should keep fresh.

The market actor publishes the instruments its books need (resting orders, position exits,
queued market orders, open positions) each time it refreshes references; anyone may mark
instruments subscribed (websocket clients, quote pollers). Readers on other threads get one
consistent frozen set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class InUseInstruments:
    """Thread-safe union of the market's own needs and reference-counted subscriptions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._books: frozenset[int] = frozenset()
        self._subscribed: dict[int, int] = {}
        self._current: frozenset[int] = frozenset()

    def publish_books(self, indices: frozenset[int]) -> None:
        """Replace what the market's books need (called by the market actor only)."""
        with self._lock:
            if indices != self._books:
                self._books = indices
                self._rebuild()

    def subscribe(self, indices: Iterable[int]) -> None:
        """Count one more subscriber for each instrument."""
        with self._lock:
            for index in indices:
                self._subscribed[index] = self._subscribed.get(index, 0) + 1
            self._rebuild()

    def unsubscribe(self, indices: Iterable[int]) -> None:
        """Drop one subscriber per instrument; an instrument with none left is forgotten."""
        with self._lock:
            for index in indices:
                left = self._subscribed.get(index, 0) - 1
                if left > 0:
                    self._subscribed[index] = left
                else:
                    self._subscribed.pop(index, None)
            self._rebuild()

    def current(self) -> frozenset[int]:
        """The instruments in use now (a snapshot; never modified afterwards)."""
        return self._current

    def _rebuild(self) -> None:
        self._current = self._books | frozenset(self._subscribed)
