"""Price-level books: which resting orders and position exits a tick crosses.

Each instrument keeps eight books of ``(level, seq, key)`` entries in ``SortedList``s, so a tick
finds every crossed entry in O(log n + k). A crossed limit fills from the displayed depth
(``engine.market.depth``) and stays in its book until it has filled whole:

========================  ============================  ==================
book                      fires when                    market price used
========================  ============================  ==================
buy limits                ask <= limit                  the asks up to it
sell limits               bid >= limit                  the bids down to it
buy stops (SL, SL-M)      ltp >= trigger                ltp
sell stops                ltp <= trigger                ltp
rising exits              ltp >= level                  ltp (long target, short stop-loss)
falling exits             ltp <= level                  ltp (long stop-loss, short target)
rising GTT legs           ltp >= trigger                ltp (a target, a trigger above)
falling GTT legs          ltp <= trigger                ltp (a stop-loss, a trigger below)
========================  ============================  ==================

The two GTT books hold the legs of GTTs (docs/DOMAIN.md §7), so a tick finds the triggers it
reached as cheaply as a stop-loss's; what a fired leg places is an ordinary order.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import count

from sortedcontainers import SortedList


class LevelBook:
    """Keys at price levels; pops the keys a market price has reached."""

    def __init__(self) -> None:
        self._entries: SortedList = SortedList()
        self._by_key: dict[Hashable, tuple[int, int, Hashable]] = {}
        self._seq = count()

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._by_key

    def add(self, key: Hashable, level: int) -> None:
        """Place ``key`` at ``level`` (replacing any earlier level; time priority by arrival)."""
        self.remove(key)
        entry = (level, next(self._seq), key)
        self._by_key[key] = entry
        self._entries.add(entry)

    def remove(self, key: Hashable) -> bool:
        entry = self._by_key.pop(key, None)
        if entry is None:
            return False
        self._entries.remove(entry)
        return True

    def at_or_above(self, market: int) -> list[Hashable]:
        """Keys whose level >= ``market``, highest level first and by arrival at a level (the
        priority of buy limits the market has fallen to)."""
        entries = self._entries
        crossed = entries[entries.bisect_left((market, -1)) :]
        crossed.sort(key=lambda entry: (-entry[0], entry[1]))
        return [entry[2] for entry in crossed]

    def at_or_below(self, market: int) -> list[Hashable]:
        """Keys whose level <= ``market``, lowest level first and by arrival at a level (the
        priority of sell limits the market has risen to)."""
        entries = self._entries
        return [entry[2] for entry in entries[: entries.bisect_right((market, float("inf")))]]

    def pop_at_or_below(self, market: int) -> list[Hashable]:
        """Pop keys whose level <= ``market`` (the book fires when the market rises to it)."""
        entries = self._entries
        end = entries.bisect_right((market, float("inf")))
        if end == 0:
            return []
        fired = [entry[2] for entry in entries[:end]]
        del entries[:end]
        for key in fired:
            del self._by_key[key]
        return fired

    def pop_at_or_above(self, market: int) -> list[Hashable]:
        """Pop keys whose level >= ``market`` (the book fires when the market falls to it)."""
        entries = self._entries
        start = entries.bisect_left((market, -1))
        if start == len(entries):
            return []
        fired = [entry[2] for entry in entries[start:]]
        del entries[start:]
        for key in fired:
            del self._by_key[key]
        return fired


class InstrumentBooks:
    """The eight books of one instrument."""

    __slots__ = (
        "buy_limits",
        "buy_stops",
        "falling_exits",
        "falling_gtts",
        "rising_exits",
        "rising_gtts",
        "sell_limits",
        "sell_stops",
    )

    def __init__(self) -> None:
        self.buy_limits = LevelBook()
        self.sell_limits = LevelBook()
        self.buy_stops = LevelBook()
        self.sell_stops = LevelBook()
        self.rising_exits = LevelBook()
        self.falling_exits = LevelBook()
        self.rising_gtts = LevelBook()
        self.falling_gtts = LevelBook()

    def __len__(self) -> int:
        return (
            len(self.buy_limits)
            + len(self.sell_limits)
            + len(self.buy_stops)
            + len(self.sell_stops)
            + len(self.rising_exits)
            + len(self.falling_exits)
            + len(self.rising_gtts)
            + len(self.falling_gtts)
        )
