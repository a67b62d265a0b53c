"""What one group commit writes: :class:`Rows`, filled by the projections
(``persistence.projection``, ``persistence.request_rows``, ``persistence.order_event_rows``)
and sent by ``persistence.writer``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson


@dataclass(slots=True)
class Rows:
    """Everything one group of batches writes, keyed so the last version of a row wins.

    Rows are tuples in column order; JSON values (event payloads, log details, the DP-charge
    days) are raw JSON fragments, written into the statement's parameters as they are.
    """

    events: list[tuple[str, int, str, orjson.Fragment, datetime]] = field(default_factory=list)
    orders: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    positions: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    holdings: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    fund_blocks: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    accounts: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ledger: list[tuple[Any, ...]] = field(default_factory=list)
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    deposits: dict[str, dict[str, Any]] = field(default_factory=dict)
    withdrawals: dict[str, dict[str, Any]] = field(default_factory=dict)
    fund_operations: list[tuple[Any, ...]] = field(default_factory=list)
    resets: list[tuple[Any, ...]] = field(default_factory=list)
    trades: list[tuple[Any, ...]] = field(default_factory=list)
    order_history: list[tuple[Any, ...]] = field(default_factory=list)
    gtts: dict[str, tuple[Any, ...]] = field(default_factory=dict)
