"""A wall clock moved to a fixed date, for the in-process servers whose tests trade the sample
master's contracts (they expire in December 2026): the server runs in real time from the same
instant whatever day the suite runs, so those contracts stay live while the test needs them."""

from __future__ import annotations

import time

# 2026-12-04 10:00 IST, a Friday: every contract of the sample master is still to expire.
SAMPLE_MASTER_DAY_MS = 1_796_358_600_000


class ShiftedClock:
    """The wall clock, moved so that it read ``start_ms`` when it was made."""

    def __init__(self, start_ms: int = SAMPLE_MASTER_DAY_MS) -> None:
        self._offset_ms = start_ms - time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self._offset_ms

    def advance(self, ms: int) -> None:
        """Move the clock on by ``ms`` (a later trade day for the server it runs)."""
        self._offset_ms += ms
