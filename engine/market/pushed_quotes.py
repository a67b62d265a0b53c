"""A quote source fed from outside the market actor: a live poller pushes, the tick applies.

The poller (``gateway.feeds.vortex_poller``) runs on the event loop; the market actor runs on its
own worker. ``push`` only stores the latest quote per instrument under a lock; ``refresh``, called
by the market actor when reference prices are due, drains them into
:class:`~engine.market.market_data.MarketData`. Instruments nobody pushed keep their last reference,
so the market keeps running when the feed fails. The source also keeps the feed's health (last
successful round, last error, failures by reason) for health checks and metrics.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import msgspec

from engine.domain.enums import PriceSource
from engine.domain.parameters import CircuitConfig
from engine.domain.quote import DepthLevel
from engine.domain.rules import circuit_band
from engine.market.market_data import MarketData


class PushedQuote(msgspec.Struct, frozen=True, gc=False):
    """One instrument's live figures in paise; 0 means the feed did not say."""

    index: int
    ltp_paise: int
    previous_close_paise: int = 0
    circuit_low_paise: int = 0
    circuit_high_paise: int = 0
    bids: tuple[DepthLevel, ...] = ()  # the feed's depth, best first (empty: none sent)
    asks: tuple[DepthLevel, ...] = ()


class FeedStatus(msgspec.Struct, frozen=True):
    """The feed's health at one instant."""

    stale: bool
    last_refresh_ms: int | None
    last_failure_ms: int | None
    error: str | None
    error_reason: str | None
    consecutive_failures: int


class PushedQuoteSource:
    """``QuoteSource`` whose prices arrive by ``push`` from another thread."""

    def __init__(self, *, stale_after_ms: int, circuits: CircuitConfig | None = None) -> None:
        self.stale_after_ms = stale_after_ms
        self.circuits = circuits
        self._lock = threading.Lock()
        self._pending: dict[int, PushedQuote] = {}
        self._last_success_ms: int | None = None
        self._last_failure_ms: int | None = None
        self._error: str | None = None
        self._error_reason: str | None = None
        self._consecutive_failures = 0
        self._failures_by_reason: dict[str, int] = {}
        self.rounds_total = 0
        self.quotes_pushed_total = 0
        self.quotes_missing_total = 0
        self.quotes_malformed_total = 0

    # -- feed side (any thread) -------------------------------------------------------------

    def push(self, quotes: Iterable[PushedQuote]) -> int:
        """Store the latest quote per instrument for the next refresh; return how many."""
        count = 0
        with self._lock:
            for quote in quotes:
                self._pending[quote.index] = quote
                count += 1
            self.quotes_pushed_total += count
        return count

    def record_success(self, now_ms: int, *, missing: int = 0, malformed: int = 0) -> None:
        """A whole polling round succeeded: the data is fresh again."""
        with self._lock:
            self.rounds_total += 1
            self.quotes_missing_total += missing
            self.quotes_malformed_total += malformed
            self._last_success_ms = now_ms
            self._error = None
            self._error_reason = None
            self._consecutive_failures = 0

    def record_failure(self, now_ms: int, reason: str, message: str) -> None:
        """A polling round failed after its retries: the data is stale until one succeeds."""
        with self._lock:
            self.rounds_total += 1
            self._last_failure_ms = now_ms
            self._error = message
            self._error_reason = reason
            self._consecutive_failures += 1
            self._failures_by_reason[reason] = self._failures_by_reason.get(reason, 0) + 1

    def status(self, now_ms: int) -> FeedStatus:
        """Stale while the last round failed, before the first success, or once no round has
        succeeded for ``stale_after_ms``."""
        with self._lock:
            last = self._last_success_ms
            stale = (
                self._consecutive_failures > 0
                or last is None
                or now_ms - last > self.stale_after_ms
            )
            error = self._error
            if error is None and stale:
                error = (
                    "no quotes received yet"
                    if last is None
                    else f"no successful poll for {now_ms - last} ms"
                )
            return FeedStatus(
                stale=stale,
                last_refresh_ms=last,
                last_failure_ms=self._last_failure_ms,
                error=error,
                error_reason=self._error_reason,
                consecutive_failures=self._consecutive_failures,
            )

    def failures_by_reason(self) -> Mapping[str, int]:
        with self._lock:
            return dict(self._failures_by_reason)

    # -- market side (the market actor only) ------------------------------------------------

    def refresh(self, data: MarketData, now_ms: int) -> None:
        """Apply every quote pushed since the last refresh to the reference columns."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for quote in pending.values():
            self._apply(data, quote)

    def _apply(self, data: MarketData, quote: PushedQuote) -> None:
        index = quote.index
        tick = int(data.tick[index])
        if quote.circuit_low_paise > 0 and quote.circuit_high_paise >= quote.circuit_low_paise:
            # The exchange's band, snapped inward to the tick.
            low = max(-(-quote.circuit_low_paise // tick) * tick, tick)
            high = quote.circuit_high_paise // tick * tick
            if low <= high:
                data.circuit_low[index] = low
                data.circuit_high[index] = high
        elif (
            self.circuits is not None
            and quote.previous_close_paise > 0
            and quote.previous_close_paise != int(data.previous_close[index])
        ):
            # No band from the feed: derive ours around the feed's previous close.
            low, high = circuit_band(
                self.circuits, data.master.at(index), quote.previous_close_paise
            )
            data.circuit_low[index] = low
            data.circuit_high[index] = high
        if quote.bids or quote.asks:
            data.live_depth[index] = (quote.bids, quote.asks)
        if quote.previous_close_paise > 0:
            data.previous_close[index] = quote.previous_close_paise
        if quote.ltp_paise > 0:
            snapped = (quote.ltp_paise * 2 + tick) // (2 * tick) * tick  # nearest tick, half up
            low = int(data.circuit_low[index])
            high = int(data.circuit_high[index])
            data.reference[index] = min(max(snapped, low), high)
            data.price_source[index] = PriceSource.LIVE
