"""Which trade days start with expiry-day margin to block, and a tick listener noticing each
trade day's start (docs/DOMAIN.md §2: the expiry-day extra ELM applies from the start of the
day to the short index options expiring that day)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from engine.domain.account.expiry_margin import carries_expiry_day_extra
from engine.domain.instruments import InstrumentMaster
from engine.market.market_data import MarketSnapshot


def index_options_expire_on(master: InstrumentMaster, trade_date: date) -> bool:
    """Whether any index option of ``master`` expires on ``trade_date``."""
    return any(carries_expiry_day_extra(instrument, trade_date) for instrument in master)


class DayStartWatcher:
    """A tick listener (it runs on the market actor's thread, tick after tick) that calls
    ``on_day_start(at_ms)`` at the first tick of each trade day after the one it was built
    in."""

    def __init__(
        self,
        trade_day: Callable[[int], int],
        now_ms: int,
        on_day_start: Callable[[int], None],
    ) -> None:
        self._trade_day = trade_day
        self._day = trade_day(now_ms)
        self._on_day_start = on_day_start

    def __call__(self, snapshot: MarketSnapshot) -> None:
        day = self._trade_day(snapshot.at_ms)
        if day != self._day:
            self._day = day
            self._on_day_start(snapshot.at_ms)
