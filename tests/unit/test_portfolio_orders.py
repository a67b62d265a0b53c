"""Futures and options margined together per underlying, at the account (docs/DOMAIN.md §2).

Proves, on NIFTY's December calls (26000 and 26500, lot 65) priced on one forward of 26,138.60
(``tests.support.margin_markets``), that a derivative order blocks exactly what its
underlying's portfolio margin grows by were it filled at its valuation price,
``max(0, blocked(after) − blocked(before))`` by the portfolio model (``rules.portfolio``): a
long call bought against a short call blocks nothing, and the short sold against a long blocks
far less than alone; that once filled the two legs block ``state.portfolio_margin["NIFTY"]``,
the model's figure for the spread, far below the legs margined alone, while the positions carry
no margin of their own; that closing one leg recomputes the portfolio for the other and closing
both leaves no entry; that ``RevalueMargin`` raises a short call's block on a higher underlying
and emits ``PortfolioMarginRevalued``, is never refused (available funds may go negative),
emits nothing on an unchanged market, adds the 2 % extra ELM on a short index option's expiry
day (not a long option's, a stock option's or a future's), takes in a fill's portfolio that
came without a market and moves into the portfolio the margin positions carried on their own
in journals written before portfolio margin (``ExpiryMarginBlocked`` included); that a
derivative order without its underlying's market is refused PRICE_UNAVAILABLE; that a reset
leaves no portfolio margin; and that the journal replays to the same state, which the same
market then revalues to nothing new.

Amounts are paise; each hand computation sits in a comment next to its check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide
from engine.domain.account.state import (
    AccountState,
    Decision,
    funds_identity_holds,
    state_fingerprint,
)
from engine.domain.enums import FundKind, InstrumentType, Product, Rejection, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.money import Rate
from engine.domain.portfolio import MarginLeg, PortfolioMargin, UnderlyingMarket
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, Execute, QuoteFor, fill, place
from tests.support.margin_markets import market_of
from tests.support.stock_fno import reliance_option

CRORE_PAISE = 1_000_000_000
BUY, SELL = Side.BUY, Side.SELL
NRML = Product.NRML
LOT = 65
FORWARD_PAISE = 2_613_860  # NIFTY's December future's close, the sample market's forward
SHORT_PRICE, LONG_PRICE = 44_145, 18_970  # the 26000 and 26500 calls' closes
Trade = Callable[..., tuple[Decision, Decision]]
Leg = tuple[Instrument, int, int]  # instrument, signed quantity, signed cost


@pytest.fixture(scope="module")
def call_26500(master: InstrumentMaster) -> Instrument:
    """NIFTY Dec 2026 26500 CE: lot 65, close ₹189.70."""
    instrument = master.get("NFO:NIFTY26DEC26500CE")
    assert instrument is not None
    return instrument


def _short(call: Instrument) -> Leg:
    return (call, -LOT, -LOT * SHORT_PRICE)


def _long(call: Instrument) -> Leg:
    return (call, LOT, LOT * LONG_PRICE)


def _margin(
    rules: AccountRules, market: UnderlyingMarket, now_ms: int, *held: Leg
) -> PortfolioMargin:
    """The portfolio model's margin on ``market`` for ``held`` legs."""
    legs = []
    for instrument, quantity, cost_paise in held:
        leg = market.leg(instrument.instrument_id)
        assert leg is not None
        legs.append(MarginLeg(leg, quantity, cost_paise))
    return rules.portfolio.margin(legs, market, rules.trade_date(now_ms))


def _blocked(rules: AccountRules, market: UnderlyingMarket, *held: Leg) -> int:
    return _margin(rules, market, NOW_MS, *held).blocked_paise


def _order(
    instrument: Instrument, side: Side, price_paise: int, quote_for: QuoteFor, **terms: Any
) -> cmd.PlaceOrder:
    return place(
        instrument,
        order_id=terms.pop("order_id", "o1"),
        side=side,
        product=NRML,
        quantity=LOT,
        price_paise=price_paise,
        quote=quote_for(instrument, price_paise),
        **terms,
    )


def _position_id(state: AccountState, instrument: Instrument) -> str:
    position = state.position_for(instrument.instrument_id, NRML)
    assert position is not None
    return position.position_id


# --------------------------------------------------------------------------------------------
# an order blocks what the portfolio grows by


def test_hedging_buy_when_short_call_held_then_blocks_only_the_portfolio_increase(
    rules: AccountRules,
    nifty_call: Instrument,
    call_26500: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    market = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS)
    before = _blocked(rules, market, _short(nifty_call))
    assert state.portfolio_margin == {"NIFTY": before}
    after = _blocked(rules, market, _short(nifty_call), _long(call_26500))
    alone = _blocked(rules, market, _long(call_26500))
    assert alone == LOT * LONG_PRICE  # a long call alone blocks its premium, ₹12,330.50
    assert after < before  # the long caps the short's loss above 26500

    decision = execute(state, _order(call_26500, BUY, LONG_PRICE, quote_for, order_id="hedge"))

    assert decision.rejection is None
    (accepted,) = decision.events
    assert isinstance(accepted, ev.OrderAccepted)
    assert accepted.margin_blocked_paise == max(0, after - before) == 0
    assert state.orders["hedge"].margin_blocked_paise == 0
    assert state.blocked_paise == before


def test_short_call_when_long_call_held_then_blocks_far_less_than_alone(
    rules: AccountRules,
    nifty_call: Instrument,
    call_26500: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, call_26500, BUY, LOT, LONG_PRICE, product=NRML)
    market = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS)
    before = _blocked(rules, market, _long(call_26500))
    after = _blocked(rules, market, _short(nifty_call), _long(call_26500))
    alone = _blocked(rules, market, _short(nifty_call))

    decision = execute(state, _order(nifty_call, SELL, SHORT_PRICE, quote_for, order_id="short"))

    assert decision.rejection is None
    block = state.orders["short"].margin_blocked_paise
    assert block == max(0, after - before) > 0
    assert block < alone // 3
    assert state.blocked_paise == before + block


def test_spread_when_both_legs_filled_then_one_portfolio_block_far_below_the_legs_alone(
    rules: AccountRules,
    nifty_call: Instrument,
    call_26500: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    _, bought = trade(state, call_26500, BUY, LOT, LONG_PRICE, product=NRML)

    market = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS)
    spread = _margin(rules, market, NOW_MS, _short(nifty_call), _long(call_26500))
    # Exposure on the short only, 2 % of 65 × 26138.60 = 33 980.18; the long's premium
    # 65 × 189.70 = 12 330.50 blocked and the short's 65 × 441.45 = 28 694.25 credited
    assert (spread.exposure_paise, spread.premium_paise) == (3_398_018, 1_233_050)
    assert spread.premium_credit_paise == 2_869_425
    legs_alone = _blocked(rules, market, _short(nifty_call)) + _blocked(
        rules, market, _long(call_26500)
    )
    assert spread.blocked_paise < legs_alone // 3
    (filled,) = bought.events
    assert isinstance(filled, ev.OrderFilled)
    position_ids = tuple(sorted(state.positions))
    assert filled.portfolio == ev.PortfolioBlock("NIFTY", spread.blocked_paise, position_ids)
    assert state.portfolio_margin == {"NIFTY": spread.blocked_paise}
    assert [p.margin_paise for p in state.positions.values()] == [0, 0]
    assert state.blocked_paise == spread.blocked_paise


@pytest.mark.parametrize("closed_first", ["long", "short"])
def test_close_when_one_leg_closed_then_portfolio_recomputed_and_none_left_after_both(
    closed_first: str,
    rules: AccountRules,
    nifty_call: Instrument,
    call_26500: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    trade(state, call_26500, BUY, LOT, LONG_PRICE, product=NRML)
    market = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS)
    legs = {"short": _short(nifty_call), "long": _long(call_26500)}
    first = legs.pop(closed_first)
    (kept,) = legs.values()

    def close(leg: Leg, exit_order_id: str) -> ev.OrderFilled:
        instrument, _, cost_paise = leg
        command = cmd.ClosePosition(
            now_ms=NOW_MS,
            position_id=_position_id(state, instrument),
            exit_order_id=exit_order_id,
            instrument=instrument,
            price_paise=abs(cost_paise) // LOT,
        )
        decision = execute(state, command)
        assert decision.rejection is None
        filled = decision.events[-1]
        assert isinstance(filled, ev.OrderFilled)
        return filled

    filled = close(first, "x1")

    # The kept leg alone, at its cost: the short's SPAN + exposure less its premium, or the
    # long's premium (65 × 189.70 = 12 330.50)
    left = _blocked(rules, market, kept)
    if closed_first == "short":
        assert left == LOT * LONG_PRICE
    else:
        assert left > _blocked(rules, market, _short(nifty_call), _long(call_26500))
    assert filled.portfolio == ev.PortfolioBlock("NIFTY", left, (_position_id(state, kept[0]),))
    assert state.portfolio_margin == {"NIFTY": left}
    assert state.blocked_paise == left

    filled = close(kept, "x2")

    assert filled.portfolio == ev.PortfolioBlock("NIFTY", 0, ())
    assert state.portfolio_margin == {}
    assert (state.positions, state.blocked_paise) == ({}, 0)


@pytest.mark.parametrize(
    "market",
    [
        pytest.param(None, id="no-market"),
        pytest.param("BANKNIFTY", id="another-underlyings-market"),
    ],
)
def test_derivative_order_when_its_market_is_missing_then_price_unavailable(
    market: str | None,
    rules: AccountRules,
    master: InstrumentMaster,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    stamped = None
    if market is not None:
        future = master.get("NFO:BANKNIFTY26DECFUT")
        assert future is not None
        stamped = market_of(rules, [future], now_ms=NOW_MS)
    command = _order(nifty_call, SELL, SHORT_PRICE, quote_for, market=stamped)
    before = state_fingerprint(state)

    # Straight to decide: the test harness would stamp the market, as the actor does.
    decision = decide(state, command, rules)

    assert decision.rejection is Rejection.PRICE_UNAVAILABLE
    (rejected,) = decision.events
    assert isinstance(rejected, ev.OrderRejected)
    assert decision.shortfall is None
    assert state_fingerprint(state) == before


# --------------------------------------------------------------------------------------------
# revaluation


def test_revalue_when_underlying_rises_then_short_call_block_raised(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    position_id = _position_id(state, nifty_call)
    before = state.portfolio_margin["NIFTY"]
    blocked, available = state.blocked_paise, state.available_paise
    # NIFTY 2 % up: 26138.60 → 26661.40
    up = market_of(rules, [nifty_call], now_ms=NOW_MS, price_paise=2_666_140)
    raised = _blocked(rules, up, _short(nifty_call))
    assert raised > before

    decision = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(up,)))

    assert decision.rejection is None
    assert decision.events == (
        ev.PortfolioMarginRevalued(
            at_ms=NOW_MS, blocks=(ev.PortfolioBlock("NIFTY", raised, (position_id,)),)
        ),
    )
    assert state.portfolio_margin == {"NIFTY": raised}
    assert state.blocked_paise == blocked + raised - before
    assert state.available_paise == available - (raised - before)


def test_revalue_when_market_unchanged_then_no_event_and_nothing_changes(
    rules: AccountRules,
    nifty_call: Instrument,
    call_26500: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    trade(state, call_26500, BUY, LOT, LONG_PRICE, product=NRML)
    before = state_fingerprint(state)
    same = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS, price_paise=FORWARD_PAISE)

    decision = execute(state, cmd.RevalueMargin(now_ms=NOW_MS + 60_000, markets=(same,)))

    assert decision == Decision(())
    assert state_fingerprint(state) == before


@pytest.mark.parametrize(
    ("contract", "side", "extra_paise"),
    [
        # 2 % of 65 × 26138.60 = 16 99 009.00 → 33 980.18
        pytest.param("index-call", SELL, 3_398_018, id="short-index-call"),
        # a long option risks only its premium, already blocked
        pytest.param("index-call", BUY, 0, id="long-index-call"),
        # SEBI's expiry-day ELM is for index options only
        pytest.param("stock-put", SELL, 0, id="short-stock-put"),
        pytest.param("index-future", SELL, 0, id="short-index-future"),
    ],
)
def test_revalue_when_expiry_day_starts_then_short_index_option_blocks_the_extra_elm(
    contract: str,
    side: Side,
    extra_paise: int,
    rules: AccountRules,
    nifty_call: Instrument,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    instrument = {
        "index-call": nifty_call,
        "stock-put": reliance_option(1540, InstrumentType.PE),
        "index-future": nifty_fut,
    }[contract]
    assert instrument.expiry is not None
    expiry_ms = NOW_MS + (instrument.expiry - rules.trade_date(NOW_MS)).days * DAY_MS
    day_before_ms = expiry_ms - DAY_MS
    assert rules.trade_date(expiry_ms) == instrument.expiry
    state = funded_account(CRORE_PAISE)
    # The market as it stood the day before, kept as it is so that only the day changes.
    underlying_paise = 154_280 if contract == "stock-put" else FORWARD_PAISE
    market = market_of(rules, [instrument], now_ms=day_before_ms, price_paise=underlying_paise)
    price = instrument.reference_price_paise
    quantity = instrument.lot_size
    trade(
        state, instrument, side, quantity, price, product=NRML, now_ms=day_before_ms, market=market
    )
    held = (instrument, side.sign * quantity, side.sign * quantity * price)
    before = _margin(rules, market, day_before_ms, held)
    assert before.additional_paise == 0
    assert state.portfolio_margin == {instrument.underlying: before.blocked_paise}
    fingerprint = state_fingerprint(state)

    same_day = execute(state, cmd.RevalueMargin(now_ms=day_before_ms + 60_000, markets=(market,)))
    assert (same_day.events, state_fingerprint(state)) == ((), fingerprint)

    decision = execute(state, cmd.RevalueMargin(now_ms=expiry_ms, markets=(market,)))

    on_expiry_day = _margin(rules, market, expiry_ms, held)
    assert on_expiry_day.additional_paise == extra_paise
    assert on_expiry_day.blocked_paise == before.blocked_paise + extra_paise
    assert state.portfolio_margin == {instrument.underlying: on_expiry_day.blocked_paise}
    if extra_paise:
        (revalued,) = decision.events
        assert isinstance(revalued, ev.PortfolioMarginRevalued)
        assert revalued.blocks == (
            ev.PortfolioBlock(
                "NIFTY", on_expiry_day.blocked_paise, (_position_id(state, instrument),)
            ),
        )
    else:
        assert state_fingerprint(state) == fingerprint


def test_revalue_when_expiry_day_market_read_then_block_is_the_models_with_the_extra(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    assert nifty_call.expiry is not None
    expiry_ms = NOW_MS + (nifty_call.expiry - rules.trade_date(NOW_MS)).days * DAY_MS
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML, now_ms=expiry_ms - DAY_MS)
    today = market_of(rules, [nifty_call], now_ms=expiry_ms)

    execute(state, cmd.RevalueMargin(now_ms=expiry_ms, markets=(today,)))

    expected = _margin(rules, today, expiry_ms, _short(nifty_call))
    assert expected.additional_paise == 3_398_018
    assert state.portfolio_margin == {"NIFTY": expected.blocked_paise}


def test_fill_when_no_market_then_portfolio_left_for_the_revaluation_to_set(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    assert execute(state, _order(nifty_call, SELL, SHORT_PRICE, quote_for)).rejection is None

    # Straight to decide and apply: the test harness would stamp the market.
    decision = decide(state, fill(nifty_call, "o1", LOT, SHORT_PRICE), rules)
    apply_all(state, decision.events)

    (filled,) = decision.events
    assert isinstance(filled, ev.OrderFilled)
    assert filled.portfolio is None
    assert (state.portfolio_margin, state.blocked_paise) == ({}, 0)
    assert funds_identity_holds(state)
    market = market_of(rules, [nifty_call], now_ms=NOW_MS)
    revalued = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,)))
    assert len(revalued.events) == 1
    margin = _blocked(rules, market, _short(nifty_call))
    assert state.portfolio_margin == {"NIFTY": margin}
    assert state.blocked_paise == margin


@pytest.mark.parametrize("expiry_extra_paise", [0, 3_398_018], ids=["fill", "fill-and-extra"])
def test_revalue_when_positions_carry_margin_of_their_own_then_moved_into_the_portfolio(
    expiry_extra_paise: int,
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
) -> None:
    """A journal written before portfolio margin: the short call's fill gave the position the
    old flat margin, 11 % of 65 × 26138.60 = 1 86 890.99, and no portfolio; an
    ``ExpiryMarginBlocked`` of that time may have added the extra 2 % to it."""
    state = funded_account(CRORE_PAISE)
    assert execute(state, _order(nifty_call, SELL, SHORT_PRICE, quote_for)).rejection is None
    market = market_of(rules, [nifty_call], now_ms=NOW_MS)
    (filled,) = decide(state, fill(nifty_call, "o1", LOT, SHORT_PRICE, market=market), rules).events
    assert isinstance(filled, ev.OrderFilled)
    old: list[ev.AccountEvent] = [
        msgspec.structs.replace(filled, position_margin_paise=18_689_099, portfolio=None)
    ]
    if expiry_extra_paise:
        block = ev.ExpiryMarginBlock(
            filled.position_id, nifty_call.instrument_id, LOT, FORWARD_PAISE, expiry_extra_paise
        )
        old.append(
            ev.ExpiryMarginBlocked(at_ms=NOW_MS, trade_day=rules.trade_day(NOW_MS), blocks=(block,))
        )
    apply_all(state, old)
    own = 18_689_099 + expiry_extra_paise
    assert state.positions[filled.position_id].margin_paise == own
    assert (state.portfolio_margin, state.blocked_paise) == ({}, own)
    margin = _blocked(rules, market, _short(nifty_call))

    decision = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,)))

    (revalued,) = decision.events
    assert isinstance(revalued, ev.PortfolioMarginRevalued)
    position_id = _position_id(state, nifty_call)
    assert revalued.blocks == (ev.PortfolioBlock("NIFTY", margin, (position_id,)),)
    assert state.positions[position_id].margin_paise == 0
    assert state.portfolio_margin == {"NIFTY": margin}
    assert state.blocked_paise == margin
    # Once moved, the same market changes nothing more.
    assert execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,))).events == ()


@pytest.mark.parametrize(("booked", "material"), [(17_174_800, True), (17_174_801, False)])
def test_revalue_when_margin_moves_exactly_the_minimum_change_then_booked(
    booked: int,
    material: bool,
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    """At NIFTY 26139.25 the short call's margin is 1 72 606.74 = 201 × 858.74: from a booked
    1 71 748.00 that is a move of 858.74, exactly 0.5 % of it (re-booked); from one paisa more,
    just under 0.5 % (left as booked)."""
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    position_id = _position_id(state, nifty_call)
    earlier = ev.PortfolioBlock("NIFTY", booked, (position_id,))
    apply_all(state, [ev.PortfolioMarginRevalued(at_ms=NOW_MS, blocks=(earlier,))])
    market = market_of(rules, [nifty_call], now_ms=NOW_MS, price_paise=2_613_925)
    assert _blocked(rules, market, _short(nifty_call)) == 17_260_674

    decision = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,)))

    assert state.portfolio_margin == {"NIFTY": 17_260_674 if material else booked}
    assert len(decision.events) == int(material)


def test_revalue_when_a_closed_portfolio_is_still_booked_then_released_whatever_the_minimum(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    trade: Trade,
) -> None:
    """The short call bought back by a fill that came without a market leaves its portfolio
    booked; the revaluation releases it (a portfolio that goes is always booked, even were the
    minimum change set above 100 %)."""
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    assert (
        execute(state, _order(nifty_call, BUY, SHORT_PRICE, quote_for, order_id="b")).rejection
        is None
    )
    apply_all(state, decide(state, fill(nifty_call, "b", LOT, SHORT_PRICE), rules).events)
    assert state.positions == {} and state.portfolio_margin != {}
    lenient = replace(rules, risk=replace(rules.risk, revaluation_min_change=Rate.percent(200)))
    market = market_of(rules, [nifty_call], now_ms=NOW_MS)

    decision = decide(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,)), lenient)

    assert decision.events == (
        ev.PortfolioMarginRevalued(at_ms=NOW_MS, blocks=(ev.PortfolioBlock("NIFTY", 0, ()),)),
    )


def test_revalue_when_the_portfolio_is_unchanged_but_a_position_carries_its_own_then_moved(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    """A journal of the change-over: the short call's portfolio booked at its fill, then an
    ``ExpiryMarginBlocked`` of the old code adds the 2 % extra to the position itself. The same
    market recomputes the same portfolio, yet the extra is moved into it (released)."""
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    position_id = _position_id(state, nifty_call)
    margin = state.portfolio_margin["NIFTY"]
    block = ev.ExpiryMarginBlock(
        position_id, nifty_call.instrument_id, LOT, FORWARD_PAISE, 3_398_018
    )
    today = rules.trade_day(NOW_MS)
    apply_all(state, [ev.ExpiryMarginBlocked(at_ms=NOW_MS, trade_day=today, blocks=(block,))])
    assert state.expiry_margin_day == today
    assert state.blocked_paise == margin + 3_398_018
    market = market_of(rules, [nifty_call], now_ms=NOW_MS)

    decision = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,)))

    assert decision.events == (
        ev.PortfolioMarginRevalued(
            at_ms=NOW_MS, blocks=(ev.PortfolioBlock("NIFTY", margin, (position_id,)),)
        ),
    )
    assert state.positions[position_id].margin_paise == 0
    assert state.blocked_paise == margin


def test_revalue_when_funds_fall_short_then_blocked_anyway_and_available_negative(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    withdraw = cmd.DebitFunds(
        now_ms=NOW_MS,
        amount_paise=state.available_paise - 1_000_00,
        kind=FundKind.ADJUSTMENT,
        reference="leave ₹1,000",
    )
    assert execute(state, withdraw).rejection is None
    before = state.portfolio_margin["NIFTY"]
    # NIFTY 5 % up: 26138.60 → 27445.50
    up = market_of(rules, [nifty_call], now_ms=NOW_MS, price_paise=2_744_550)
    raised = _blocked(rules, up, _short(nifty_call))
    assert raised - before > 1_000_00

    decision = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(up,)))

    # A revaluation is never refused: the shortfall shows as negative available funds.
    assert decision.rejection is None
    assert state.portfolio_margin == {"NIFTY": raised}
    assert state.available_paise == 1_000_00 - (raised - before) < 0


# --------------------------------------------------------------------------------------------
# reset and replay


def test_reset_when_portfolio_held_then_closed_out_and_no_portfolio_margin_left(
    nifty_call: Instrument,
    call_26500: Instrument,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_call, SELL, LOT, SHORT_PRICE, product=NRML)
    trade(state, call_26500, BUY, LOT, LONG_PRICE, product=NRML)
    trade(state, nifty_fut, BUY, LOT, FORWARD_PAISE, product=NRML)
    assert set(state.portfolio_margin) == {"NIFTY"}
    exits = tuple(
        cmd.ResetExit(instrument=i, price_paise=i.reference_price_paise, position_id=p)
        for i, p in (
            (nifty_call, _position_id(state, nifty_call)),
            (call_26500, _position_id(state, call_26500)),
            (nifty_fut, _position_id(state, nifty_fut)),
        )
    )
    reset = cmd.ResetAccount(
        now_ms=NOW_MS,
        reset_id="r-1",
        by_user_id="user-1",
        by_role="USER",
        opening_balance_paise=CRORE_PAISE,
        exits=exits,
    )

    decision = execute(state, reset)

    assert decision.rejection is None
    released = [e for e in decision.events if isinstance(e, ev.PortfolioMarginRevalued)]
    assert [e.blocks for e in released] == [(ev.PortfolioBlock("NIFTY", 0, ()),)]
    assert state.portfolio_margin == {}
    assert (state.positions, state.blocked_paise) == ({}, 0)
    assert state.balance_paise == CRORE_PAISE


def test_journal_when_replayed_then_the_same_portfolio_state(
    rules: AccountRules,
    nifty_call: Instrument,
    call_26500: Instrument,
    execute: Execute,
    quote_for: QuoteFor,
) -> None:
    state = AccountState("acc-1")
    journal: list[ev.AccountEvent] = []

    def run(command: cmd.AccountCommand) -> None:
        decision = execute(state, command)
        assert decision.rejection is None
        journal.extend(decision.events)

    run(
        cmd.CreditFunds(
            now_ms=NOW_MS, amount_paise=CRORE_PAISE, kind=FundKind.DEPOSIT, reference="d"
        )
    )
    run(_order(nifty_call, SELL, SHORT_PRICE, quote_for, order_id="s"))
    run(fill(nifty_call, "s", LOT, SHORT_PRICE))
    run(_order(call_26500, BUY, LONG_PRICE, quote_for, order_id="l"))
    run(fill(call_26500, "l", LOT, LONG_PRICE))
    up = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS, price_paise=2_666_140)
    run(cmd.RevalueMargin(now_ms=NOW_MS, markets=(up,)))
    assert isinstance(journal[-1], ev.PortfolioMarginRevalued)

    replayed = apply_all(
        AccountState("acc-1"), [ev.decode_event(ev.encode_event(e)) for e in journal]
    )

    assert state_fingerprint(replayed) == state_fingerprint(state)
    assert replayed.portfolio_margin == state.portfolio_margin != {}
    # After a restart (the replayed state) the same market revalues to nothing new.
    assert execute(replayed, cmd.RevalueMargin(now_ms=NOW_MS, markets=(up,))).events == ()
