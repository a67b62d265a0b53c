"""Mark-to-market, portfolio revaluation, margin calls and liquidation (docs/DOMAIN.md §2).

An account's **required margin** is what its positions block: their own margin (equity) and
their underlyings' portfolio margin (futures and options). Its **equity** is its cash less what
is blocked for anything else (working orders, holdings, fund blocks), plus the mark-to-market
of its futures and intraday equity positions (``unrealised``: losses always, profits only with
``risk.credit_unrealised_profit``). Options count through their portfolio margin, which values
them at the market. So ``equity − required`` is the available funds marked to market.

A revaluation (``RevalueMargin``) recomputes each portfolio at the market, then compares:

- equity below ``margin_call_level`` × required: a margin call (``MarginCalled``), once; orders
  that add margin are refused while it lasts (their block exceeds what is available);
- below ``liquidation_level`` × required: the working orders that hold margin are cancelled and
  positions are closed at market, each with the square-off fee, the one whose close frees the
  most margin first, until the equity covers the margin again or nothing is left to close;
- back above the call level: ``MarginCallMet``.

Everything is decided at once against a copy, as a reset is, so the events replay to exactly
the state decided.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping

import msgspec

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.fills import market_exit, with_squareoff_fee
from engine.domain.account.state import AccountState, Decision
from engine.domain.enums import CancelReason, CloseReason, Product, Side
from engine.domain.instruments import Instrument
from engine.domain.money import RATE_SCALE
from engine.domain.parameters import RiskConfig
from engine.domain.portfolio import UnderlyingMarket, position_legs
from engine.domain.positions import Position
from engine.domain.rules import AccountRules


def marked_to_market(instrument: Instrument, product: Product) -> bool:
    """Whether a position's unrealised P&L counts in the equity: a future's, or an intraday
    (MIS) equity position's. Options count through their portfolio margin; delivery (CNC)
    shares are paid for."""
    return instrument.is_future or (instrument.is_equity and product is Product.MIS)


def unrealised_paise(positions: Iterable[Position], marks: Mapping[str, cmd.PositionMark]) -> int:
    """The unrealised P&L of the marked-to-market positions at their last prices."""
    total = 0
    for position in positions:
        mark = marks.get(position.position_id)
        if (
            mark is not None
            and mark.ltp_paise > 0
            and marked_to_market(mark.instrument, position.product)
        ):
            total += position.unrealized_pnl_paise(mark.ltp_paise)
    return total


def counted(unrealised: int, risk: RiskConfig) -> int:
    """What of ``unrealised`` counts in available funds: all of a loss; a profit only when
    configured."""
    return unrealised if risk.credit_unrealised_profit else min(unrealised, 0)


def required_paise(state: AccountState) -> int:
    """The margin the account's positions block."""
    own = sum(position.margin_paise for position in state.positions.values())
    return own + sum(state.portfolio_margin.values())


def _equity(state: AccountState, marks: Mapping[str, cmd.PositionMark], risk: RiskConfig) -> int:
    """Cash less what is blocked for anything but positions, marked to market."""
    other_blocks = state.blocked_paise - required_paise(state)
    mtm = counted(unrealised_paise(state.positions.values(), marks), risk)
    return state.balance_paise - other_blocks + mtm


def decide_revalue(state: AccountState, c: cmd.RevalueMargin, rules: AccountRules) -> Decision:
    """Revalue the portfolios at ``c.markets`` and check the margin at ``c.marks``."""
    events: list[ev.AccountEvent] = []
    revalued = _revalued(state, c.markets, rules, c.now_ms)
    if revalued is not None:
        events.append(revalued)
    work = state
    if events:
        work = copy.deepcopy(state)
        apply_all(work, events)
    marks = {mark.position_id: mark for mark in c.marks}
    risk = rules.risk
    required = required_paise(work)
    equity = _equity(work, marks, risk)
    below_call = required > 0 and equity < risk.margin_call_level.of(required)
    if below_call and not work.margin_called:
        unrealised = counted(unrealised_paise(work.positions.values(), marks), risk)
        events.append(
            ev.MarginCalled(
                at_ms=c.now_ms,
                equity_paise=equity,
                required_paise=required,
                unrealised_paise=unrealised,
            )
        )
    if required > 0 and equity < risk.liquidation_level.of(required):
        events.extend(_liquidation(work, c, rules, marks, tuple(events)))
        work = copy.deepcopy(state)
        apply_all(work, events)
        required = required_paise(work)
        equity = _equity(work, marks, risk)
        below_call = required > 0 and equity < risk.margin_call_level.of(required)
    called = work.margin_called or any(isinstance(e, ev.MarginCalled) for e in events)
    if called and not below_call:
        events.append(
            ev.MarginCallMet(at_ms=c.now_ms, equity_paise=equity, required_paise=required)
        )
    return Decision(tuple(events))


def _revalued(
    state: AccountState,
    markets: tuple[UnderlyingMarket, ...],
    rules: AccountRules,
    now_ms: int,
) -> ev.PortfolioMarginRevalued | None:
    """Each underlying's portfolio margin at ``markets``, for those whose margin changes
    materially (or whose positions still carry margin of their own); None if none does."""
    trade_date = rules.trade_date(now_ms)
    blocks: list[ev.PortfolioBlock] = []
    for market in markets:
        members = tuple(
            sorted(
                position.position_id
                for position in state.positions.values()
                if market.leg(position.instrument_id) is not None
            )
        )
        legs = position_legs(state.positions.values(), market)
        margin = rules.portfolio.margin(tuple(legs.values()), market, trade_date).blocked_paise
        own = any(state.positions[member].margin_paise for member in members)
        if own or _material(margin, state.portfolio_margin.get(market.name, 0), rules.risk):
            blocks.append(
                ev.PortfolioBlock(underlying=market.name, margin_paise=margin, position_ids=members)
            )
    if not blocks:
        return None
    return ev.PortfolioMarginRevalued(at_ms=now_ms, blocks=tuple(blocks))


def _material(margin: int, booked: int, risk: RiskConfig) -> bool:
    """Whether a portfolio's recomputed margin is worth booking: it appears or goes, or it moved
    at least ``risk.revaluation_min_change`` of what is booked (smaller drifts wait, so a
    revaluation every few seconds does not journal every tick's noise)."""
    if margin == booked:
        return False
    if not margin or not booked:
        return True
    return abs(margin - booked) * RATE_SCALE >= risk.revaluation_min_change.parts * booked


def _liquidation(
    state: AccountState,
    c: cmd.RevalueMargin,
    rules: AccountRules,
    marks: Mapping[str, cmd.PositionMark],
    decided: tuple[ev.AccountEvent, ...],
) -> list[ev.AccountEvent]:
    """Square off until the equity covers the required margin (see the module doc): the
    events, decided against a copy of ``state`` with ``decided`` applied."""
    work = copy.deepcopy(state)
    apply_all(work, decided)
    events: list[ev.AccountEvent] = []

    def book(*more: ev.AccountEvent) -> None:
        apply_all(work, more)
        events.extend(more)

    for order_id in sorted(work.orders):
        order = work.orders[order_id]
        if order.margin_blocked_paise:
            book(
                ev.OrderCancelled(
                    at_ms=c.now_ms,
                    order_id=order_id,
                    margin_released_paise=order.margin_blocked_paise,
                    reason=CancelReason.LIQUIDATION,
                )
            )
    markets = {market.name: market for market in c.markets}
    schedule = rules.charges.on(rules.trade_date(c.now_ms))
    closes = 0
    while required_paise(work) > 0 and _equity(work, marks, rules.risk) < (
        rules.risk.margin_call_level.of(required_paise(work))
    ):
        chosen = _most_margin_freed(work, marks, markets, rules, c.now_ms)
        if chosen is None:
            break  # nothing left that can be priced
        position, mark, market = chosen
        accepted, filled = market_exit(
            work,
            rules,
            order_id=liquidation_order_id(c.now_ms, closes, position.position_id),
            instrument=mark.instrument,
            product=position.product,
            side=Side.SELL if position.quantity > 0 else Side.BUY,
            quantity=abs(position.quantity),
            price_paise=mark.exit_paise,
            now_ms=c.now_ms,
            price_source=mark.price_source,
            market=market,
        )
        filled = msgspec.structs.replace(
            with_squareoff_fee(filled, schedule), close_reason=CloseReason.LIQUIDATED.value
        )
        book(accepted, filled)
        closes += 1
    return events


LIQUIDATION_ORDER_NAMESPACE = uuid.UUID("3e7b9c2d-5f14-4a86-b0d9-8c61f2a4e537")


def liquidation_order_id(now_ms: int, n: int, position_id: str) -> str:
    """The id of a liquidation's ``n``-th exit order, derived so that ``decide`` stays pure."""
    return str(uuid.uuid5(LIQUIDATION_ORDER_NAMESPACE, f"{now_ms}:{n}:{position_id}"))


def _most_margin_freed(
    state: AccountState,
    marks: Mapping[str, cmd.PositionMark],
    markets: Mapping[str, UnderlyingMarket],
    rules: AccountRules,
    now_ms: int,
) -> tuple[Position, cmd.PositionMark, UnderlyingMarket | None] | None:
    """The open position whose close frees the most margin (the earliest id among equals),
    with its mark and its portfolio's market; None when none has a price to close at."""
    trade_date = rules.trade_date(now_ms)
    best: tuple[int, str] | None = None
    chosen = None
    for position in state.positions.values():
        mark = marks.get(position.position_id)
        if mark is None or mark.exit_paise <= 0:
            continue
        market = _market_holding(markets, position.instrument_id)
        freed = position.margin_paise
        if market is not None:
            legs = position_legs(state.positions.values(), market)
            legs.pop((position.instrument_id, position.product.value), None)
            after = rules.portfolio.margin(tuple(legs.values()), market, trade_date)
            freed += state.portfolio_margin.get(market.name, 0) - after.blocked_paise
        key = (-freed, position.position_id)
        if best is None or key < best:
            best, chosen = key, (position, mark, market)
    return chosen


def _market_holding(
    markets: Mapping[str, UnderlyingMarket], instrument_id: str
) -> UnderlyingMarket | None:
    for market in markets.values():
        if market.leg(instrument_id) is not None:
            return market
    return None


def decide_settle_futures(
    state: AccountState, c: cmd.SettleFutures, rules: AccountRules
) -> Decision:
    """Settle each future held from before today at its closing price (docs/DOMAIN.md §2):
    the P&L since its cost basis is realised into cash and the close becomes its cost. Once a
    day; nothing when no future is held from before today."""
    today = rules.trade_day(c.now_ms)
    if state.futures_settled_day >= today:
        return Decision(())
    settlements: list[ev.FutureSettlement] = []
    for position_id, price in sorted(c.closes):
        position = state.positions.get(position_id)
        if position is None or price <= 0 or rules.trade_day(position.opened_ms) >= today:
            continue
        settlements.append(
            ev.FutureSettlement(
                position_id=position_id,
                price_paise=price,
                realized_pnl_paise=position.unrealized_pnl_paise(price),
            )
        )
    if not settlements:
        return Decision(())
    settled = ev.FuturesSettled(at_ms=c.now_ms, trade_day=today, settlements=tuple(settlements))
    return Decision((settled,))
