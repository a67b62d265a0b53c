"""The account actor: a thin shell that runs the pure account state machine.

For each request it stamps the command with the clock, the current quote and any market price
the decision needs, runs ``decide``, applies the events and hands them to the sink. What others
learn of them (the market actor's book changes, the websocket's updates) is worked out in the
same turn, from the state the events left, but released only once the sink says the batch is
durable, just before the reply: a client never sees on its websocket, nor the market fill, a
write its HTTP call then answers 503 (a batch that fails releases nothing).
The same behaviour runs on either actor runtime (see ``engine.actors.actor_pool.actor_class_for``).

Settlement (docs/DOMAIN.md §6): CNC buys of an earlier trade day (IST) become holdings before the
account does anything on a later one. The first command or read of a new day runs
``SettleHoldings`` first, as its own journaled batch, so a sell the next morning is charged as
a delivery sell and the holdings show without any timer having to reach every account.

Portfolio margin (docs/DOMAIN.md §2): every command that can change a futures or options
portfolio is stamped with its underlying's market (``engine.market.margin_inputs``). The first
command or read of a trade day, or the engine's :class:`RevalueMargins` (at the day's first
tick: the expiry-day extra ELM starts then), whichever comes first, recomputes every portfolio
the account holds at the prices then, as its own journaled batch.

Market hours (when enforced): a :class:`SessionEvent` squares off the account's MIS orders and
positions, or expires its DAY orders, in one session group (``engine.domain.sessions``).
Contracts reaching their expiry instant (whether hours are enforced or not): a
:class:`ExpiryEvent` cancels the account's working orders in them (``CONTRACT_EXPIRED``) and
settles its positions in them at their settlement values: in cash, or for stock futures and
options by delivery of their shares into or out of the holdings
(``engine.domain.account.delivery``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import pykka

from engine.actors.book_ops import exit_op, gtt_op, working_op
from engine.actors.clock import Clock
from engine.actors.locator import AccountLocator
from engine.actors.refusals import RefusedExecutions
from engine.actors.sink import EventBatch, EventSink
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.basket import BasketMargins, basket_margins
from engine.domain.account.decide import Requirements, decide, preview_order
from engine.domain.account.delivery import deliverable_ticker
from engine.domain.account.margin_call import counted, marked_to_market
from engine.domain.account.state import AccountState, Shortfall, check_funds_identity
from engine.domain.enums import (
    CancelReason,
    CloseReason,
    PriceSource,
    Product,
    Rejection,
    Validity,
)
from engine.domain.gtt import Gtt, GttStatus
from engine.domain.instruments import Instrument, InstrumentMaster, UnderlyingKind
from engine.domain.orders import Order
from engine.domain.portfolio import UnderlyingMarket, is_derivative, portfolio_of
from engine.domain.positions import Position
from engine.domain.quote import Quote
from engine.domain.rules import AccountRules
from engine.domain.sessions import Boundary, SessionGroup, group_of, waits_for_open
from engine.market.margin_inputs import underlying_market
from engine.market.market_data import MarketData
from engine.market.messages import (
    BookOp,
    BookOps,
    ForgetGtt,
    ForgetOrder,
    MirrorPosition,
    SetExits,
)

logger = logging.getLogger(__name__)


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """The answer to an account request: the events it caused, or why it was refused.

    ``unavailable`` means the request was not accepted because durability is impaired.
    ``order`` is, for an accepted modification or cancellation, the order as the command left
    it (a cancelled order as it was when cancelled), and for a ``DUPLICATE`` new order the
    original while it works (``original_order_id`` names it either way). ``position`` is, for
    a close, the position as it was before. ``shortfall`` is what an ``INSUFFICIENT_FUNDS``
    was decided on. ``first_seq`` is the account sequence number of the first event, and
    ``balance_paise`` the balance right after the events. Replies are built from these, never
    re-read; each is a copy (the actor's own objects are never shared).
    """

    rejection: Rejection | None
    events: tuple[ev.AccountEvent, ...] = ()
    unavailable: bool = False
    order: Order | None = None
    position: Position | None = None
    shortfall: Shortfall | None = None
    original_order_id: str | None = None
    first_seq: int = 0
    balance_paise: int = 0
    # A GTT command's GTT as the command left it (an ended one with its final status), and
    # a GTT's refusal's field at fault (``orders[1].quantity``).
    gtt: Gtt | None = None
    refused_field: str = ""


Reply = Callable[[Any], None]
Release = Callable[[], None]
# Builds, inside the account's turn, what watchers are told of applied events, and returns the
# telling of it, which runs once the events are durable (None: nothing to tell).
Publisher = Callable[[str, tuple[ev.AccountEvent, ...], AccountState], Release | None]


def _subject_order(state: AccountState, command: cmd.AccountCommand) -> Order | None:
    """The working order a modification or cancellation acts on (before it is applied)."""
    if isinstance(command, cmd.ModifyOrder | cmd.CancelOrder):
        return state.orders.get(command.order_id)
    return None


_GTT_COMMANDS = (cmd.PlaceGtt, cmd.ModifyGtt, cmd.DeleteGtt, cmd.TriggerGtt, cmd.EndGtt)
# How each event that ends a GTT leaves it.
_GTT_ENDS: dict[type, Callable[[Any], GttStatus]] = {
    ev.GttDeleted: lambda e: GttStatus.CANCELLED,
    ev.GttExpired: lambda e: GttStatus(e.status),
    ev.GttTriggered: lambda e: GttStatus.REJECTED if e.rejection else GttStatus.TRIGGERED,
}


def _subject_gtt(state: AccountState, command: cmd.AccountCommand) -> Gtt | None:
    """A copy of the GTT a GTT command acts on, as it is before the command."""
    if not isinstance(command, _GTT_COMMANDS):
        return None
    gtt = state.gtts.get(command.gtt_id)
    return None if gtt is None else msgspec.structs.replace(gtt)


def gtt_after(
    state: AccountState, before: Gtt | None, events: tuple[ev.AccountEvent, ...]
) -> Gtt | None:
    """The GTT a command's ``events`` (just applied to ``state``) left: active, a copy of the
    actor's; ended, ``before`` with the status it ended in."""
    for event in events:
        if isinstance(event, ev.GttPlaced | ev.GttModified):
            return msgspec.structs.replace(state.gtts[event.gtt_id])
        end = _GTT_ENDS.get(type(event))
        if end is not None and before is not None:
            at_ms = event.at_ms
            return msgspec.structs.replace(before, status=end(event), updated_ms=at_ms)
    return None


def _subject_position(state: AccountState, close: cmd.ClosePosition) -> Position | None:
    """A copy of the position a close acts on, as it is before the close."""
    position = state.positions.get(close.position_id)
    return None if position is None else msgspec.structs.replace(position)


class Submit(msgspec.Struct, frozen=True, gc=False):
    """A request for the account; ``reply`` None for what the market or a session did."""

    request: cmd.AccountRequest
    reply: Reply | None = None


class Inspect(msgspec.Struct, frozen=True, gc=False):
    """Run ``fn`` on the account's state inside the actor; ``fn`` must return copies."""

    fn: Callable[[AccountState], Any]
    reply: Reply


class PreviewOrder(msgspec.Struct, frozen=True, gc=False):
    """Value a new order as placing it would, placing nothing; ``reply`` gets a
    :class:`Preview`."""

    request: cmd.PlaceOrderRequest
    reply: Reply


class Preview(NamedTuple):
    """What an order would block and cost, the funds available to it, and the quote it was
    valued on."""

    requirements: Requirements
    available_paise: int
    quote: Quote | None


class PreviewBasket(msgspec.Struct, frozen=True, gc=False):
    """Value a basket of new orders, each alone and all together, placing nothing; ``reply``
    gets a :class:`BasketPreview`."""

    requests: tuple[cmd.PlaceOrderRequest, ...]
    reply: Reply


class BasketPreview(NamedTuple):
    """A basket's margins and the funds available to it."""

    margins: BasketMargins
    available_paise: int


class Passivate(msgspec.Struct, frozen=True, gc=False):
    """Stop this actor if it is still idle; its state stays with the registry."""


class ExpiryEvent(msgspec.Struct, frozen=True, gc=False):
    """Contracts reached their expiry instant (``engine.domain.calendar``)."""

    instrument_ids: frozenset[str]
    at_ms: int  # the expiry instant: only orders placed and positions opened before it
    settlement_paise: dict[str, int]  # each contract's settlement value a unit, where known


class RevalueMargins(msgspec.Struct, frozen=True, gc=False):
    """Recompute the account's portfolio margins at the market's prices now (a trade day
    began, or the server restarted)."""


class SessionEvent(msgspec.Struct, frozen=True, gc=False):
    """A session boundary passed for a group of instruments (``engine.domain.sessions``)."""

    group: SessionGroup
    boundary: Boundary
    at_ms: int  # when it happened: only what is older is acted on


@dataclass(frozen=True, slots=True)
class AccountContext:
    """What every account actor shares: rules, market, sink, clock and outbound channels."""

    rules: AccountRules
    master: InstrumentMaster
    market: MarketData
    market_ref: pykka.ActorRef[Any]
    sink: EventSink
    clock: Clock
    market_fill_delay_ms: int
    publish: Publisher
    locator: AccountLocator
    new_id: Callable[[], str]  # a fresh id (a close's exit order)
    retire_if_idle: Callable[[str, Any], bool]
    refused_executions: RefusedExecutions


def _no_reply(_: Any) -> None:
    return None


# A request's fields in order: its command takes them first, the stamps after them.
_fields = msgspec.structs.astuple


class AccountBehaviour:
    """Handlers of one trading account (combined with a pykka runtime at start)."""

    def __init__(self, state: AccountState, context: AccountContext) -> None:
        super().__init__()
        self.state = state
        self.context = context
        self._settled_day = -1  # the trade day whose settlement this actor has done
        self._revalued_day = -1  # the trade day whose first margin revaluation it has made

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Submit:
            self._handle(message.request, message.reply)
        elif kind is Inspect:
            message.reply(self._read(message.fn))
        elif kind is PreviewOrder:
            request = message.request
            message.reply(self._read(lambda state: self._preview(request, state)))
        elif kind is PreviewBasket:
            requests = message.requests
            message.reply(self._read(lambda state: self._preview_basket(requests, state)))
        elif kind is SessionEvent:
            self._on_session(message)
        elif kind is ExpiryEvent:
            self._on_expiry(message)
        elif kind is RevalueMargins:
            self._revalue_margins(self.context.clock.now_ms())
        elif kind is Passivate:
            if self.context.retire_if_idle(self.state.account_id, self):
                self.actor_ref.stop(block=False)  # type: ignore[attr-defined]
        else:
            logger.warning("account %s: unexpected message %r", self.state.account_id, message)
        return None

    def _handle(self, request: cmd.AccountRequest, reply: Reply | None) -> None:
        context = self.context
        if reply is None:
            # What the market did (fills, triggers, exits) is not a new write to refuse: the
            # market has already taken it off its books, so it is applied and journaled late.
            reply = _no_reply
        elif not context.sink.accepting() or context.sink.quarantined(self.state.account_id):
            reply(Outcome(rejection=None, unavailable=True))
            return
        now_ms = context.clock.now_ms()
        day_started = self._settle_if_due(now_ms) and self._revalue_if_due(now_ms)
        if not day_started and reply is not _no_reply:
            reply(Outcome(rejection=None, unavailable=True))  # settling it broke an invariant
            return
        stamped = self._stamp(request, now_ms)
        if isinstance(stamped, Rejection):
            reply(Outcome(rejection=stamped))
            return
        state = self.state
        try:
            decision = decide(state, stamped, context.rules)
        except Exception:
            logger.exception("account %s: decide failed for %r", state.account_id, stamped)
            reply(Outcome(rejection=None, unavailable=True))
            return
        events = decision.events
        if not events:
            if decision.rejection is not None and isinstance(
                stamped, cmd.FillOrder | cmd.TriggerOrder | cmd.TriggerGtt | cmd.EndGtt
            ):
                self._refused_execution(stamped, decision.rejection)
            original = state.orders.get(decision.original_order_id or "")
            reply(
                Outcome(
                    rejection=decision.rejection,
                    order=None if original is None else msgspec.structs.replace(original),
                    shortfall=decision.shortfall,
                    original_order_id=decision.original_order_id,
                    refused_field=decision.refused_field,
                )
            )
            return
        subject = _subject_order(state, stamped)
        gtt_before = _subject_gtt(state, stamped)
        position = _subject_position(state, stamped) if type(stamped) is cmd.ClosePosition else None
        applied = self._apply(events)
        if applied is None:
            reply(Outcome(rejection=None, unavailable=True))
            return
        first_seq, release = applied
        if subject is not None and subject.order_id in state.orders:
            subject = msgspec.structs.replace(subject)  # still working: the actor's own copy
        outcome = Outcome(
            rejection=decision.rejection,
            events=events,
            order=subject,
            position=position,
            shortfall=decision.shortfall,
            first_seq=first_seq,
            balance_paise=state.balance_paise,
            gtt=gtt_after(state, gtt_before, events),
        )

        def on_durable(ok: bool) -> None:
            if ok:
                release()
            reply(outcome if ok else msgspec.structs.replace(outcome, unavailable=True))

        context.sink.submit(EventBatch(state.account_id, first_seq, events), on_durable)
        if state.margin_called:
            # A deposit, a close or a cut may have met the call: check now, not at the next
            # pass (which skips an account left without positions).
            self._revalue_margins(now_ms)

    def _read(self, fn: Callable[[AccountState], Any]) -> Any:
        """``fn`` of the account's state, settled first if writes are accepted; the exception
        if it raised (a bad query must not take the account down)."""
        if self.context.sink.accepting():
            now_ms = self.context.clock.now_ms()
            if self._settle_if_due(now_ms):
                self._revalue_if_due(now_ms)
        try:
            return fn(self.state)
        except Exception as error:
            logger.exception("account %s: read failed", self.state.account_id)
            return error

    def _preview(self, request: cmd.PlaceOrderRequest, state: AccountState) -> Preview:
        context = self.context
        stamped = self._stamp_order(request, context.clock.now_ms(), counted=False)
        requirements = preview_order(state, stamped, context.rules)
        return Preview(requirements, state.available_paise, stamped.quote)

    def _preview_basket(
        self, requests: tuple[cmd.PlaceOrderRequest, ...], state: AccountState
    ) -> BasketPreview:
        context = self.context
        now_ms = context.clock.now_ms()  # one moment for the whole basket
        stamped = [self._stamp_order(request, now_ms, counted=False) for request in requests]
        margins = basket_margins(state, stamped, context.rules)
        return BasketPreview(margins, state.available_paise)

    def _refused_execution(
        self,
        command: cmd.FillOrder | cmd.TriggerOrder | cmd.TriggerGtt | cmd.EndGtt,
        reason: Rejection,
    ) -> None:
        """Log and count a fill or trigger the order's (or GTT's) current terms refuse. A
        stale one, or one for an order or GTT gone meanwhile, is an expected race; the others
        point at a bug."""
        kind = type(command).__name__
        self.context.refused_executions.count(kind, reason)
        expected = reason in (
            Rejection.STALE_EXECUTION,
            Rejection.ORDER_NOT_OPEN,
            Rejection.GTT_NOT_ACTIVE,
        )
        if isinstance(command, cmd.TriggerGtt | cmd.EndGtt):
            subject, version = f"GTT {command.gtt_id}", command.gtt_version or 0
        else:
            subject, version = f"order {command.order_id}", command.order_version
        logger.log(
            logging.INFO if expected else logging.WARNING,
            "account %s: %s of %s (version %d) refused: %s",
            self.state.account_id,
            kind,
            subject,
            version,
            reason,
        )

    def _on_session(self, event: SessionEvent) -> None:
        """At square-off: cancel the group's pending MIS orders and close its MIS positions at
        market (each close pays the square-off fee); at close: cancel its pending DAY orders.
        Like fills, these are what the market did: applied even while writes are refused."""
        state, master = self.state, self.context.master

        def in_group(instrument_id: str) -> bool:
            instrument = master.get(instrument_id)
            return instrument is not None and group_of(instrument) is event.group

        # Only what is older than the boundary: a boundary reported again changes nothing.
        older = event.at_ms
        if event.boundary is Boundary.SQUARE_OFF:
            reason = CancelReason.SQUARE_OFF
            orders = [o for o in state.orders.values() if o.product is Product.MIS]
            positions = [
                p
                for p in state.positions.values()
                if p.product is Product.MIS and p.opened_ms < older and in_group(p.instrument_id)
            ]
        else:
            reason = CancelReason.EXPIRED
            orders = [o for o in state.orders.values() if o.validity is Validity.DAY]
            positions = []
        for order in orders:
            if order.created_ms < older and in_group(order.instrument_id):
                if self._waited_through(order, older):
                    continue
                self._handle(cmd.CancelOrderRequest(order.order_id, reason), None)
        for position in positions:
            close = cmd.ClosePositionRequest(position.position_id, CloseReason.SQUARE_OFF)
            self._handle(close, None)

    def _waited_through(self, order: Order, at_ms: int) -> bool:
        """Whether an after-market order was still waiting for its session's open at
        ``at_ms``: an MIS one placed after the square-off outlives that day's close."""
        if not order.after_market:
            return False
        instrument = self.context.master.get(order.instrument_id)
        sessions = self.context.rules.sessions
        return instrument is not None and waits_for_open(
            sessions, instrument, order.created_ms, at_ms
        )

    def _on_expiry(self, event: ExpiryEvent) -> None:
        """Cancel the working orders in contracts that have expired and settle the positions
        in them (placed or opened before their expiry instant, and a settled position is
        closed: a report repeated after a restart changes nothing). A contract without a
        settlement value (nothing priced its underlying) keeps its positions until one comes.
        Like fills, what the market did: applied even while writes are refused."""
        state = self.state
        for order in list(state.orders.values()):
            if order.instrument_id in event.instrument_ids and order.created_ms < event.at_ms:
                cancel = cmd.CancelOrderRequest(order.order_id, CancelReason.CONTRACT_EXPIRED)
                self._handle(cancel, None)
        for position in list(state.positions.values()):
            value = event.settlement_paise.get(position.instrument_id)
            if value is not None and position.quantity and position.opened_ms < event.at_ms:
                self._handle(cmd.ExpirePositionRequest(position.position_id, value), None)
        for gtt in list(state.gtts.values()):
            if gtt.instrument_id in event.instrument_ids and gtt.created_ms < event.at_ms:
                disable = cmd.EndGttRequest(gtt.gtt_id, GttStatus.DISABLED.value)
                self._handle(disable, None)

    def _apply(self, events: tuple[ev.AccountEvent, ...]) -> tuple[int, Release] | None:
        """Apply decided ``events``; return the first's seq and what tells the market and the
        watchers of them, to run once they are durable.

        The funds identity is checked after every batch. If it breaks, or applying fails, the
        state in memory is one no journal replay could give: nothing is submitted, the sink
        quarantines the account (its writes are refused until a restart recovers it from the
        journal) and None is returned.
        """
        state, context = self.state, self.context
        first_seq = state.seq + 1
        try:
            apply_all(state, events)
            check_funds_identity(state)
        except Exception:
            logger.critical(
                "account %s: applying %r broke it; quarantined until a restart recovers it",
                state.account_id,
                events,
                exc_info=True,
            )
            context.sink.quarantine(state.account_id)
            return None
        context.locator.track(state, events)
        ops = self._book_ops(events)
        account_id = state.account_id
        try:
            deliver = context.publish(account_id, events, state)
        except Exception:
            logger.exception("account %s: building updates failed", account_id)
            deliver = None
        market_ref = context.market_ref

        def release() -> None:
            if ops:
                # A stopped market means the engine is stopping: the next start rebuilds its
                # books from the accounts (``resume_ops``).
                with contextlib.suppress(pykka.ActorDeadError):
                    market_ref.tell(BookOps(ops))
            if deliver is not None:
                try:
                    deliver()
                except Exception:
                    logger.exception("account %s: publishing updates failed", account_id)

        return first_seq, release

    def _settle_if_due(self, now_ms: int) -> bool:
        """Turn CNC longs bought on an earlier trade day into holdings (see the module doc);
        False if that broke the account (it is quarantined)."""
        state, rules = self.state, self.context.rules
        today = rules.trade_day(now_ms)
        if today == self._settled_day:
            return True  # checked today already: every position since then opened today
        self._settled_day = today
        due = any(
            p.product is Product.CNC and p.quantity > 0 and rules.trade_day(p.opened_ms) < today
            for p in state.positions.values()
        )
        if not due:
            return True
        # Every CNC long is from an earlier day here: today's first command or read settles
        # before anything else, so none of today's buys can have joined them yet.
        return self._journal_own(decide(state, cmd.SettleHoldings(now_ms=now_ms), rules).events)

    def _revalue_if_due(self, now_ms: int) -> bool:
        """Recompute the portfolio margins once at the start of each trade day (see the module
        doc); False if that broke the account (it is quarantined)."""
        today = self.context.rules.trade_day(now_ms)
        if today == self._revalued_day:
            return True
        self._revalued_day = today
        return self._revalue_margins(now_ms)

    def _revalue_margins(self, now_ms: int) -> bool:
        """Settle the futures held into a new trade day, then recompute every portfolio the
        account holds at the market now and check its margin (a margin call, a liquidation),
        journaling what changed; False if applying it broke the account (it is quarantined)."""
        if not self._settle_futures_if_due(now_ms):
            return False
        by_underlying: dict[str, list[Instrument]] = {}
        marks: list[cmd.PositionMark] = []
        for position in self.state.positions.values():
            instrument = self.context.master.get(position.instrument_id)
            if instrument is None:
                continue
            marks.append(self._mark(position, instrument))
            if is_derivative(instrument):
                by_underlying.setdefault(portfolio_of(instrument), []).append(instrument)
        for name in self.state.portfolio_margin:
            by_underlying.setdefault(name, [])
        if not marks and not by_underlying and not self.state.margin_called:
            return True  # nothing held and nothing to lift
        markets = tuple(
            self._market_of(name, contracts) for name, contracts in sorted(by_underlying.items())
        )
        command = cmd.RevalueMargin(now_ms=now_ms, markets=markets, marks=tuple(marks))
        return self._decide_own(command)

    def _settle_futures_if_due(self, now_ms: int) -> bool:
        """Settle the futures held from before today at yesterday's closes, once the market has
        rolled into today (docs/DOMAIN.md §2); False if that broke the account."""
        rules, market = self.context.rules, self.context.market
        today = rules.trade_day(now_ms)
        if self.state.futures_settled_day >= today or market.closed_day != today:
            return True
        closes: list[tuple[str, int]] = []
        for position in self.state.positions.values():
            index = self.context.master.index_of(position.instrument_id)
            instrument = self.context.master.get(position.instrument_id)
            if index is None or instrument is None or not instrument.is_future:
                continue
            if rules.trade_day(position.opened_ms) < today:
                closes.append((position.position_id, int(market.previous_close[index])))
        if not closes:
            return True
        return self._decide_own(cmd.SettleFutures(now_ms=now_ms, closes=tuple(closes)))

    def _decide_own(self, command: cmd.AccountCommand) -> bool:
        """Decide and journal one of the account's own commands; False if applying it broke
        the account (it is quarantined). A decision that raises changes nothing (logged)."""
        try:
            events = decide(self.state, command, self.context.rules).events
        except Exception:
            logger.exception("account %s: decide failed for %r", self.state.account_id, command)
            return True
        return self._journal_own(events)

    def _mark(self, position: Position, instrument: Instrument) -> cmd.PositionMark:
        """A position's last price, and where closing it at market would fill now."""
        index = self._index(instrument)
        ltp = int(self.context.market.snapshot.ltp[index])
        side = -1 if position.quantity > 0 else 1
        priced = self._exit_price(
            instrument, side, abs(position.quantity), position.average_price_paise(), count=False
        )
        if priced is None:
            return cmd.PositionMark(position.position_id, instrument, ltp, 0)
        return cmd.PositionMark(position.position_id, instrument, ltp, priced[0], priced[1])

    def _mtm_paise(self) -> int:
        """The account's mark-to-market now, as it counts in available funds."""
        return counted(self._unrealised_paise(), self.context.rules.risk)

    def _unrealised_paise(self, besides: str | None = None) -> int:
        """The unrealised P&L of the marked-to-market positions at the last prices (all of
        it, profit too), leaving out position ``besides``."""
        master, ltp = self.context.master, self.context.market.snapshot.ltp
        unrealised = 0
        for position in self.state.positions.values():
            if position.position_id == besides:
                continue
            instrument = master.get(position.instrument_id)
            if instrument is None or not marked_to_market(instrument, position.product):
                continue
            index = master.index_of(position.instrument_id)
            if index is not None and ltp[index] > 0:
                unrealised += position.unrealized_pnl_paise(int(ltp[index]))
        return unrealised

    def _journal_own(self, events: tuple[ev.AccountEvent, ...]) -> bool:
        """Apply and journal what the account decided of its own (no one waits for it); False
        if applying broke the account (it is quarantined)."""
        if not events:
            return True
        applied = self._apply(events)
        if applied is None:
            return False
        first_seq, release = applied

        def on_durable(ok: bool) -> None:
            if ok:
                release()

        self.context.sink.submit(EventBatch(self.state.account_id, first_seq, events), on_durable)
        return True

    # -- stamping: what the pure decision needs from the outside world ---------------------

    def _stamp_order(
        self, request: cmd.PlaceOrderRequest, now_ms: int, *, counted: bool
    ) -> cmd.PlaceOrder:
        """A new order stamped with the instrument's quote, an option's underlying price and
        the price tier that values it (``counted`` in the metrics unless it is a preview)."""
        index = self._index(request.instrument)
        quote = self.context.market.quote(index)
        return cmd.PlaceOrder(
            *_fields(request),
            now_ms=now_ms,
            quote=quote,
            market=self._market_for(request.instrument),
            mtm_paise=self._mtm_paise(),
            price_source=self._resolve(index, quote is not None, request, counted),
        )

    def _stamp(self, request: cmd.AccountRequest, now_ms: int) -> cmd.AccountCommand | Rejection:
        """The command ``request`` asks for, stamped with what the decision needs from outside
        the account now; or why it cannot be."""
        context, state = self.context, self.state
        market = context.market
        if isinstance(request, cmd.PlaceOrderRequest):
            return self._stamp_order(request, now_ms, counted=True)
        if isinstance(request, cmd.ModifyOrderRequest):
            order = state.orders.get(request.order_id)
            if order is None:
                return Rejection.ORDER_NOT_OPEN
            instrument = context.master.get(order.instrument_id)
            if instrument is None:
                return Rejection.PRICE_UNAVAILABLE  # it has left the master since it was placed
            return cmd.ModifyOrder(
                *_fields(request),
                now_ms=now_ms,
                instrument=instrument,
                quote=market.quote(self._index(instrument)),
                market=self._market_for(instrument),
                mtm_paise=self._mtm_paise(),
            )
        if isinstance(request, cmd.FillOrderRequest):
            return self._stamp_fill(request, now_ms)
        if isinstance(request, cmd.ClosePositionRequest):
            held = self._held_position(request.position_id)
            if isinstance(held, Rejection):
                return held
            position, instrument = held
            priced = self._exit_price(
                instrument,
                -1 if position.quantity > 0 else 1,
                abs(position.quantity),
                position.average_price_paise(),
            )
            if priced is None:
                return Rejection.PRICE_UNAVAILABLE
            return cmd.ClosePosition(
                *_fields(request),
                now_ms=now_ms,
                exit_order_id=context.new_id(),
                instrument=instrument,
                price_paise=priced[0],
                price_source=priced[1],
                market=self._market_for(instrument),
            )
        if isinstance(request, cmd.ExpirePositionRequest):
            held = self._held_position(request.position_id)
            if isinstance(held, Rejection):
                return held
            return cmd.ExpirePosition(
                *_fields(request),
                now_ms=now_ms,
                exit_order_id=context.new_id(),
                instrument=held[1],
                deliverable=self._deliverable(held[1]),
                market=self._market_for(held[1]),
            )
        if isinstance(request, cmd.ConvertPositionRequest):
            held = self._held_position(request.position_id)
            if isinstance(held, Rejection):
                return held
            return cmd.ConvertPosition(
                *_fields(request),
                now_ms=now_ms,
                instrument=held[1],
                market=self._market_for(held[1]),
            )
        if isinstance(request, cmd.SetRiskLevelsRequest):
            held = self._held_position(request.position_id)
            if isinstance(held, Rejection):
                return held
            tick = held[1].tick_paise
            return cmd.SetRiskLevels(*_fields(request), now_ms=now_ms, tick_paise=tick)
        if isinstance(request, cmd.PlaceGttRequest | cmd.ModifyGttRequest | cmd.TriggerGttRequest):
            return self._stamp_gtt(request, now_ms)
        if isinstance(request, cmd.ResetAccountRequest):
            exits = self._reset_exits()
            if exits is None:
                return Rejection.PRICE_UNAVAILABLE
            return cmd.ResetAccount(*_fields(request), now_ms=now_ms, exits=exits)
        return cmd.STAMPED_WITH_TIME[type(request)](*_fields(request), now_ms=now_ms)

    def _stamp_fill(self, request: cmd.FillOrderRequest, now_ms: int) -> cmd.FillOrder:
        """A fill stamped with the underlying's market; one that completes a leg of an iceberg
        with legs to come, also as the next leg's new order is (docs/DOMAIN.md §3)."""
        order = self.state.orders.get(request.order_id)
        if (
            order is None
            or order.iceberg is None
            or order.iceberg.leg >= order.iceberg.legs
            or request.quantity != order.remaining_quantity
        ):
            market = self._market_for(request.instrument)
            return cmd.FillOrder(*_fields(request), now_ms=now_ms, market=market)
        leg = cmd.next_iceberg_leg(order, self.context.new_id(), request.instrument)
        assert leg is not None  # a leg with legs after it
        stamped = self._stamp_order(leg, now_ms, counted=True)
        booked = self.state.position_for(order.instrument_id, order.product)
        return cmd.FillOrder(
            *_fields(request),
            now_ms=now_ms,
            market=stamped.market,
            next_leg_order_id=leg.order_id,
            quote=stamped.quote,
            others_unrealised_paise=self._unrealised_paise(
                None if booked is None else booked.position_id
            ),
            price_source=stamped.price_source,
        )

    def _stamp_gtt(
        self,
        request: cmd.PlaceGttRequest | cmd.ModifyGttRequest | cmd.TriggerGttRequest,
        now_ms: int,
    ) -> cmd.AccountCommand | Rejection:
        """A GTT command stamped with its instrument's last price; a firing with its leg's
        order stamped as a new order is."""
        market = self.context.market
        if isinstance(request, cmd.PlaceGttRequest):
            ltp = int(market.snapshot.ltp[self._index(request.instrument)])
            return cmd.PlaceGtt(*_fields(request), now_ms=now_ms, ltp_paise=ltp)
        gtt = self.state.gtts.get(request.gtt_id)
        if gtt is None:
            return Rejection.GTT_NOT_ACTIVE
        instrument = self.context.master.get(gtt.instrument_id)
        if instrument is None:
            return Rejection.PRICE_UNAVAILABLE  # it has left the master since it was placed
        if isinstance(request, cmd.ModifyGttRequest):
            ltp = int(market.snapshot.ltp[self._index(instrument)])
            return cmd.ModifyGtt(
                *_fields(request), now_ms=now_ms, instrument=instrument, ltp_paise=ltp
            )
        if not 0 <= request.leg < len(gtt.legs):
            return Rejection.OUTSIDE_ORDER_TERMS
        order_id = self.context.new_id()
        leg_order = cmd.gtt_order(gtt.legs[request.leg], order_id, instrument)
        stamped = self._stamp_order(leg_order, now_ms, counted=True)
        return cmd.TriggerGtt(
            *_fields(request),
            now_ms=now_ms,
            order_id=order_id,
            instrument=instrument,
            quote=stamped.quote,
            market=stamped.market,
            mtm_paise=stamped.mtm_paise,
            price_source=stamped.price_source,
        )

    def _deliverable(self, contract: Instrument) -> Instrument | None:
        """The shares a physically settled contract delivers at expiry; None when it settles
        in cash, or (logged) when its stock is not in the master: then it settles in cash."""
        ticker = deliverable_ticker(contract)
        if ticker is None:
            return None
        shares = self.context.master.get(ticker)
        if shares is None:
            logger.warning(
                "account %s: %s settles in cash: %s is not in the instrument master",
                self.state.account_id,
                contract.instrument_id,
                ticker,
            )
        return shares

    def _held_position(self, position_id: str) -> tuple[Position, Instrument] | Rejection:
        """An open position of the account's and its instrument; POSITION_CLOSED if it is not
        open, PRICE_UNAVAILABLE if its instrument has left the master since it opened."""
        position = self.state.positions.get(position_id)
        if position is None:
            return Rejection.POSITION_CLOSED
        instrument = self.context.master.get(position.instrument_id)
        if instrument is None:
            return Rejection.PRICE_UNAVAILABLE
        return position, instrument

    def _exit_price(
        self,
        instrument: Instrument,
        side_sign: int,
        quantity: int,
        average_paise: int,
        *,
        count: bool = True,
    ) -> tuple[int, PriceSource] | None:
        """Where an exit at market fills now, and the tier that priced it; None if nothing
        does. The last tier of docs/DOMAIN.md §5 is the position's (holding's) own average price,
        on the tick grid."""
        market = self.context.market
        index = self._index(instrument)
        price = market.execution_price(index, side_sign, quantity)
        source = market.price_source[index] or PriceSource.LIVE
        if price <= 0:
            tick = instrument.tick_paise
            price = average_paise // tick * tick
            source = PriceSource.POSITION_AVERAGE
        if price <= 0:
            return None
        if count:
            market.count_resolution(source)
        return price, source

    def _reset_exits(self) -> tuple[cmd.ResetExit, ...] | None:
        """The market price of every open position's close and every holding's sale, as a
        reset needs them (None if any has no price at all)."""
        state, master = self.state, self.context.master
        exits: list[cmd.ResetExit] = []
        for position in state.positions.values():
            instrument = master.get(position.instrument_id)
            if instrument is None:
                return None
            side = -1 if position.quantity > 0 else 1
            quantity, average = abs(position.quantity), position.average_price_paise()
            priced = self._exit_price(instrument, side, quantity, average)
            if priced is None:
                return None
            exits.append(cmd.ResetExit(instrument, priced[0], position.position_id, priced[1]))
        for holding in state.holdings.values():
            instrument = master.get(holding.instrument_id)
            if instrument is None:
                return None
            average = holding.cost_paise // holding.quantity
            priced = self._exit_price(instrument, -1, holding.quantity, average)
            if priced is None:
                return None
            exits.append(cmd.ResetExit(instrument, priced[0], "", priced[1]))
        return tuple(exits)

    def _resolve(
        self, index: int, quoted: bool, request: cmd.PlaceOrderRequest, counted: bool
    ) -> PriceSource | None:
        """The price tier that values a new order (live or stored quote, else its own price)."""
        market = self.context.market
        source: PriceSource | None = None
        if quoted:
            source = market.price_source[index] or PriceSource.LIVE
        elif request.price_paise or request.trigger_paise:
            source = PriceSource.REQUEST
        if source is not None and counted:
            market.count_resolution(source)
        return source

    def _index(self, instrument: Instrument) -> int:
        index = self.context.master.index_of(instrument.instrument_id)
        if index is None:
            raise LookupError(f"instrument {instrument.instrument_id} is not in the master")
        return index

    def _market_for(self, instrument: Instrument) -> UnderlyingMarket | None:
        """A derivative's underlying market, over the contract and every one the account holds
        on the same underlying (None for anything else)."""
        if not is_derivative(instrument):
            return None
        name = portfolio_of(instrument)
        contracts = {instrument.instrument_id: instrument}
        master = self.context.master
        for position in self.state.positions.values():
            held = master.get(position.instrument_id)
            if held is not None and is_derivative(held) and portfolio_of(held) == name:
                contracts.setdefault(held.instrument_id, held)
        return self._market_of(name, list(contracts.values()))

    def _market_of(self, name: str, contracts: list[Instrument]) -> UnderlyingMarket:
        if not contracts:  # nothing held on it any more: nothing to margin
            return UnderlyingMarket(name, UnderlyingKind.INDEX, 0, 0.0, ())
        context = self.context
        fallback = context.rules.margin.portfolio.fallback_volatility
        return underlying_market(context.market, contracts, context.clock.now_ms(), fallback)

    # -- what the market actor must learn from these events ---------------------------------

    def _book_ops(self, events: tuple[ev.AccountEvent, ...]) -> tuple[BookOp, ...]:
        ops: list[BookOp] = []
        account_id = self.state.account_id
        for event in events:
            if isinstance(event, ev.OrderAccepted | ev.OrderModified | ev.OrderTriggered):
                order = self.state.orders.get(event.order_id)
                if order is not None:
                    ops.append(self._working_op(order, event.at_ms))
            elif isinstance(event, ev.OrderCancelled):
                ops.append(ForgetOrder(account_id, event.order_id))
            elif isinstance(event, ev.OrderFilled):
                ops.extend(self._fill_ops(event))
            elif isinstance(event, ev.PositionRiskSet):
                ops.extend(self._exit_ops(event.position_id))
            elif isinstance(event, ev.PositionConverted):
                ops.extend(self._converted_ops(event))
            elif isinstance(event, ev.HoldingsSettled):
                for position_id in event.position_ids:
                    ops.append(MirrorPosition(account_id, position_id, 0, 0, 0))
                    ops.append(SetExits(account_id, position_id, 0, 0, None, None))
            elif isinstance(event, ev.GttPlaced | ev.GttModified):
                gtt = self.state.gtts[event.gtt_id]
                index = self.context.master.index_of(gtt.instrument_id)
                assert index is not None
                ops.append(gtt_op(account_id, gtt, index))
            elif isinstance(event, ev.GttDeleted | ev.GttExpired | ev.GttTriggered):
                ops.append(ForgetGtt(account_id, event.gtt_id))
        return tuple(ops)

    def _working_op(self, order: Order, at_ms: int) -> BookOp:
        index = self.context.master.index_of(order.instrument_id)
        assert index is not None
        return working_op(
            self.state.account_id, order, index, at_ms, self.context.market_fill_delay_ms
        )

    def _fill_ops(self, event: ev.OrderFilled) -> list[BookOp]:
        account_id = self.state.account_id
        ops: list[BookOp] = []
        if event.order_id not in self.state.orders:
            ops.append(ForgetOrder(account_id, event.order_id))
        # A part fill leaves the market holding the rest, as it took it off the book.
        if event.position_id:
            index = self.context.master.index_of(event.instrument_id)
            assert index is not None
            ops.append(
                MirrorPosition(
                    account_id,
                    event.position_id,
                    index,
                    event.position_quantity,
                    event.position_cost_paise,
                )
            )
            ops.extend(self._exit_ops(event.position_id))
        return ops

    def _converted_ops(self, event: ev.PositionConverted) -> list[BookOp]:
        """Both positions a conversion left, mirrored for risk marking, with their exits."""
        index = self.context.master.index_of(event.instrument_id)
        assert index is not None
        account_id = self.state.account_id
        return [
            MirrorPosition(
                account_id,
                event.position_id,
                index,
                event.position_quantity,
                event.position_cost_paise,
            ),
            *self._exit_ops(event.position_id),
            MirrorPosition(
                account_id,
                event.target_position_id,
                index,
                event.target_quantity,
                event.target_cost_paise,
            ),
            *self._exit_ops(event.target_position_id),
        ]

    def _exit_ops(self, position_id: str) -> list[BookOp]:
        account_id = self.state.account_id
        position = self.state.positions.get(position_id)
        if position is None:
            return [SetExits(account_id, position_id, 0, 0, None, None)]
        index = self.context.master.index_of(position.instrument_id)
        assert index is not None
        return [exit_op(account_id, position, index)]
