"""When accounts revalue their margins (docs/DOMAIN.md §2): a tick listener that has every
account holding positions recompute its portfolio margins and check its margin at least every
``risk.revaluation_interval_ms``, and at once when a price has moved ``risk.revaluation_move``
or more since the last pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.domain.money import RATE_SCALE
from engine.domain.parameters import RiskConfig
from engine.market.market_data import Int64Array, MarketSnapshot


class MarginWatch:
    def __init__(self, risk: RiskConfig, revalue: Callable[[], None]) -> None:
        self.risk = risk
        self.revalue = revalue
        self._last_ms: int | None = None
        self._prices: Int64Array | None = None  # the prices of the last pass

    def __call__(self, snapshot: MarketSnapshot) -> None:
        ltp = snapshot.ltp
        due = self._last_ms is None or (
            snapshot.at_ms - self._last_ms >= self.risk.revaluation_interval_ms
        )
        if not due and self._prices is not None and len(self._prices) == len(ltp):
            before = self._prices
            priced = before > 0
            moved = np.abs(ltp[priced] - before[priced]) * RATE_SCALE
            due = bool((moved >= self.risk.revaluation_move.parts * before[priced]).any())
        if due:
            self._last_ms = snapshot.at_ms
            self._prices = ltp.copy()
            self.revalue()
