"""The displayed book: up to five price levels a side around each quote, shared by every account.

Each level's quantity is drawn per instrument from its kind and liquidity tier
(``[market.depth]``): the touch shows ``touch_lots`` lots on average, each level deeper
``level_growth`` more, each varied by up to ``noise`` with a seeded draw that changes every
``redraw_ms`` (the same seed and clock show the same book). Levels stand
``level_step_of_spread`` of the bid/ask spread apart (a tick at least) and never outside the
circuit band. In live mode the feed's own depth is shown where it sent one
(``MarketData.live_depth``).

What orders take is gone for every order after them: the quantity taken at each level (counted
from the touch, so it stays taken when the quote moves a tick) comes back with the half-life
``replenish_half_life_ms``. Only the market actor takes; anyone may read.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from engine.config import DepthConfig
from engine.domain.quote import DepthLevel
from engine.market.market_data import MarketData, MarketSnapshot, spread_kind

BIDS = 1  # the buy side of the book, what a seller takes
ASKS = -1  # the sell side, what a buyer takes

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
PPM = 1_000_000


class Trade(NamedTuple):
    """Part of an order filled at one level."""

    price_paise: int
    quantity: int


class _Taken(NamedTuple):
    """What orders took from one side of an instrument's book, level by level, as of
    ``at_ms`` (replaced whole on each take, so a reader never sees half an update)."""

    quantities: tuple[float, ...]
    at_ms: int


def seeded_unit(*keys: int) -> float:
    """A uniform draw in [0, 1) fixed by integer ``keys`` (a splitmix64 mix of them)."""
    mixed = _GOLDEN
    for key in keys:
        mixed = ((mixed ^ (key & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        mixed ^= mixed >> 31
    mixed = (mixed + _GOLDEN) & _MASK
    mixed = ((mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & _MASK
    return (mixed ^ (mixed >> 31)) / 2**64


class MarketDepth:
    """Every instrument's displayed book at the market's latest tick."""

    def __init__(self, data: MarketData, config: DepthConfig, seed: int) -> None:
        self.data = data
        self.config = config
        self.seed = seed
        self._taken: dict[tuple[int, int], _Taken] = {}
        # The levels last drawn for each side, with the tick (snapshot seq) they were drawn at:
        # the orders and readers of one tick share one draw.
        self._drawn_at: dict[tuple[int, int], tuple[int, list[tuple[int, int, int]]]] = {}

    def book(
        self, index: int, snapshot: MarketSnapshot | None = None
    ) -> tuple[list[DepthLevel], list[DepthLevel]]:
        """The bids and the asks of one instrument, best first (empty while it has no price),
        around ``snapshot`` (a reader's, so the book matches the quote it read) or the latest."""
        at = snapshot or self.data.snapshot
        return self.side(index, BIDS, at), self.side(index, ASKS, at)

    def side(
        self, index: int, side: int, snapshot: MarketSnapshot | None = None
    ) -> list[DepthLevel]:
        """One side of the book (``BIDS`` or ``ASKS``) around ``snapshot`` or the latest, best
        first, net of what orders took and has not come back yet (to the nearest lot)."""
        at = snapshot or self.data.snapshot
        shown = self._shown(index, side, at)
        taken = self._taken_now(index, side, at.at_ms)
        lot = self.data.master.at(index).lot_size
        levels = []
        for level, (price, quantity, orders) in enumerate(shown):
            missing = math.floor(taken[level] / lot + 0.5) * lot if level < len(taken) else 0
            left = max(quantity - missing, 0)
            levels.append(DepthLevel(price, left, math.ceil(orders * left / quantity)))
        return levels

    def take(self, index: int, side: int, quantity: int, limit_paise: int) -> list[Trade]:
        """Take up to ``quantity`` for an order on ``side`` (+1 buys from the asks, -1 sells to
        the bids), level by level from the touch, no further than ``limit_paise``: one trade
        per level taken from, each a whole number of lots. What it takes is gone for the
        next order until it replenishes."""
        book_side = ASKS if side > 0 else BIDS
        snapshot = self.data.snapshot
        levels = self.side(index, book_side, snapshot)
        taken = list(self._taken_now(index, book_side, snapshot.at_ms))
        taken.extend([0.0] * (len(levels) - len(taken)))
        lot = self.data.master.at(index).lot_size
        trades: list[Trade] = []
        remaining = quantity
        for level, shown in enumerate(levels):
            price = shown.price_paise
            if remaining <= 0 or (price > limit_paise if side > 0 else price < limit_paise):
                break
            filled = min(
                remaining, shown.quantity // lot * lot
            )  # a feed's level may hold part of a lot
            if filled > 0:
                trades.append(Trade(shown.price_paise, filled))
                taken[level] += filled
                remaining -= filled
        if trades:
            self._taken[index, book_side] = _Taken(tuple(taken), snapshot.at_ms)
        return trades

    def _taken_now(self, index: int, side: int, at_ms: int) -> tuple[float, ...]:
        """What is still missing from each level at ``at_ms``: what was taken, decayed."""
        entry = self._taken.get((index, side))
        if entry is None:
            return ()
        elapsed = max(at_ms - entry.at_ms, 0)
        left = 0.5 ** (elapsed / self.config.replenish_half_life_ms)
        return tuple(quantity * left for quantity in entry.quantities)

    def _shown(self, index: int, side: int, snapshot: MarketSnapshot) -> list[tuple[int, int, int]]:
        """(price, quantity, orders) of each level before anything was taken: the feed's
        where it sent depth, else drawn around the quote."""
        live = self.data.live_depth.get(index)
        if live is not None:
            levels = live[0] if side == BIDS else live[1]
            return [
                (level.price_paise, level.quantity, max(level.orders, 1))
                for level in levels
                if level.price_paise > 0 and level.quantity > 0
            ]
        return self._drawn(index, side, snapshot)

    def _drawn(self, index: int, side: int, snapshot: MarketSnapshot) -> list[tuple[int, int, int]]:
        cached = self._drawn_at.get((index, side))
        if cached is not None and cached[0] == snapshot.seq:
            return cached[1]
        levels = self._draw(index, side, snapshot)
        self._drawn_at[index, side] = (snapshot.seq, levels)
        return levels

    def _draw(self, index: int, side: int, snapshot: MarketSnapshot) -> list[tuple[int, int, int]]:
        data, config = self.data, self.config
        if index >= len(snapshot.ltp) or snapshot.ltp[index] <= 0:
            return []
        bid, ask = int(snapshot.bid[index]), int(snapshot.ask[index])
        touch = bid if side == BIDS else ask
        if touch <= 0:
            return []
        instrument = data.master.at(index)
        kind = spread_kind(instrument)
        tick = int(data.tick[index])
        spread = ask - bid if bid > 0 else tick
        step = max(spread * config.level_step_of_spread_ppm // PPM // tick, 1) * tick
        low, high = int(snapshot.low[index]), int(snapshot.high[index])
        touch_lots = config.touch_lots[kind][instrument.liquidity]
        lots_per_order = config.lots_per_order[kind]
        epoch = snapshot.at_ms // config.redraw_ms
        levels = []
        for level in range(config.levels):
            price = touch - level * step if side == BIDS else touch + level * step
            if price <= 0 or price < low or (high > 0 and price > high):
                break
            draw = seeded_unit(self.seed, index, side, level, epoch)
            mean = touch_lots * (PPM + config.level_growth_ppm * level) / PPM
            variation = (2 * draw - 1) * config.noise_ppm / PPM
            lots = max(round(mean * (1 + variation)), 1)
            orders = max(round(lots / lots_per_order * (0.5 + draw)), 1)
            levels.append((price, lots * instrument.lot_size, orders))
        return levels
