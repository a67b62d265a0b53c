"""Risk marking: every open position mirrored in columns and re-marked each tick by one kernel.

Account actors report position changes (once durable); the market actor owns this book and marks
it after each jitter. Each mark is published as an immutable :class:`RiskMarks`, which any
thread may read (``latest``): the venue's unrealized P&L, its open positions and how many
accounts are in loss, exported to Prometheus (``gateway.observability.metrics``), and the
per-account figures mark-to-market checks build on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.market import kernels
from engine.market.market_data import Int64Array


class RiskMarks(NamedTuple):
    """One mark of every open position, at the tick of ``at_ms``."""

    at_ms: int
    positions: int
    unrealized_paise: int  # the sum over every open position, at its last traded price
    accounts_in_loss: int  # accounts whose open positions add up to an unrealized loss


class RiskBook:
    """Columnar mirror of open positions (slots are reused once a position closes)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.quantity: Int64Array = np.zeros(capacity, dtype=np.int64)
        self.signed_cost: Int64Array = np.zeros(capacity, dtype=np.int64)
        self.instrument_index: Int64Array = np.zeros(capacity, dtype=np.int64)
        self.group: Int64Array = np.zeros(capacity, dtype=np.int64)
        self._unrealized: Int64Array = np.zeros(capacity, dtype=np.int64)
        self._slots: dict[tuple[str, str], int] = {}
        self._free: list[int] = list(range(capacity - 1, -1, -1))
        self._groups: dict[str, int] = {}
        self.unrealized_by_group: Int64Array = np.zeros(0, dtype=np.int64)
        self.latest = RiskMarks(0, 0, 0, 0)  # swapped whole by each mark

    def __len__(self) -> int:
        return len(self._slots)

    def upsert(
        self, account_id: str, position_id: str, index: int, quantity: int, signed_cost: int
    ) -> None:
        """Record a position's quantity and signed cost; quantity 0 removes it."""
        key = (account_id, position_id)
        slot = self._slots.get(key)
        if quantity == 0:
            if slot is not None:
                del self._slots[key]
                self.quantity[slot] = 0
                self.signed_cost[slot] = 0
                self._free.append(slot)
            return
        if slot is None:
            slot = self._allocate()
            self._slots[key] = slot
        group = self._groups.setdefault(account_id, len(self._groups))
        self.quantity[slot] = quantity
        self.signed_cost[slot] = signed_cost
        self.instrument_index[slot] = index
        self.group[slot] = group

    def instrument_indices(self) -> set[int]:
        """The instruments with at least one open position."""
        index = self.instrument_index
        return {int(index[slot]) for slot in self._slots.values()}

    def _allocate(self) -> int:
        if not self._free:
            old = len(self.quantity)
            for name in ("quantity", "signed_cost", "instrument_index", "group", "_unrealized"):
                column = getattr(self, name)
                setattr(self, name, np.concatenate([column, np.zeros(old, dtype=np.int64)]))
            self._free = list(range(2 * old - 1, old - 1, -1))
        return self._free.pop()

    def mark(self, ltp: Int64Array, at_ms: int) -> int:
        """Re-mark every position at ``ltp``, publish the marks as ``latest`` and return the
        total unrealized P&L."""
        total = int(
            kernels.mark_to_market(
                self.quantity, self.signed_cost, self.instrument_index, ltp, self._unrealized
            )
        )
        # Free slots point at group 0 with zero quantity, so there is always one group.
        groups = max(1, len(self._groups))
        by_group = np.zeros(groups, dtype=np.int64)
        kernels.sum_by_group(self._unrealized, self.group, groups, by_group)
        self.unrealized_by_group = by_group
        self.latest = RiskMarks(at_ms, len(self._slots), total, int((by_group < 0).sum()))
        return total
