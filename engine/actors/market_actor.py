"""The market actor: publishes every tick's prices, matches resting orders and exits, marks risk.

It is the only writer of :class:`~engine.market.market_data.MarketData` and of the matching books.
Account actors tell it what rests, triggers or must execute at market; it tells account actors
(through ``dispatch``) what the market did, and the account re-checks before acting.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from itertools import count
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from engine.actors.clock import Clock
from engine.config import MarketConfig
from engine.domain import commands as cmd
from engine.domain.enums import CancelReason, CloseReason
from engine.domain.gtt import GttStatus
from engine.domain.money import Rate
from engine.domain.rules import band_around
from engine.domain.sessions import MS_PER_DAY, Boundary, SessionGroup, SessionRules, group_of
from engine.market.depth import MarketDepth, Trade
from engine.market.in_use import InUseInstruments
from engine.market.market_data import MarketData, MarketSnapshot, QuoteSource
from engine.market.messages import (
    BookOp,
    BookOps,
    ExecuteMarket,
    ForgetGtt,
    ForgetOrder,
    RestGtt,
    RestOrder,
    SetExits,
    Sync,
    Tick,
)
from engine.market.order_book import InstrumentBooks, LevelBook
from engine.market.risk import RiskBook
from engine.market.tick_path import TickPath

logger = logging.getLogger(__name__)

# A position's exits in the books, keyed (account, position, kind): the kind is the reason the
# close it fires gives.
EXIT_KINDS = (CloseReason.STOP_LOSS, CloseReason.TARGET)

# Dead entries the GTT expiry heap may hold beyond twice the active GTTs before it is rebuilt.
GTT_EXPIRIES_SLACK = 1024

Dispatch = Callable[[str, cmd.AccountRequest], None]
TickListener = Callable[[MarketSnapshot], None]


class _Resting(msgspec.Struct, gc=False):
    """A working order as the market holds it; ``quantity`` is what it has not filled yet."""

    index: int
    side: int
    quantity: int
    limit_paise: int
    trigger_paise: int
    triggered: bool
    version: int
    at_market: bool = False  # a MARKET order's rest, waiting at its protection price


class MarketBehaviour:
    """Owns prices, matching books and the risk book; the single writer of all three.

    It runs on a pool of its own with one worker (``engine.actors.actor_pool``), which keeps it
    on one thread at a time while making each tell as cheap as a deque append.
    """

    def __init__(
        self,
        *,
        data: MarketData,
        config: MarketConfig,
        protection: Rate,
        depth: MarketDepth,
        source: QuoteSource,
        path: TickPath,
        clock: Clock,
        dispatch: Dispatch,
        listeners: list[TickListener] | None = None,
        in_use: InUseInstruments | None = None,
        risk: RiskBook | None = None,
        sessions: SessionRules | None = None,
        on_session: Callable[[SessionGroup, Boundary, int], None] | None = None,
        trade_day: Callable[[int], int] | None = None,
        expiries: Sequence[tuple[int, frozenset[str]]] = (),
        on_expiry: Callable[[frozenset[str], int], None] | None = None,
        on_day_start: Callable[[int], Sequence[tuple[int, frozenset[str]]]] | None = None,
    ) -> None:
        super().__init__()
        # Contract expiries still to come, in time order, each reported once when passed.
        self.expiries = deque(expiries)
        self.on_expiry = on_expiry
        # Called at each trade day's first tick (the first after start too); returns the
        # expiries of the contracts it listed.
        self.on_day_start = on_day_start
        self._started_day: int | None = None
        self.sessions = sessions
        self.on_session = on_session
        self._last_tick_ms = clock.now_ms()
        self.trade_day = trade_day
        self._day = trade_day(self._last_tick_ms) if trade_day is not None else 0
        self.data = data
        # The prices the market starts from (stored last prices) close the day before.
        data.closed_day = self._day
        self.config = config
        # How far from the touch a MARKET order may walk the book (execution.market_protection).
        self.protection = protection
        self.depth = depth
        self.source = source
        self.path = path
        self.clock = clock
        self.dispatch = dispatch
        self.listeners = listeners if listeners is not None else []
        self.in_use = in_use if in_use is not None else InUseInstruments()
        self.books: dict[int, InstrumentBooks] = {}
        self.resting: dict[tuple[str, str], _Resting] = {}
        self.exits: dict[tuple[str, str], tuple[int, int | None, int | None]] = {}
        # Active GTTs, keyed (account, gtt): their instrument, version and expiry; their legs
        # rest in the GTT books keyed (account, gtt, leg). Their expiries in a heap, an entry
        # live while its GTT is active with that expiry (rebuilt when mostly dead entries).
        self.gtts: dict[tuple[str, str], tuple[int, int, int]] = {}
        self.gtt_expiries: list[tuple[int, str, str]] = []
        # Due market executions in a heap; ``queued`` holds the one live entry per order, so a
        # heap entry that is not it (the order was modified or cancelled since) is dropped.
        self.market_queue: list[tuple[int, int, ExecuteMarket]] = []
        self.queued: dict[tuple[str, str], ExecuteMarket] = {}
        # After-market orders waiting for their session to open, with a heap of when each
        # goes live; an entry that is not the one ``held`` has was modified or cancelled.
        self.held: dict[tuple[str, str], RestOrder | ExecuteMarket] = {}
        self.held_queue: list[tuple[int, int, RestOrder | ExecuteMarket]] = []
        self.risk = risk if risk is not None else RiskBook()
        self.next_reference_ms = 0
        self.ticks_total = 0
        self._seq = count()

    # -- messages ---------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, BookOps):
            for op in message.ops:
                self._apply_op(op)
            return None
        if isinstance(message, Tick):
            return self.tick()
        if isinstance(message, Sync):
            return None
        logger.warning("market: unexpected message %r", message)
        return None

    def _apply_op(self, op: BookOp) -> None:
        if isinstance(op, RestOrder | ExecuteMarket) and op.after_market and self._hold(op):
            return
        if isinstance(op, RestOrder):
            self._rest(op)
        elif isinstance(op, ExecuteMarket):
            self._execute_market(op)
        elif isinstance(op, ForgetOrder):
            self._forget(op.account_id, op.order_id)
        elif isinstance(op, SetExits):
            self._set_exits(op)
        elif isinstance(op, RestGtt):
            self._rest_gtt(op)
        elif isinstance(op, ForgetGtt):
            self._forget_gtt(op.account_id, op.gtt_id)
        else:
            self.risk.upsert(
                op.account_id, op.position_id, op.index, op.quantity, op.signed_cost_paise
            )

    # -- tick -------------------------------------------------------------------------------

    def tick(self) -> int:
        """Price every instrument, match, execute due market orders, mark, publish; report
        the session boundaries passed since the last tick (hours enforced)."""
        now = self.clock.now_ms()
        if self.sessions is not None and self.on_session is not None:
            for group, boundary, at_ms in self.sessions.boundaries_crossed(self._last_tick_ms, now):
                self.on_session(group, boundary, at_ms)
        self._last_tick_ms = now
        data = self.data
        if self.trade_day is not None and self.trade_day(now) != self._day:
            # The day's last prices close it: previous closes, bands and the session roll.
            self._day = self.trade_day(now)
            data.roll_day(data.snapshot.ltp, self._day)
        if self.on_day_start is not None and self._started_day != self._day:
            self._started_day = self._day
            if self._add_expiries(self.on_day_start(now)):
                self.next_reference_ms = now  # the new contracts are priced from this tick
        if now >= self.next_reference_ms:
            self._publish_in_use()
            self.source.refresh(data, now)
            self.next_reference_ms = now + self.config.reference_interval_ms
        previous = data.snapshot
        ltp, bid, ask, options = self.path.prices(data, now, previous)
        snapshot = MarketSnapshot(
            seq=previous.seq + 1,
            at_ms=now,
            ltp=ltp,
            bid=bid,
            ask=ask,
            low=data.circuit_low,
            high=data.circuit_high,
            options=options,
        )
        data.snapshot = snapshot
        self._release_held(now)
        # Contracts expiring by now settle at this tick's prices (their closing prices).
        while self.expiries and self.expiries[0][0] <= now:
            at_ms, instrument_ids = self.expiries.popleft()
            if self.on_expiry is not None:
                self.on_expiry(instrument_ids, at_ms)
        self._update_session_stats(ltp)
        sessions, master = self.sessions, data.master
        for index, books in self.books.items():
            # With hours enforced, nothing rests or triggers while its session is closed.
            if len(books) and (
                sessions is None or sessions.is_open(group_of(master.at(index)), now)
            ):
                self._match(index, books, snapshot)
        self._execute_due(now)
        self._expire_gtts(now)
        self.risk.mark(ltp, now)
        self.ticks_total += 1
        for listener in self.listeners:
            try:
                listener(snapshot)
            except Exception:
                logger.exception("tick listener failed")
        return snapshot.seq

    def _add_expiries(self, expiries: Sequence[tuple[int, frozenset[str]]]) -> bool:
        """Merge newly listed contracts' expiries into those to come, one entry an instant;
        whether there were any."""
        if not expiries:
            return False
        merged: dict[int, frozenset[str]] = dict(self.expiries)
        for at_ms, instrument_ids in expiries:
            merged[at_ms] = merged.get(at_ms, frozenset()) | instrument_ids
        self.expiries = deque(sorted(merged.items()))
        return True

    def _publish_in_use(self) -> None:
        """Tell the quote source which instruments the books need (once per reference refresh:
        the scan is O(resting orders), too much for every tell, cheap at the poll cadence)."""
        needed = {entry.index for entry in self.resting.values()}
        needed.update(levels[0] for levels in self.exits.values())
        needed.update(op.index for op in self.queued.values())
        needed.update(op.index for op in self.held.values())
        needed.update(entry[0] for entry in self.gtts.values())
        needed |= self.risk.instrument_indices()
        self.in_use.publish_books(frozenset(needed))

    def _update_session_stats(self, ltp: npt.NDArray[np.int64]) -> None:
        data = self.data
        unopened = (data.day_open == 0) & (ltp > 0)
        data.day_open[unopened] = ltp[unopened]
        data.day_low[unopened] = ltp[unopened]
        np.maximum(data.day_high, ltp, out=data.day_high)
        priced = ltp > 0
        data.day_low[priced] = np.minimum(data.day_low[priced], ltp[priced])

    # -- resting orders ---------------------------------------------------------------------

    def _books(self, index: int) -> InstrumentBooks:
        books = self.books.get(index)
        if books is None:
            books = self.books[index] = InstrumentBooks()
        return books

    def _rest(self, op: RestOrder) -> None:
        key = (op.account_id, op.order_id)
        self._forget(op.account_id, op.order_id)
        entry = _Resting(
            op.index,
            op.side,
            op.quantity,
            op.limit_paise,
            op.trigger_paise,
            op.triggered,
            op.version,
        )
        snapshot = self.data.snapshot
        ltp = int(snapshot.ltp[op.index])
        if op.trigger_paise and not op.triggered:
            crossed = ltp > 0 and (
                ltp >= op.trigger_paise if op.side > 0 else ltp <= op.trigger_paise
            )
            if crossed:
                self._send_trigger(op.account_id, op.order_id, op.version)
                return
            self.resting[key] = entry
            book = self._books(op.index)
            (book.buy_stops if op.side > 0 else book.sell_stops).add(key, op.trigger_paise)
            return
        if self._marketable(entry, snapshot):
            self._take(op.account_id, op.order_id, entry)
        self._rest_unfilled(op.account_id, op.order_id, entry, ioc=op.ioc)

    @staticmethod
    def _marketable(entry: _Resting, snapshot: MarketSnapshot) -> bool:
        """Whether a limit order can fill now: the touch it takes from is within its limit."""
        if entry.side > 0:
            ask = int(snapshot.ask[entry.index])
            return 0 < ask <= entry.limit_paise
        bid = int(snapshot.bid[entry.index])
        return bid > 0 and bid >= entry.limit_paise

    def _rest_unfilled(self, account_id: str, order_id: str, entry: _Resting, *, ioc: bool) -> None:
        """What an order did not fill at once rests at its limit, or is cancelled for IOC."""
        if not entry.quantity:
            return
        if ioc:
            self.dispatch(account_id, cmd.CancelOrderRequest(order_id, CancelReason.IOC))
            return
        key = (account_id, order_id)
        self.resting[key] = entry
        book = self._books(entry.index)
        (book.buy_limits if entry.side > 0 else book.sell_limits).add(key, entry.limit_paise)

    def _take(self, account_id: str, order_id: str, entry: _Resting) -> None:
        """Fill what the displayed book holds within the entry's limit, one trade per level,
        and leave the entry with what it did not fill."""
        trades = self.depth.take(entry.index, entry.side, entry.quantity, entry.limit_paise)
        for trade in trades:
            entry.quantity -= trade.quantity
            self._send_fill(account_id, order_id, entry, trade)

    def _forget(self, account_id: str, order_id: str) -> None:
        key = (account_id, order_id)
        self.queued.pop(key, None)
        self.held.pop(key, None)
        entry = self.resting.pop(key, None)
        if entry is None:
            return
        books = self.books[entry.index]
        for book in (books.buy_limits, books.sell_limits, books.buy_stops, books.sell_stops):
            if book.remove(key):
                return

    def _match(self, index: int, books: InstrumentBooks, snapshot: MarketSnapshot) -> None:
        ltp = int(snapshot.ltp[index])
        if ltp <= 0:
            return
        ask, bid = int(snapshot.ask[index]), int(snapshot.bid[index])
        if ask > 0:
            self._fill_crossed(books.buy_limits, books.buy_limits.at_or_above(ask))
        if bid > 0:
            self._fill_crossed(books.sell_limits, books.sell_limits.at_or_below(bid))
        for key in [*books.buy_stops.pop_at_or_below(ltp), *books.sell_stops.pop_at_or_above(ltp)]:
            account_id, order_id = self._split(key)
            entry = self.resting.pop((account_id, order_id))
            self._send_trigger(account_id, order_id, entry.version)
        for key in [
            *books.rising_exits.pop_at_or_below(ltp),
            *books.falling_exits.pop_at_or_above(ltp),
        ]:
            self._fire_exit(key, index)
        if books.rising_gtts or books.falling_gtts:
            for key in [
                *books.rising_gtts.pop_at_or_below(ltp),
                *books.falling_gtts.pop_at_or_above(ltp),
            ]:
                self._fire_gtt(key, index, ltp)

    @staticmethod
    def _split(key: Hashable) -> tuple[str, str]:
        assert isinstance(key, tuple)
        return key[0], key[1]

    def _fill_crossed(self, book: LevelBook, crossed: list[Hashable]) -> None:
        """Fill the limit orders the market has reached, best price first and by time at a
        price, each from what the book still shows within its limit. Once one is left
        unfilled the book within its limit is empty, and the ones after it (no better
        limits) would find nothing either."""
        for key in crossed:
            account_id, order_id = self._split(key)
            entry = self.resting[account_id, order_id]
            self._take(account_id, order_id, entry)
            if entry.quantity:
                return
            book.remove(key)
            del self.resting[account_id, order_id]

    def _send_trigger(self, account_id: str, order_id: str, version: int) -> None:
        self.dispatch(account_id, cmd.TriggerOrderRequest(order_id, version))

    def _send_fill(self, account_id: str, order_id: str, entry: _Resting, trade: Trade) -> None:
        index = entry.index
        self.data.volume[index] += trade.quantity
        self.dispatch(
            account_id,
            cmd.FillOrderRequest(
                order_id=order_id,
                instrument=self.data.master.at(index),
                quantity=trade.quantity,
                price_paise=trade.price_paise,
                order_version=entry.version,
                at_market=entry.at_market,
            ),
        )

    # -- after-market orders ----------------------------------------------------------------

    def _hold(self, op: RestOrder | ExecuteMarket) -> bool:
        """Hold an after-market order until its session opens (docs/DOMAIN.md §3); False when
        it is live (its session has opened since it was placed and is open now)."""
        sessions = self.sessions
        if sessions is None:
            return False
        group = group_of(self.data.master.at(op.index))
        now = self.clock.now_ms()
        opens_ms = sessions.next_open_ms(group, op.placed_ms)
        if opens_ms is not None and opens_ms <= now:
            if sessions.is_open(group, now):
                return False
            opens_ms = sessions.next_open_ms(group, now)  # it opened and closed since
        self._forget(op.account_id, op.order_id)  # whatever an earlier version left behind
        self.held[(op.account_id, op.order_id)] = op
        due_ms = opens_ms if opens_ms is not None else now + MS_PER_DAY
        heapq.heappush(self.held_queue, (due_ms, next(self._seq), op))
        return True

    def _release_held(self, now: int) -> None:
        """At its session's open an after-market order reaches the books as a freshly placed
        order does, at this tick's prices (held again if the session is still closed)."""
        heap, held = self.held_queue, self.held
        while heap and heap[0][0] <= now:
            op = heapq.heappop(heap)[2]
            key = (op.account_id, op.order_id)
            if held.get(key) is not op:
                continue  # modified or cancelled since it was held
            del held[key]
            self._apply_op(op)

    # -- market orders ----------------------------------------------------------------------

    def _execute_market(self, op: ExecuteMarket) -> None:
        self._forget(op.account_id, op.order_id)  # whatever an earlier version left behind
        if op.due_ms <= self.clock.now_ms() and self._try_execute(op):
            return
        self.queued[(op.account_id, op.order_id)] = op
        heapq.heappush(self.market_queue, (op.due_ms, next(self._seq), op))

    def _try_execute(self, op: ExecuteMarket) -> bool:
        """Walk the book for a due MARKET order, no further than its protection price; what
        that leaves rests there as a limit (or is cancelled for IOC). False while the
        instrument has no price to walk from."""
        limit = self._protection_price(op.index, op.side)
        if limit <= 0:
            return False
        entry = _Resting(
            op.index, op.side, op.quantity, limit, 0, False, op.version, at_market=True
        )
        self._take(op.account_id, op.order_id, entry)
        self._rest_unfilled(op.account_id, op.order_id, entry, ioc=op.ioc)
        return True

    def _protection_price(self, index: int, side: int) -> int:
        """The furthest a MARKET order may fill: the touch moved by the market protection
        against the order, on the tick grid and inside the circuit band (0: no price)."""
        snapshot = self.data.snapshot
        tick = int(self.data.tick[index])
        touch = int(snapshot.ask[index] if side > 0 else snapshot.bid[index])
        if snapshot.ltp[index] <= 0 or touch <= 0:
            return 0
        low, high = band_around(touch, self.protection, tick)
        if side > 0:
            return min(high, int(snapshot.high[index]) or high)
        return max(low, int(snapshot.low[index]))

    def _execute_due(self, now: int) -> None:
        queue, queued = self.market_queue, self.queued
        waiting: list[tuple[int, int, ExecuteMarket]] = []
        while queue and queue[0][0] <= now:
            item = heapq.heappop(queue)
            op = item[2]
            key = (op.account_id, op.order_id)
            if queued.get(key) is not op:
                continue  # modified or cancelled since it was queued
            if self._try_execute(op):
                del queued[key]
            else:
                waiting.append(item)
        for item in waiting:
            heapq.heappush(queue, item)

    # -- position exits ---------------------------------------------------------------------

    def _set_exits(self, op: SetExits) -> None:
        key = (op.account_id, op.position_id)
        previous = self.exits.pop(key, None)
        if previous is not None:
            books = self.books[previous[0]]
            for kind in EXIT_KINDS:
                books.rising_exits.remove((*key, kind))
                books.falling_exits.remove((*key, kind))
        if op.quantity == 0 or (op.stop_loss_paise is None and op.target_paise is None):
            return
        self.exits[key] = (op.index, op.stop_loss_paise, op.target_paise)
        books = self._books(op.index)
        long = op.quantity > 0
        if op.stop_loss_paise is not None:
            (books.falling_exits if long else books.rising_exits).add(
                (*key, CloseReason.STOP_LOSS), op.stop_loss_paise
            )
        if op.target_paise is not None:
            (books.rising_exits if long else books.falling_exits).add(
                (*key, CloseReason.TARGET), op.target_paise
            )

    # -- GTT triggers -----------------------------------------------------------------------

    def _rest_gtt(self, op: RestGtt) -> None:
        """Put a GTT's legs in the books (a version already reached fires at once, as an SL
        crossed when it rests does)."""
        key = (op.account_id, op.gtt_id)
        previous = self.gtts.get(key)
        self._forget_gtt(op.account_id, op.gtt_id)
        ltp = int(self.data.snapshot.ltp[op.index])
        if ltp > 0:
            for leg, rises in ((op.rising, True), (op.falling, False)):
                if leg is not None and (ltp >= leg[1] if rises else ltp <= leg[1]):
                    self._send_gtt_trigger(op.account_id, op.gtt_id, leg[0], ltp, op.version)
                    return
        self.gtts[key] = (op.index, op.version, op.expires_ms)
        books = self._books(op.index)
        if op.rising is not None:
            books.rising_gtts.add((*key, op.rising[0]), op.rising[1])
        if op.falling is not None:
            books.falling_gtts.add((*key, op.falling[0]), op.falling[1])
        if previous is None or previous[2] != op.expires_ms:
            heapq.heappush(self.gtt_expiries, (op.expires_ms, *key))
        if len(self.gtt_expiries) > 2 * len(self.gtts) + GTT_EXPIRIES_SLACK:
            self.gtt_expiries = [(e[2], *k) for k, e in self.gtts.items()]
            heapq.heapify(self.gtt_expiries)

    def _forget_gtt(self, account_id: str, gtt_id: str) -> None:
        entry = self.gtts.pop((account_id, gtt_id), None)
        if entry is None:
            return
        books = self.books[entry[0]]
        for leg in (0, 1):
            books.rising_gtts.remove((account_id, gtt_id, leg))
            books.falling_gtts.remove((account_id, gtt_id, leg))

    def _fire_gtt(self, key: Hashable, index: int, ltp: int) -> None:
        """A GTT leg the price reached: the GTT leaves the books whole (a two-leg GTT's other
        leg with it) and its account places the leg's order."""
        assert isinstance(key, tuple)
        account_id, gtt_id, leg = key
        entry = self.gtts.get((account_id, gtt_id))
        if entry is None:
            return
        self._forget_gtt(account_id, gtt_id)
        self._send_gtt_trigger(account_id, gtt_id, leg, ltp, entry[1])

    def _send_gtt_trigger(
        self, account_id: str, gtt_id: str, leg: int, ltp: int, version: int
    ) -> None:
        self.dispatch(account_id, cmd.TriggerGttRequest(gtt_id, leg, ltp, version))

    def _expire_gtts(self, now: int) -> None:
        """Tell the accounts of the GTTs whose life ran out (each checked against its version:
        a GTT modified or ended since has no live entry)."""
        heap = self.gtt_expiries
        while heap and heap[0][0] <= now:
            expires_ms, account_id, gtt_id = heapq.heappop(heap)
            entry = self.gtts.get((account_id, gtt_id))
            if entry is None or entry[2] != expires_ms:
                continue
            self._forget_gtt(account_id, gtt_id)
            self.dispatch(account_id, cmd.EndGttRequest(gtt_id, GttStatus.EXPIRED.value, entry[1]))

    def _fire_exit(self, key: Hashable, index: int) -> None:
        assert isinstance(key, tuple)
        account_id, position_id, kind = key  # the exit's kind is the close's reason
        levels = self.exits.pop((account_id, position_id), None)
        if levels is None:
            return
        books = self.books[index]
        stop_loss = kind is CloseReason.STOP_LOSS
        other = (
            account_id,
            position_id,
            CloseReason.TARGET if stop_loss else CloseReason.STOP_LOSS,
        )
        books.rising_exits.remove(other)
        books.falling_exits.remove(other)
        level = levels[1] if stop_loss else levels[2]
        self.dispatch(
            account_id, cmd.ClosePositionRequest(position_id, kind, trigger_level_paise=level)
        )
