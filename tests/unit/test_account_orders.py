"""Placing, modifying and cancelling orders: validation and margin, to the paisa.

Proves that ``decide`` rejects an order for each broker rule (tick, lot, freeze quantity,
circuit band, order terms per type, product, missing quote, open-orders and order-value limits,
free holdings, funds) with the right ``Rejection`` and in precedence order; that a rejection is
exactly one ``OrderRejected`` event which leaves funds untouched, and a duplicate
``client_order_id`` no event at all; that an accepted equity order blocks exactly
``engine.domain.margin.equity_margin`` at its valuation price (limit price, protected ask,
protected trigger) and a future or option order the increase of its underlying's portfolio
margin (``rules.portfolio``) were it filled there, on the market stamped on it; that an exit
order blocks only what it opens, that a modification re-blocks for the new terms and a cancel
releases the whole block; and that fills turn the block into margin at the fill price (an
equity position's own, a derivative's underlying's portfolio), releasing partial blocks pro
rata with the last fill taking the rest.

Amounts are paise; each hand computation sits in a comment next to its case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pytest
from msgspec.structs import replace as replace_struct

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, Decision, Shortfall, state_fingerprint
from engine.domain.charges import charge_category, order_charges
from engine.domain.enums import (
    OrderStatus,
    OrderType,
    PriceSource,
    Product,
    Rejection,
    Side,
    Validity,
)
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.margin import equity_margin
from engine.domain.portfolio import MarginLeg, PortfolioMargin, UnderlyingMarket
from engine.domain.rules import AccountRules, circuit_band
from tests.conftest import DAY_MS, NOW_MS, Execute, QuoteFor, run_command
from tests.support.margin_markets import market_for

CRORE_PAISE = 1_000_000_000  # ₹1 crore

MARKET, LIMIT, SL, SL_M = OrderType.MARKET, OrderType.LIMIT, OrderType.SL, OrderType.SL_M
BUY, SELL = Side.BUY, Side.SELL
MIS, CNC, NRML = Product.MIS, Product.CNC, Product.NRML


def _funds(state: AccountState) -> tuple[int, ...]:
    return (
        state.balance_paise,
        state.blocked_paise,
        state.deposits_paise,
        state.withdrawals_paise,
        state.realized_pnl_paise,
        state.charges_paise,
    )


# --------------------------------------------------------------------------------------------
# validation


@dataclass(frozen=True)
class Check:
    id: str
    ticker: str
    expected: Rejection | None
    terms: dict[str, Any] = field(default_factory=dict)
    with_quote: bool = True


# Bands (previous close ± rate, snapped inward to the tick):
#   RELIANCE 1542.80 ± 20 % -> [1234.30, 1851.30]; NIFTY future 26138.60 ± 10 % ->
#   [23524.80, 28752.40]; options have no band.
VALIDATION = [
    # tick
    Check("limit-off-tick", "NSE:RELIANCE", Rejection.INVALID_PRICE, {"price_paise": 154285}),
    Check("limit-on-tick", "NSE:RELIANCE", None, {"price_paise": 154290}),
    Check("hdfc-tick-5-paise-off", "NSE:HDFCBANK", Rejection.INVALID_PRICE, {"price_paise": 99447}),
    Check("hdfc-tick-5-paise-on", "NSE:HDFCBANK", None, {"price_paise": 99445}),
    Check("wipro-tick-1-paisa", "NSE:WIPRO", None, {"price_paise": 24488}),
    Check(
        "sl-trigger-off-tick",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": SL, "price_paise": 154300, "trigger_paise": 154295},
    ),
    Check(
        "option-off-tick",
        "NFO:NIFTY26DEC26000CE",
        Rejection.INVALID_PRICE,
        {"quantity": 65, "price_paise": 44142},
    ),
    # lot and freeze quantity
    Check("option-qty-64", "NFO:NIFTY26DEC26000CE", Rejection.INVALID_QUANTITY, {"quantity": 64}),
    Check("option-qty-66", "NFO:NIFTY26DEC26000CE", Rejection.INVALID_QUANTITY, {"quantity": 66}),
    Check("option-qty-130", "NFO:NIFTY26DEC26000CE", None, {"quantity": 130}),
    Check("future-qty-100", "NFO:NIFTY26DECFUT", Rejection.INVALID_QUANTITY, {"quantity": 100}),
    Check("equity-qty-0", "NSE:RELIANCE", Rejection.INVALID_QUANTITY, {"quantity": 0}),
    Check("equity-qty-negative", "NSE:RELIANCE", Rejection.INVALID_QUANTITY, {"quantity": -5}),
    # 28 lots = 1820 > freeze 1800; 27 lots = 1755 is the largest order allowed
    Check(
        "option-above-freeze",
        "NFO:NIFTY26DEC26000CE",
        Rejection.ABOVE_FREEZE_QUANTITY,
        {"quantity": 1820},
    ),
    Check("option-27-lots-below-freeze", "NFO:NIFTY26DEC26000CE", None, {"quantity": 1755}),
    # circuit band: equity ±20 %
    Check("equity-at-upper-band", "NSE:RELIANCE", None, {"price_paise": 185130}),
    Check("equity-above-band", "NSE:RELIANCE", Rejection.INVALID_PRICE, {"price_paise": 185140}),
    Check("equity-at-lower-band", "NSE:RELIANCE", None, {"price_paise": 123430}),
    Check("equity-below-band", "NSE:RELIANCE", Rejection.INVALID_PRICE, {"price_paise": 123420}),
    Check("equity-plus-15pct", "NSE:RELIANCE", None, {"price_paise": 177420}),
    # index future ±10 %: +15 % is fine for equity but outside the future's band
    Check(
        "index-future-plus-15pct",
        "NFO:NIFTY26DECFUT",
        Rejection.INVALID_PRICE,
        {"quantity": 65, "price_paise": 3005940},
    ),
    Check(
        "index-future-at-upper-band",
        "NFO:NIFTY26DECFUT",
        None,
        {"quantity": 65, "price_paise": 2875240},
    ),
    Check(
        "index-future-above-band",
        "NFO:NIFTY26DECFUT",
        Rejection.INVALID_PRICE,
        {"quantity": 65, "price_paise": 2875250},
    ),
    Check(
        "index-future-at-lower-band",
        "NFO:NIFTY26DECFUT",
        None,
        {"quantity": 65, "price_paise": 2352480},
    ),
    Check(
        "index-future-below-band",
        "NFO:NIFTY26DECFUT",
        Rejection.INVALID_PRICE,
        {"quantity": 65, "price_paise": 2352470},
    ),
    Check(
        "sl-trigger-above-band",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": SL, "price_paise": 185130, "trigger_paise": 185140},
    ),
    Check(
        "option-has-no-band",
        "NFO:NIFTY26DEC26000CE",
        None,
        {"quantity": 65, "price_paise": 200000},
    ),
    # order terms per type
    Check(
        "market-with-price",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": MARKET, "price_paise": 154280},
    ),
    Check(
        "market-with-trigger",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": MARKET, "trigger_paise": 154280},
    ),
    Check("market-bare", "NSE:RELIANCE", None, {"order_type": MARKET}),
    Check("limit-without-price", "NSE:RELIANCE", Rejection.INVALID_PRICE, {"price_paise": 0}),
    Check(
        "limit-with-trigger",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"price_paise": 154280, "trigger_paise": 154000},
    ),
    Check(
        "sl-without-trigger",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": SL, "price_paise": 154280},
    ),
    Check(
        "sl-without-price",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": SL, "price_paise": 0, "trigger_paise": 154280},
    ),
    Check(
        "sl-with-both",
        "NSE:RELIANCE",
        None,
        {"order_type": SL, "price_paise": 154300, "trigger_paise": 154280},
    ),
    Check(
        "slm-with-price",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": SL_M, "price_paise": 154280, "trigger_paise": 154280},
    ),
    Check(
        "slm-without-trigger",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": SL_M, "price_paise": 0},
    ),
    Check(
        "slm-trigger-only",
        "NSE:RELIANCE",
        None,
        {"order_type": SL_M, "price_paise": 0, "trigger_paise": 154280},
    ),
    # products
    Check(
        "cnc-on-future",
        "NFO:NIFTY26DECFUT",
        Rejection.PRODUCT_NOT_ALLOWED,
        {"product": CNC, "quantity": 65, "price_paise": 2613860},
    ),
    Check(
        "cnc-on-option",
        "NFO:NIFTY26DEC26000CE",
        Rejection.PRODUCT_NOT_ALLOWED,
        {"product": CNC, "quantity": 65},
    ),
    Check("nrml-on-equity", "NSE:RELIANCE", Rejection.PRODUCT_NOT_ALLOWED, {"product": NRML}),
    Check("cnc-on-equity", "NSE:RELIANCE", None, {"product": CNC}),
    Check(
        "mis-on-future",
        "NFO:NIFTY26DECFUT",
        None,
        {"product": MIS, "quantity": 65, "price_paise": 2613860},
    ),
    Check("nrml-on-option", "NFO:NIFTY26DEC26000CE", None, {"product": NRML, "quantity": 65}),
    Check(
        "nrml-on-mcx-future",
        "MCX:CRUDEOIL26DECFUT",
        None,
        {"product": NRML, "quantity": 100, "price_paise": 531200},
    ),
    # quotes
    Check(
        "market-without-quote",
        "NSE:RELIANCE",
        Rejection.PRICE_UNAVAILABLE,
        {"order_type": MARKET},
        with_quote=False,
    ),
    Check("limit-without-quote", "NSE:RELIANCE", None, {"price_paise": 154280}, with_quote=False),
    Check(
        "limit-without-quote-uses-reference-band",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"price_paise": 185140},
        with_quote=False,
    ),
    Check(
        "slm-without-quote",
        "NSE:RELIANCE",
        None,
        {"order_type": SL_M, "price_paise": 0, "trigger_paise": 154280},
        with_quote=False,
    ),
    # precedence: the first failing check in Rejection order wins
    Check(
        "precedence-product-before-lot",
        "NFO:NIFTY26DECFUT",
        Rejection.PRODUCT_NOT_ALLOWED,
        {"product": CNC, "quantity": 1, "price_paise": 1},
    ),
    Check(
        "precedence-lot-before-price",
        "NFO:NIFTY26DEC26000CE",
        Rejection.INVALID_QUANTITY,
        {"quantity": 1, "price_paise": 1},
    ),
    Check(
        "precedence-terms-before-quote",
        "NSE:RELIANCE",
        Rejection.INVALID_PRICE,
        {"order_type": MARKET, "price_paise": 154280},
        with_quote=False,
    ),
]


@pytest.mark.parametrize("case", VALIDATION, ids=lambda c: c.id)
def test_place_order_when_terms_checked_then_rejection_matches_rule(
    case: Check,
    master: InstrumentMaster,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    instrument = master.get(case.ticker)
    assert instrument is not None
    state = funded_account(CRORE_PAISE)
    funds_before = _funds(state)
    terms: dict[str, Any] = {"price_paise": instrument.reference_price_paise, **case.terms}
    if terms.get("order_type", LIMIT) is not LIMIT and "price_paise" not in case.terms:
        terms["price_paise"] = 0
    quote = quote_for(instrument, instrument.reference_price_paise) if case.with_quote else None

    decision = execute(state, place_order(instrument, quote=quote, **terms))

    assert decision.rejection is case.expected
    if case.expected is None:
        (accepted,) = decision.events
        assert isinstance(accepted, ev.OrderAccepted)
        assert state.orders["o1"].status is OrderStatus.PENDING
    else:
        (rejected,) = decision.events
        assert isinstance(rejected, ev.OrderRejected)
        assert rejected.reason is case.expected
        assert state.orders == {}
        assert _funds(state) == funds_before


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        pytest.param({"price_paise": 2613865}, Rejection.INVALID_PRICE, id="price"),
        pytest.param({"quantity": 3}, Rejection.INVALID_QUANTITY, id="lot"),
        pytest.param({"product": CNC}, Rejection.PRODUCT_NOT_ALLOWED, id="product"),
        pytest.param({"quantity": 1820}, Rejection.ABOVE_FREEZE_QUANTITY, id="freeze"),
        pytest.param(
            {"order_type": MARKET, "price_paise": 0}, Rejection.PRICE_UNAVAILABLE, id="quote"
        ),
    ],
)
def test_place_order_when_rejected_then_one_rejected_event_and_funds_unchanged(
    terms: dict[str, Any],
    expected: Rejection,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    funds_before = _funds(state)
    seq_before = state.seq
    command = place_order(
        nifty_fut,
        client_order_id="c-rej",
        **{"quantity": 65, "price_paise": 2613860, **terms},
    )

    decision = execute(state, command)

    assert decision.rejection is expected
    assert len(decision.events) == 1
    rejected = decision.events[0]
    assert isinstance(rejected, ev.OrderRejected)
    assert (rejected.order_id, rejected.reason, rejected.client_order_id) == (
        "o1",
        expected,
        "c-rej",
    )
    assert _funds(state) == funds_before
    assert state.orders == {}
    assert state.seq == seq_before + 1
    # the client id is taken, so a retry with it is a duplicate
    assert state.client_order_ids == {"c-rej": "o1"}


def test_place_order_when_tagged_then_the_tag_is_kept_accepted_or_rejected(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    accepted = execute(
        state, place_order(reliance, tag="momentum1", price_paise=154280, quote=quote)
    )
    assert accepted.rejection is None
    event = accepted.events[0]
    assert isinstance(event, ev.OrderAccepted) and event.tag == "momentum1"
    assert state.orders["o1"].tag == "momentum1"
    refused = execute(
        state,
        place_order(reliance, order_id="o2", tag="momentum1", quantity=0, price_paise=154280),
    )
    rejected = refused.events[0]
    assert isinstance(rejected, ev.OrderRejected) and rejected.tag == "momentum1"
    untagged = execute(state, place_order(reliance, order_id="o3", price_paise=154280, quote=quote))
    assert untagged.rejection is None and state.orders["o3"].tag is None


def test_place_order_when_client_order_id_reused_then_duplicate_without_events(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    first = execute(
        state, place_order(reliance, client_order_id="c1", price_paise=154280, quote=quote)
    )
    assert first.rejection is None
    fingerprint = state_fingerprint(state)

    again = execute(
        state,
        place_order(reliance, order_id="o2", client_order_id="c1", price_paise=154280, quote=quote),
    )

    assert again == Decision((), Rejection.DUPLICATE, original_order_id="o1")
    assert state_fingerprint(state) == fingerprint
    assert list(state.orders) == ["o1"]


def test_place_order_when_client_order_id_of_rejected_order_then_duplicate(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    rejected = execute(state, place_order(reliance, client_order_id="c1", price_paise=154285))
    assert rejected.rejection is Rejection.INVALID_PRICE

    again = execute(
        state, place_order(reliance, order_id="o2", client_order_id="c1", price_paise=154280)
    )

    assert again == Decision((), Rejection.DUPLICATE, original_order_id="o1")


def test_place_order_when_order_id_names_working_order_then_duplicate_without_events(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    # Accepting it would replace the working order and strand its block (funds identity).
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, quantity=10, price_paise=154280))
    fingerprint = state_fingerprint(state)

    again = execute(state, place_order(reliance, quantity=20, price_paise=154280))

    assert again == Decision((), Rejection.DUPLICATE, original_order_id="o1")
    assert state_fingerprint(state) == fingerprint
    assert state.orders["o1"].quantity == 10


def test_place_order_when_open_orders_at_limit_then_rejected_until_one_closes(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    tight = replace(rules, limits=replace(rules.limits, open_orders_max=2))
    state = funded_account(CRORE_PAISE)
    for order_id in ("o1", "o2"):
        placed = run_command(
            state, place_order(reliance, order_id=order_id, price_paise=154280), tight
        )
        assert placed.rejection is None

    third = run_command(state, place_order(reliance, order_id="o3", price_paise=154280), tight)
    assert third.rejection is Rejection.OPEN_ORDERS_LIMIT
    assert set(state.orders) == {"o1", "o2"}

    run_command(state, cmd.CancelOrder(now_ms=NOW_MS, order_id="o1"), tight)
    fourth = run_command(state, place_order(reliance, order_id="o4", price_paise=154280), tight)
    assert fourth.rejection is None


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        # ₹10 crore cap: 64 817 × ₹1542.80 = ₹99 99 96 676 ≤ cap; one more share exceeds it
        pytest.param(64_817, None, id="just-below-cap"),
        pytest.param(64_818, Rejection.ORDER_VALUE_LIMIT, id="just-above-cap"),
    ],
)
def test_place_order_when_value_above_cap_then_order_value_limit(
    quantity: int,
    expected: Rejection | None,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    assert rules.limits.order_value_max_paise == 10_000_000_000
    state = funded_account(3 * CRORE_PAISE)
    decision = execute(
        state,
        place_order(
            reliance, quantity=quantity, price_paise=154280, quote=quote_for(reliance, 154280)
        ),
    )
    assert decision.rejection is expected


def test_place_market_order_when_protected_value_above_cap_then_order_value_limit(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
) -> None:
    # ask 1542.90 + 3 % (46.29) = 1589.19 per share; 10 shares = ₹15 891.90
    capped = replace(rules, limits=replace(rules.limits, order_value_max_paise=1_589_190))
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    at_cap = run_command(
        state, place_order(reliance, order_type=MARKET, quantity=10, quote=quote), capped
    )
    above = run_command(
        state,
        place_order(reliance, order_id="o2", order_type=MARKET, quantity=11, quote=quote),
        capped,
    )
    assert at_cap.rejection is None
    assert above.rejection is Rejection.ORDER_VALUE_LIMIT


def test_cnc_sell_when_no_holdings_then_insufficient_holdings(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    decision = execute(
        state, place_order(reliance, side=SELL, product=CNC, quantity=1, price_paise=154280)
    )
    assert decision.rejection is Rejection.INSUFFICIENT_HOLDINGS


@pytest.mark.parametrize(
    ("pending_sell", "quantity", "expected"),
    [
        pytest.param(0, 5, None, id="sell-all-owned"),
        pytest.param(0, 6, Rejection.INSUFFICIENT_HOLDINGS, id="sell-more-than-owned"),
        pytest.param(3, 2, None, id="sell-rest-after-pending"),
        pytest.param(3, 3, Rejection.INSUFFICIENT_HOLDINGS, id="pending-sell-reserves-shares"),
    ],
)
def test_cnc_sell_when_shares_owned_then_limited_to_free_quantity(
    pending_sell: int,
    quantity: int,
    expected: Rejection | None,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., Any],
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 5, 154280, product=CNC)  # today's CNC position
    if pending_sell:
        execute(
            state,
            place_order(
                reliance,
                order_id="s0",
                side=SELL,
                product=CNC,
                quantity=pending_sell,
                price_paise=160000,
            ),
        )

    decision = execute(
        state,
        place_order(
            reliance, order_id="s1", side=SELL, product=CNC, quantity=quantity, price_paise=160000
        ),
    )

    assert decision.rejection is expected
    if expected is None:
        assert state.orders["s1"].margin_blocked_paise == 0  # a CNC sell blocks no cash


@pytest.mark.parametrize(
    ("deposit", "expected"),
    [
        # margin 20 % × 10 × 1542.80 = 3085.60; estimated MIS buy charges on ₹15 428:
        # brokerage 4.63 + exchange 0.47 + SEBI 0.02 + GST 0.92 + stamp 0.46 = 6.50
        pytest.param(308_560 + 650, None, id="exactly-margin-plus-charges"),
        pytest.param(308_560 + 650 + 1, None, id="one-paisa-more"),
        pytest.param(308_560 + 650 - 1, Rejection.INSUFFICIENT_FUNDS, id="one-paisa-short"),
        pytest.param(308_560, Rejection.INSUFFICIENT_FUNDS, id="margin-without-charges"),
    ],
)
def test_place_order_when_funds_short_then_rejected(
    deposit: int,
    expected: Rejection | None,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    schedule = rules.charges.on(date(2026, 11, 24))
    estimate = order_charges(
        schedule, charge_category(reliance.segment, MIS), "NSE", BUY, 1_542_800
    )
    assert estimate.total_paise == 650
    assert equity_margin(rules.margin, reliance, MIS, BUY, 10, 154280) == 308_560
    state = funded_account(deposit)

    decision = execute(
        state,
        place_order(reliance, quantity=10, price_paise=154280, quote=quote_for(reliance, 154280)),
    )

    assert decision.rejection is expected
    if expected is None:
        assert decision.shortfall is None
        assert state.blocked_paise == 308_560
        assert state.available_paise == deposit - 308_560 >= 650
    else:
        # The amounts it was refused on, for the answer to show as decided.
        assert decision.shortfall == Shortfall(308_560, 650, deposit)
        assert state.blocked_paise == 0
        assert state.available_paise == deposit


# --------------------------------------------------------------------------------------------
# margin blocked on acceptance


def _portfolio(
    rules: AccountRules,
    market: UnderlyingMarket,
    now_ms: int,
    *held: tuple[Instrument, int, int],
) -> PortfolioMargin:
    """The portfolio model's margin on ``market`` for ``held`` legs, each (instrument, signed
    quantity, signed cost)."""
    legs = []
    for instrument, quantity, cost_paise in held:
        leg = market.leg(instrument.instrument_id)
        assert leg is not None
        legs.append(MarginLeg(leg, quantity, cost_paise))
    return rules.portfolio.margin(legs, market, rules.trade_date(now_ms))


@dataclass(frozen=True)
class Block:
    id: str
    ticker: str
    side: Side
    product: Product
    order_type: OrderType
    quantity: int
    price_paise: int
    trigger_paise: int
    valuation_paise: int  # the price the order is margined at
    # By hand; None where only the portfolio model can value it (an option sold with time left)
    expected_paise: int | None
    underlying_paise: int = 0  # the market stamped on a derivative (0: the nearest future's close)
    days_later: int = 0
    additional_paise: int = 0  # the portfolio's expiry-day extra ELM


BLOCKS = [
    # 20 % × 10 × 1542.80
    Block("mis-limit-buy", "NSE:RELIANCE", BUY, MIS, LIMIT, 10, 154280, 0, 154280, 308_560),
    # short sell margins the same
    Block("mis-limit-sell", "NSE:RELIANCE", SELL, MIS, LIMIT, 10, 154280, 0, 154280, 308_560),
    # 100 % × 10 × 1540.00
    Block("cnc-limit-buy", "NSE:RELIANCE", BUY, CNC, LIMIT, 10, 154000, 0, 154000, 1_540_000),
    # ask 1542.90 + 3 % (46.287 -> 46.29) = 1589.19; × 10
    Block("cnc-market-buy", "NSE:RELIANCE", BUY, CNC, MARKET, 10, 0, 0, 158_919, 1_589_190),
    # 20 % of 15 891.90
    Block("mis-market-sell", "NSE:RELIANCE", SELL, MIS, MARKET, 10, 0, 0, 158_919, 317_838),
    # SL is margined at its limit price: 20 % × 10 × 1545.00
    Block("mis-sl-buy", "NSE:RELIANCE", BUY, MIS, SL, 10, 154500, 154400, 154500, 309_000),
    # SL-M valued at trigger 26200 + 3 % (786) = 26986, but a future is margined at the market
    # (NIFTY's nearest future, 26138.60): 65 × 26138.60 = 16 99 009; 9.3 % = 1 58 007.837
    # -> 1 58 007.84, + 2 % = 33 980.18
    Block("fut-slm-buy", "NFO:NIFTY26DECFUT", BUY, NRML, SL_M, 65, 0, 2620000, 2698600, 19_198_802),
    # SL sell at 26000: the same notional at the market, short or long
    Block(
        "fut-mis-sl-sell",
        "NFO:NIFTY26DECFUT",
        SELL,
        MIS,
        SL,
        65,
        2600000,
        2601000,
        2600000,
        19_198_802,
    ),
    # option buyer pays the premium: 130 × 441.45
    Block("option-buy", "NFO:NIFTY26DEC26000CE", BUY, NRML, LIMIT, 130, 44145, 0, 44145, 5_738_850),
    # option seller: SPAN + exposure on the underlying (26138.60) less the premium received
    Block(
        "option-sell-on-underlying",
        "NFO:NIFTY26DEC26000CE",
        SELL,
        NRML,
        LIMIT,
        65,
        44145,
        0,
        44145,
        None,
        underlying_paise=2613860,
    ),
    # on an underlying 1 % up, 26400.00, the call is deeper in the money
    Block(
        "option-sell-on-higher-underlying",
        "NFO:NIFTY26DEC26000CE",
        SELL,
        NRML,
        LIMIT,
        65,
        44145,
        0,
        44145,
        None,
        underlying_paise=2640000,
    ),
    # on expiry day (29 Dec 2026) the seller pays 2 % more of 65 × 26138.60: + 33 980.18
    Block(
        "option-sell-expiry-day",
        "NFO:NIFTY26DEC26000CE",
        SELL,
        NRML,
        LIMIT,
        65,
        44145,
        0,
        44145,
        None,
        underlying_paise=2613860,
        days_later=35,
        additional_paise=3_398_018,
    ),
    # MCX commodity 7 % + 3 %: 100 × 5312
    Block(
        "mcx-future-buy",
        "MCX:CRUDEOIL26DECFUT",
        BUY,
        NRML,
        LIMIT,
        100,
        531200,
        0,
        531200,
        5_312_000,
    ),
]


@pytest.mark.parametrize("case", BLOCKS, ids=lambda c: c.id)
def test_place_order_when_accepted_then_blocks_order_margin_at_valuation_price(
    case: Block,
    rules: AccountRules,
    master: InstrumentMaster,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    instrument = master.get(case.ticker)
    assert instrument is not None
    now_ms = NOW_MS + case.days_later * DAY_MS
    state = funded_account(CRORE_PAISE)
    market = market_for(rules, state, instrument, now_ms=now_ms, price_paise=case.underlying_paise)
    if market is None:
        expected = equity_margin(
            rules.margin,
            instrument,
            case.product,
            case.side,
            case.quantity,
            case.valuation_paise,
        )
    else:
        # Nothing held: the increase is the whole margin of the order filled at its valuation.
        signed = case.side.sign * case.quantity
        margin = _portfolio(
            rules, market, now_ms, (instrument, signed, signed * case.valuation_paise)
        )
        assert margin.additional_paise == case.additional_paise
        expected = margin.blocked_paise
    if case.expected_paise is not None:
        assert expected == case.expected_paise
    assert expected > 0

    decision = execute(
        state,
        place_order(
            instrument,
            side=case.side,
            product=case.product,
            order_type=case.order_type,
            quantity=case.quantity,
            price_paise=case.price_paise,
            trigger_paise=case.trigger_paise,
            quote=quote_for(instrument, instrument.reference_price_paise),
            market=market,
            now_ms=now_ms,
        ),
    )

    assert decision.rejection is None
    (accepted,) = decision.events
    assert isinstance(accepted, ev.OrderAccepted)
    assert accepted.margin_blocked_paise == expected
    assert state.orders["o1"].margin_blocked_paise == expected
    assert state.blocked_paise == expected
    assert state.available_paise == CRORE_PAISE - expected


def test_place_option_sell_when_underlying_higher_then_blocks_more(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    blocks = []
    for underlying_paise in (2613860, 2640000):
        state = funded_account(CRORE_PAISE)
        market = market_for(rules, state, nifty_call, now_ms=NOW_MS, price_paise=underlying_paise)
        sell = place_order(
            nifty_call,
            side=SELL,
            product=NRML,
            quantity=65,
            price_paise=44145,
            quote=quote_for(nifty_call, 44145),
            market=market,
        )
        assert execute(state, sell).rejection is None
        blocks.append(state.orders["o1"].margin_blocked_paise)
    # The exposure alone grows by 2 % of 65 × 261.40 = 339.82; the SPAN with the call's value.
    assert blocks[1] - blocks[0] > 33_982


@pytest.mark.parametrize(
    ("side", "quantity", "expected"),
    [
        pytest.param(SELL, 10, 0, id="exit-all"),
        pytest.param(SELL, 4, 0, id="exit-part"),
        # 5 of 15 open a short: 20 % × 5 × 1550.00
        pytest.param(SELL, 15, 155_000, id="exit-and-reverse"),
        # adding to the long blocks in full: 20 % × 10 × 1550.00
        pytest.param(BUY, 10, 310_000, id="add-to-long"),
    ],
)
def test_place_order_when_it_reduces_position_then_blocks_only_opening_part(
    side: Side,
    quantity: int,
    expected: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., Any],
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280)
    position_margin = state.blocked_paise
    assert position_margin == 308_560

    decision = execute(
        state,
        place_order(reliance, order_id="x1", side=side, quantity=quantity, price_paise=155000),
    )

    assert decision.rejection is None
    assert state.orders["x1"].margin_blocked_paise == expected
    assert state.blocked_paise == position_margin + expected


def test_place_exit_order_when_peer_exit_pending_then_second_blocks_in_full(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., Any],
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280)
    execute(state, place_order(reliance, order_id="x1", side=SELL, quantity=10, price_paise=155000))

    decision = execute(
        state, place_order(reliance, order_id="x2", side=SELL, quantity=10, price_paise=155000)
    )

    assert decision.rejection is None
    assert state.orders["x1"].margin_blocked_paise == 0
    assert state.orders["x2"].margin_blocked_paise == 310_000  # 20 % × 10 × 1550.00


def test_place_exit_order_for_short_when_buying_back_then_blocks_nothing(
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., Any],
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_fut, SELL, 130, 2613860, product=NRML)
    blocked = state.blocked_paise

    decision = execute(
        state,
        place_order(
            nifty_fut, order_id="x1", side=BUY, product=NRML, quantity=65, price_paise=2600000
        ),
    )

    assert decision.rejection is None
    assert state.orders["x1"].margin_blocked_paise == 0
    assert state.blocked_paise == blocked


# --------------------------------------------------------------------------------------------
# modify and cancel


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # 20 % × 10 × 1500.00
        pytest.param({"price_paise": 150000}, 300_000, id="new-price"),
        # 20 % × 20 × 1542.80
        pytest.param({"quantity": 20}, 617_120, id="new-quantity"),
        # 20 % × 20 × 1500.00
        pytest.param({"quantity": 20, "price_paise": 150000}, 600_000, id="new-price-and-quantity"),
        # MARKET at ask 1542.90 + 3 % = 1589.19: 20 % × 10 × 1589.19
        pytest.param({"order_type": MARKET}, 317_838, id="to-market"),
        # SL-M at trigger 1550.00 + 3 % (46.50) = 1596.50: 20 % × 10 × 1596.50
        pytest.param({"order_type": SL_M, "trigger_paise": 155000}, 319_300, id="to-slm"),
    ],
)
def test_modify_order_when_terms_change_then_block_recomputed(
    changes: dict[str, Any],
    expected: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    execute(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote))
    assert state.blocked_paise == 308_560

    decision = execute(
        state,
        cmd.ModifyOrder(now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, **changes),
    )

    assert decision.rejection is None
    (modified,) = decision.events
    assert isinstance(modified, ev.OrderModified)
    assert modified.margin_blocked_paise == expected
    assert state.orders["o1"].margin_blocked_paise == expected
    assert state.orders["o1"].status is OrderStatus.PENDING
    assert state.blocked_paise == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # new block 20 % × 20 × 1542.80 = 6171.20 and charges on ₹30 856 (9.26 + 0.95 + 0.03
        # + 1.84 + 0.93 = 13.01) must fit in available + the old block 3085.60
        pytest.param(617_120 - 308_560 + 1301, None, id="exactly-enough"),
        pytest.param(
            617_120 - 308_560 + 1301 - 1, Rejection.INSUFFICIENT_FUNDS, id="one-paisa-short"
        ),
    ],
)
def test_modify_order_when_funds_short_for_new_terms_then_rejected_and_block_kept(
    extra: int,
    expected: Rejection | None,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    schedule = rules.charges.on(date(2026, 11, 24))
    assert (
        order_charges(
            schedule, charge_category(reliance.segment, MIS), "NSE", BUY, 3_085_600
        ).total_paise
        == 1301
    )
    state = funded_account(308_560 + extra)
    quote = quote_for(reliance, 154280)
    execute(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote))

    decision = execute(
        state,
        cmd.ModifyOrder(
            now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, quantity=20
        ),
    )

    assert decision.rejection is expected
    if expected is None:
        assert decision.shortfall is None
        assert state.blocked_paise == 617_120
        assert state.available_paise == 1301
    else:
        # Available to the modification: the account's available funds and the order's block.
        assert decision.shortfall == Shortfall(617_120, 1301, extra + 308_560)
        assert decision.events == ()
        assert state.orders["o1"].quantity == 10
        assert state.blocked_paise == 308_560


def test_modify_order_when_partly_filled_then_blocks_for_remaining_only(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    execute(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote))
    execute(state, fill_order(reliance, "o1", 4, 154280))
    # block left: 3085.60 - floor(3085.60 × 4 / 10) = 3085.60 - 1234.24 = 1851.36
    assert state.orders["o1"].margin_blocked_paise == 185_136

    decision = execute(
        state,
        cmd.ModifyOrder(
            now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, price_paise=150000
        ),
    )

    assert decision.rejection is None
    # 6 left × 1500.00 × 20 % = 1800.00; the filled 4 are position margin 20 % × 4 × 1542.80
    assert state.orders["o1"].margin_blocked_paise == 180_000
    assert state.blocked_paise == 180_000 + 123_424


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"price_paise": 154285}, Rejection.INVALID_PRICE, id="off-tick"),
        pytest.param({"price_paise": 185140}, Rejection.INVALID_PRICE, id="above-band"),
        pytest.param({"quantity": 0}, Rejection.INVALID_QUANTITY, id="zero-quantity"),
        pytest.param({"order_type": SL}, Rejection.INVALID_PRICE, id="sl-without-trigger"),
    ],
)
def test_modify_order_when_new_terms_invalid_then_rejected_without_events(
    changes: dict[str, Any],
    expected: Rejection,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    execute(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote))
    fingerprint = state_fingerprint(state)

    decision = execute(
        state,
        cmd.ModifyOrder(now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, **changes),
    )

    assert decision == Decision((), expected)
    assert state_fingerprint(state) == fingerprint


@pytest.mark.parametrize("filled_first", [0, 3], ids=["untouched", "after-partial-fill"])
def test_cancel_order_when_open_then_releases_whole_block(
    filled_first: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(
        state,
        place_order(reliance, quantity=10, price_paise=154280, quote=quote_for(reliance, 154280)),
    )
    if filled_first:
        execute(state, fill_order(reliance, "o1", filled_first, 154280))
    block = state.orders["o1"].margin_blocked_paise
    blocked_elsewhere = state.blocked_paise - block

    decision = execute(state, cmd.CancelOrder(now_ms=NOW_MS, order_id="o1"))

    (cancelled,) = decision.events
    assert isinstance(cancelled, ev.OrderCancelled)
    assert cancelled.margin_released_paise == block
    assert "o1" not in state.orders
    assert state.blocked_paise == blocked_elsewhere
    if not filled_first:
        assert state.available_paise == CRORE_PAISE


# --------------------------------------------------------------------------------------------
# fills turn blocks into position margin


@pytest.mark.parametrize(
    ("fill_price", "position_margin"),
    [
        pytest.param(154280, 308_560, id="at-limit"),
        pytest.param(154000, 308_000, id="better-than-limit"),  # 20 % × 10 × 1540.00
    ],
)
def test_fill_order_when_complete_then_block_becomes_margin_at_fill_price(
    fill_price: int,
    position_margin: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(
        state,
        place_order(reliance, quantity=10, price_paise=154280, quote=quote_for(reliance, 154280)),
    )

    decision = execute(state, fill_order(reliance, "o1", 10, fill_price))

    (filled,) = decision.events
    assert isinstance(filled, ev.OrderFilled)
    assert filled.block_released_paise == 308_560
    assert filled.position_margin_paise == position_margin
    assert state.orders == {}
    (position,) = state.positions.values()
    assert position.margin_paise == position_margin
    assert state.blocked_paise == position_margin


def test_fill_order_when_partial_then_block_released_pro_rata_and_last_takes_rest(
    rules: AccountRules,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    # 3 lots on NIFTY at 26138.60: 195 × 26138.60 = 50 97 027.00; 9.3 % = 4 74 023.511 ->
    # 4 74 023.51, 2 % = 1 01 940.54; block 5 75 964.05, not divisible by 3
    state = funded_account(CRORE_PAISE)
    execute(
        state,
        place_order(
            nifty_fut,
            product=NRML,
            quantity=195,
            price_paise=2613870,
            quote=quote_for(nifty_fut, 2613860),
        ),
    )
    assert state.orders["o1"].margin_blocked_paise == 57_596_405

    releases, portfolio = [], []
    for _ in range(3):
        decision = execute(state, fill_order(nifty_fut, "o1", 65, 2613870))
        (filled,) = decision.events
        assert isinstance(filled, ev.OrderFilled)
        releases.append(filled.block_released_paise)
        portfolio.append(state.portfolio_margin["NIFTY"])
        order = state.orders.get("o1")
        still_blocked = 0 if order is None else order.margin_blocked_paise
        assert state.blocked_paise == still_blocked + state.portfolio_margin["NIFTY"]

    # floor(57 596 405 / 3), then floor(38 397 604 / 2), then the rest
    assert releases == [19_198_801, 19_198_802, 19_198_802]
    assert sum(releases) == 57_596_405
    assert state.orders == {}
    # after each fill NIFTY's portfolio is the model's for the lots held, rounded once: 1 lot
    # 1 58 007.84 + 33 980.18; 2 lots 3 16 015.67 + 67 960.36; 3 lots the order's block
    market = market_for(rules, state, nifty_fut, now_ms=NOW_MS)
    assert market is not None
    expected = [
        _portfolio(rules, market, NOW_MS, (nifty_fut, 65 * lots, 65 * lots * 2613870)).blocked_paise
        for lots in (1, 2, 3)
    ]
    assert portfolio == expected == [19_198_802, 38_397_603, 57_596_405]
    (position,) = state.positions.values()
    assert position.margin_paise == 0
    assert state.blocked_paise == 57_596_405


@pytest.mark.parametrize(
    ("fills", "releases"),
    [
        # block 20 % × 7 × 1542.90 = 2160.06; floor(216 006 × 2 / 7) = 61 716, ...
        pytest.param([2, 2, 3], [61_716, 61_716, 92_574], id="2-2-3"),
        pytest.param([1, 6], [30_858, 185_148], id="1-6"),
        pytest.param([7], [216_006], id="all-at-once"),
    ],
)
def test_fill_order_when_split_then_releases_sum_to_block(
    fills: list[int],
    releases: list[int],
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(
        state,
        place_order(reliance, quantity=7, price_paise=154290, quote=quote_for(reliance, 154280)),
    )
    assert state.orders["o1"].margin_blocked_paise == 216_006

    got = []
    for quantity in fills:
        decision = execute(state, fill_order(reliance, "o1", quantity, 154290))
        (filled,) = decision.events
        assert isinstance(filled, ev.OrderFilled)
        got.append(filled.block_released_paise)

    assert got == releases
    assert sum(got) == 216_006


@pytest.mark.parametrize(
    ("price_source", "recorded"), [(PriceSource.LIVE, "LIVE"), (None, "")], ids=["live", "none"]
)
def test_place_when_accepted_then_order_keeps_every_term_it_was_placed_with(
    price_source: PriceSource | None,
    recorded: str,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    terms = place_order(
        reliance,
        order_id="o-7",
        client_order_id="algo-7",
        validity=Validity.IOC,
        quantity=3,
        price_paise=154280,
        quote=quote_for(reliance, 154280),
    )

    decision = execute(state, replace_struct(terms, price_source=price_source))

    (accepted,) = decision.events
    assert isinstance(accepted, ev.OrderAccepted)
    assert accepted.price_source == recorded
    order = state.orders["o-7"]
    assert (order.client_order_id, order.validity, order.quantity) == ("algo-7", Validity.IOC, 3)
    assert (order.created_ms, order.updated_ms) == (NOW_MS, NOW_MS)
    assert state.client_order_ids == {"algo-7": "o-7"}


def test_place_when_quote_carries_a_band_then_prices_checked_against_it_not_the_master(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
) -> None:
    # The market moved the band (a new previous close): the quote's band is the one in force.
    quote = quote_for(reliance, 180_000, reference_paise=180_000)
    master_low, master_high = circuit_band(rules.circuits, reliance, reliance.reference_price_paise)
    below_quote_band = quote.circuit_low_paise - reliance.tick_paise
    assert master_low <= below_quote_band <= master_high
    state = funded_account(CRORE_PAISE)
    limit = cmd.PlaceOrder(
        now_ms=NOW_MS,
        order_id="o1",
        client_order_id=None,
        instrument=reliance,
        side=BUY,
        product=MIS,
        order_type=LIMIT,
        validity=Validity.DAY,
        quantity=1,
        price_paise=below_quote_band,
        trigger_paise=0,
        quote=quote,
    )

    assert execute(state, limit).rejection is Rejection.INVALID_PRICE
    inside = replace_struct(limit, price_paise=quote.circuit_low_paise)
    assert execute(state, inside).rejection is None


def test_rejection_when_not_for_funds_then_carries_no_shortfall(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    off_tick = execute(state, place_order(reliance, price_paise=154283, quote=quote))
    assert off_tick.rejection is Rejection.INVALID_PRICE
    assert off_tick.shortfall is None
    assert execute(state, place_order(reliance, price_paise=154280, quote=quote)).rejection is None
    modified = execute(
        state,
        cmd.ModifyOrder(
            now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, price_paise=154283
        ),
    )
    assert modified == Decision((), Rejection.INVALID_PRICE)
