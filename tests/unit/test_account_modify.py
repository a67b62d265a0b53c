"""Every rejection of a modification, each at its boundary, and what an accepted one keeps.

Proves that ``ModifyOrder`` runs the checks of a new order on the order's new terms, in
precedence order, and refuses with no event and no change: a market closed for the order's
product (MIS stops at square-off, delivery at the close), a quantity off the lot, above the
freeze quantity or not above what has filled, order terms its type does not allow, a price or
trigger off the tick or outside the band (the instrument's reference band when no quote came),
a market order with no price to value it at, an order value above the cap (the remaining
quantity counts, equal to the cap is allowed), a delivery sell beyond the shares still free
(its own remaining quantity does not count against it), and a derivative order without its
underlying's market; and that an option sell modified is margined by the portfolio model on
the market stamped on the modification.

Amounts are paise; each hand computation sits in a comment next to its case.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.decide import decide
from engine.domain.account.state import AccountState, Decision, state_fingerprint
from engine.domain.enums import OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.portfolio import MarginLeg, UnderlyingMarket
from engine.domain.quote import Quote
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, run_command
from tests.support.margin_markets import market_for

CRORE_PAISE = 1_000_000_000
MARKET, LIMIT, SL, SL_M = OrderType.MARKET, OrderType.LIMIT, OrderType.SL, OrderType.SL_M
BUY, SELL = Side.BUY, Side.SELL
MIS, CNC, NRML = Product.MIS, Product.CNC, Product.NRML
IST = timezone(timedelta(hours=5, minutes=30))
Trade = Callable[..., tuple[Any, Any]]


def _ist(day: int, hour: int, minute: int) -> int:
    """Milliseconds at ``hour:minute`` IST on 2026-11-``day`` (the 23rd is a Monday)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


def _modify(
    instrument: Instrument,
    *,
    order_id: str = "o1",
    quote: Quote | None = None,
    now_ms: int = NOW_MS,
    **changes: Any,
) -> cmd.ModifyOrder:
    return cmd.ModifyOrder(
        now_ms=now_ms, order_id=order_id, instrument=instrument, quote=quote, **changes
    )


def _refused_without_change(
    state: AccountState, command: cmd.ModifyOrder, rules: AccountRules, expected: Rejection
) -> None:
    fingerprint = state_fingerprint(state)
    decision = run_command(state, command, rules)
    assert decision == Decision((), expected)
    assert state_fingerprint(state) == fingerprint


# --------------------------------------------------------------------------------------------
# market hours


@pytest.mark.parametrize(
    ("product", "at", "expected"),
    [
        pytest.param(MIS, _ist(23, 15, 19), None, id="mis-before-square-off"),
        pytest.param(MIS, _ist(23, 15, 20), Rejection.MARKET_CLOSED, id="mis-at-square-off"),
        pytest.param(CNC, _ist(23, 15, 20), None, id="cnc-after-mis-square-off"),
        pytest.param(CNC, _ist(23, 15, 29), None, id="cnc-before-close"),
        pytest.param(CNC, _ist(23, 15, 30), Rejection.MARKET_CLOSED, id="cnc-at-close"),
        pytest.param(CNC, _ist(28, 10, 0), Rejection.MARKET_CLOSED, id="cnc-saturday"),
        pytest.param(MIS, _ist(24, 9, 14), Rejection.MARKET_CLOSED, id="mis-before-open"),
    ],
)
def test_modify_order_when_market_closed_for_its_product_then_market_closed(
    product: Product,
    at: int,
    expected: Rejection | None,
    hours_rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    placed = run_command(
        state,
        place_order(
            reliance,
            product=product,
            quantity=10,
            price_paise=154280,
            quote=quote,
            now_ms=_ist(23, 10, 0),
        ),
        hours_rules,
    )
    assert placed.rejection is None
    command = _modify(reliance, quote=quote, now_ms=at, price_paise=150000)

    if expected is not None:
        _refused_without_change(state, command, hours_rules, expected)
    else:
        decision = run_command(state, command, hours_rules)
        assert decision.rejection is None
        assert state.orders["o1"].price_paise == 150000


# --------------------------------------------------------------------------------------------
# quantity, terms, tick and band


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"quantity": 64}, Rejection.INVALID_QUANTITY, id="off-lot"),
        pytest.param({"quantity": 1820}, Rejection.ABOVE_FREEZE_QUANTITY, id="above-freeze"),
        pytest.param({"quantity": 1755}, None, id="largest-below-freeze"),
        pytest.param({"quantity": -65}, Rejection.INVALID_QUANTITY, id="negative"),
        pytest.param({"price_paise": 2613865}, Rejection.INVALID_PRICE, id="off-tick"),
        # band 26138.60 ± 10 % -> [23524.80, 28752.40]
        pytest.param({"price_paise": 2875250}, Rejection.INVALID_PRICE, id="above-band"),
        pytest.param({"price_paise": 2875240}, None, id="at-upper-band"),
        pytest.param({"price_paise": 2352470}, Rejection.INVALID_PRICE, id="below-band"),
        pytest.param({"price_paise": 2352480}, None, id="at-lower-band"),
        pytest.param(
            {"order_type": SL, "trigger_paise": 2875250},
            Rejection.INVALID_PRICE,
            id="sl-trigger-above-band",
        ),
        pytest.param(
            {"order_type": SL, "trigger_paise": 2600005},
            Rejection.INVALID_PRICE,
            id="sl-trigger-off-tick",
        ),
        pytest.param({"order_type": SL, "trigger_paise": 2600000}, None, id="sl-trigger-in-band"),
        pytest.param(
            {"order_type": SL_M, "trigger_paise": 2352470},
            Rejection.INVALID_PRICE,
            id="slm-trigger-below-band",
        ),
        pytest.param({"order_type": MARKET, "price_paise": 2613860}, None, id="market-drops-price"),
        pytest.param({"order_type": SL_M}, Rejection.INVALID_PRICE, id="slm-without-trigger"),
        pytest.param({"trigger_paise": 2600000}, None, id="limit-drops-trigger"),
    ],
)
def test_modify_order_when_new_terms_checked_then_rejection_matches_rule(
    changes: dict[str, Any],
    expected: Rejection | None,
    rules: AccountRules,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(10 * CRORE_PAISE)
    quote = quote_for(nifty_fut, 2613860)
    execute(
        state,
        place_order(nifty_fut, product=NRML, quantity=65, price_paise=2613860, quote=quote),
    )
    command = _modify(nifty_fut, quote=quote, **changes)

    if expected is not None:
        _refused_without_change(state, command, rules, expected)
    else:
        decision = execute(state, command)
        assert decision.rejection is None
        (modified,) = decision.events
        assert isinstance(modified, ev.OrderModified)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        # without a quote the band is the reference 1542.80 ± 20 %: [1234.30, 1851.30]
        pytest.param(185130, None, id="at-reference-band"),
        pytest.param(185140, Rejection.INVALID_PRICE, id="above-reference-band"),
        pytest.param(123420, Rejection.INVALID_PRICE, id="below-reference-band"),
    ],
)
def test_modify_order_when_no_quote_then_band_from_reference_price(
    price: int,
    expected: Rejection | None,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, quantity=10, price_paise=154280))
    command = _modify(reliance, price_paise=price)

    if expected is not None:
        _refused_without_change(state, command, rules, expected)
    else:
        assert execute(state, command).rejection is None
        # 20 % × 10 × 1851.30
        assert state.orders["o1"].margin_blocked_paise == 370_260


@pytest.mark.parametrize(
    ("new_quantity", "expected"),
    [
        pytest.param(4, Rejection.INVALID_QUANTITY, id="equal-to-filled"),
        pytest.param(3, Rejection.INVALID_QUANTITY, id="below-filled"),
        pytest.param(5, None, id="one-above-filled"),
    ],
)
def test_modify_order_when_quantity_not_above_filled_then_invalid_quantity(
    new_quantity: int,
    expected: Rejection | None,
    rules: AccountRules,
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
    command = _modify(reliance, quote=quote, quantity=new_quantity)

    if expected is not None:
        _refused_without_change(state, command, rules, expected)
    else:
        assert execute(state, command).rejection is None
        # one left: 20 % × 1 × 1542.80
        assert state.orders["o1"].margin_blocked_paise == 30_856
        assert state.orders["o1"].remaining_quantity == 1


# --------------------------------------------------------------------------------------------
# price to value the order at


@pytest.mark.parametrize(
    ("ask", "expected", "block"),
    [
        pytest.param(None, Rejection.PRICE_UNAVAILABLE, 0, id="no-quote"),
        pytest.param(0, Rejection.PRICE_UNAVAILABLE, 0, id="no-ask"),
        pytest.param(-10, Rejection.PRICE_UNAVAILABLE, 0, id="negative-ask"),
        # ask 1542.90 + 3 % (46.287 -> 46.29) = 1589.19: 20 % × 10 × 1589.19
        pytest.param(154290, None, 317_838, id="ask"),
    ],
)
def test_modify_order_to_market_when_no_ask_then_price_unavailable(
    ask: int | None,
    expected: Rejection | None,
    block: int,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, quantity=10, price_paise=154280))
    quote = None
    if ask is not None:
        quote = msgspec.structs.replace(quote_for(reliance, 154280), ask_paise=ask)
    command = _modify(reliance, quote=quote, order_type=MARKET)

    if expected is not None:
        _refused_without_change(state, command, rules, expected)
    else:
        assert execute(state, command).rejection is None
        assert state.orders["o1"].margin_blocked_paise == block
        assert state.orders["o1"].order_type is MARKET


def test_modify_order_to_slm_when_no_quote_then_valued_at_protected_trigger(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, quantity=10, price_paise=154280))

    decision = execute(state, _modify(reliance, order_type=SL_M, trigger_paise=155000))

    assert decision.rejection is None
    # trigger 1550.00 + 3 % (46.50) = 1596.50: 20 % × 10 × 1596.50
    assert state.orders["o1"].margin_blocked_paise == 319_300
    assert (state.orders["o1"].price_paise, state.orders["o1"].trigger_paise) == (0, 155000)


# --------------------------------------------------------------------------------------------
# order value cap


@pytest.mark.parametrize(
    ("filled_first", "new_quantity", "expected"),
    [
        # cap 20 × 1542.80 = ₹30 856: 20 shares are exactly at it, 21 above
        pytest.param(0, 20, None, id="at-cap"),
        pytest.param(0, 21, Rejection.ORDER_VALUE_LIMIT, id="one-share-above-cap"),
        # after 4 filled only the remaining shares count: 24 - 4 = 20 at the cap, 25 - 4 above
        pytest.param(4, 24, None, id="remaining-at-cap"),
        pytest.param(4, 25, Rejection.ORDER_VALUE_LIMIT, id="remaining-above-cap"),
    ],
)
def test_modify_order_when_value_reaches_cap_then_equal_allowed_and_above_refused(
    filled_first: int,
    new_quantity: int,
    expected: Rejection | None,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    capped = dataclasses.replace(
        rules, limits=dataclasses.replace(rules.limits, order_value_max_paise=20 * 154280)
    )
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    run_command(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote), capped)
    if filled_first:
        run_command(state, fill_order(reliance, "o1", filled_first, 154280), capped)
    command = _modify(reliance, quote=quote, quantity=new_quantity)

    if expected is not None:
        _refused_without_change(state, command, capped, expected)
    else:
        assert run_command(state, command, capped).rejection is None
        # 20 remaining × 1542.80 × 20 %
        assert state.orders["o1"].margin_blocked_paise == 617_120


def test_modify_order_when_value_cap_hit_and_funds_short_then_value_limit_first(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    capped = dataclasses.replace(
        rules, limits=dataclasses.replace(rules.limits, order_value_max_paise=20 * 154280)
    )
    state = funded_account(400_000)  # enough for 10 shares' block (3085.60), not for 21
    quote = quote_for(reliance, 154280)
    run_command(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote), capped)

    _refused_without_change(
        state, _modify(reliance, quote=quote, quantity=21), capped, Rejection.ORDER_VALUE_LIMIT
    )


# --------------------------------------------------------------------------------------------
# delivery sells and the shares still free


@pytest.mark.parametrize(
    ("peer_sell", "filled_first", "new_quantity", "expected"),
    [
        # 5 owned, this sell of 3 the only one: it may grow to all 5, not to 6
        pytest.param(0, 0, 5, None, id="grow-to-all-owned"),
        pytest.param(0, 0, 6, Rejection.INSUFFICIENT_HOLDINGS, id="grow-beyond-owned"),
        # a peer sell of 2 reserves 2 of the 5: this one may hold 3, not 4
        pytest.param(2, 0, 3, None, id="rest-after-peer"),
        pytest.param(2, 0, 4, Rejection.INSUFFICIENT_HOLDINGS, id="peer-reserves-shares"),
        # 2 of this sell filled: 3 owned, the remaining (new quantity - 2) must fit in them
        pytest.param(0, 2, 5, None, id="remaining-fits-after-fill"),
        pytest.param(0, 2, 6, Rejection.INSUFFICIENT_HOLDINGS, id="remaining-beyond-after-fill"),
    ],
)
def test_modify_cnc_sell_when_quantity_grows_then_limited_to_free_shares(
    peer_sell: int,
    filled_first: int,
    new_quantity: int,
    expected: Rejection | None,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 5, 154280, product=CNC)  # today's CNC position
    if peer_sell:
        execute(
            state,
            place_order(
                reliance,
                order_id="s0",
                side=SELL,
                product=CNC,
                quantity=peer_sell,
                price_paise=160000,
            ),
        )
    placed = execute(
        state,
        place_order(
            reliance, order_id="s1", side=SELL, product=CNC, quantity=3, price_paise=155000
        ),
    )
    assert placed.rejection is None
    if filled_first:
        execute(state, fill_order(reliance, "s1", filled_first, 155000))
    command = _modify(reliance, order_id="s1", quantity=new_quantity)

    if expected is not None:
        _refused_without_change(state, command, rules, expected)
    else:
        decision = execute(state, command)
        assert decision.rejection is None
        assert state.orders["s1"].quantity == new_quantity
        assert state.orders["s1"].margin_blocked_paise == 0  # a delivery sell blocks no cash


def test_modify_cnc_sell_from_holdings_when_quantity_grows_then_limited_to_holding(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 4, 154280, product=CNC)
    execute(state, cmd.SettleHoldings(now_ms=NOW_MS))
    assert state.holdings[reliance.instrument_id].quantity == 4
    execute(
        state,
        place_order(
            reliance, order_id="s1", side=SELL, product=CNC, quantity=1, price_paise=155000
        ),
    )

    _refused_without_change(
        state, _modify(reliance, order_id="s1", quantity=5), rules, Rejection.INSUFFICIENT_HOLDINGS
    )
    assert execute(state, _modify(reliance, order_id="s1", quantity=4)).rejection is None


def test_modify_mis_sell_when_no_holdings_then_not_checked_for_shares(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    # an intraday short needs margin, not shares
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, side=SELL, quantity=5, price_paise=154280))

    decision = execute(state, _modify(reliance, quantity=10))

    assert decision.rejection is None
    assert state.orders["o1"].margin_blocked_paise == 308_560  # 20 % × 10 × 1542.80


def test_modify_cnc_buy_when_no_holdings_then_not_checked_for_shares(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, product=CNC, quantity=5, price_paise=154280))

    decision = execute(state, _modify(reliance, quantity=10))

    assert decision.rejection is None
    assert state.orders["o1"].margin_blocked_paise == 1_542_800  # 100 % × 10 × 1542.80


# --------------------------------------------------------------------------------------------
# what an accepted modification is valued at


def test_modify_when_to_market_and_ask_is_one_paisa_then_accepted_and_valued_there(
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    assert execute(state, place_order(wipro, quantity=10, price_paise=24400)).rejection is None
    penny_ask = msgspec.structs.replace(quote_for(wipro, 24400), ask_paise=1)

    decision = execute(state, _modify(wipro, quote=penny_ask, order_type=MARKET))

    assert decision.rejection is None
    (modified,) = decision.events
    assert isinstance(modified, ev.OrderModified)
    # 10 × (1 paisa + protection on 1 paisa, which rounds to 0) × 20 % MIS margin -> 2 paise
    assert modified.margin_blocked_paise == 2
    no_ask = msgspec.structs.replace(penny_ask, ask_paise=0)
    assert execute(state, _modify(wipro, quote=no_ask, quantity=20)).rejection is (
        Rejection.PRICE_UNAVAILABLE
    )


def _short_call_margin(
    rules: AccountRules, market: UnderlyingMarket, call: Instrument, quantity: int, price: int
) -> int:
    """What the portfolio model blocks for ``quantity`` of ``call`` sold at ``price`` alone."""
    leg = market.leg(call.instrument_id)
    assert leg is not None
    legs = [MarginLeg(leg, -quantity, -quantity * price)]
    return rules.portfolio.margin(legs, market, rules.trade_date(NOW_MS)).blocked_paise


def test_modify_when_option_sell_then_margined_on_the_stamped_underlying_price(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(nifty_call, 44145)
    placed_on = market_for(rules, state, nifty_call, now_ms=NOW_MS, price_paise=2613860)
    modified_on = market_for(rules, state, nifty_call, now_ms=NOW_MS, price_paise=2625000)
    assert placed_on is not None and modified_on is not None
    sell = place_order(
        nifty_call,
        side=SELL,
        product=NRML,
        quantity=65,
        price_paise=44145,
        quote=quote,
        market=placed_on,
    )
    assert execute(state, sell).rejection is None
    assert state.orders["o1"].margin_blocked_paise == _short_call_margin(
        rules, placed_on, nifty_call, 65, 44145
    )

    decision = execute(state, _modify(nifty_call, quote=quote, quantity=130, market=modified_on))

    (modified,) = decision.events
    assert isinstance(modified, ev.OrderModified)
    # 130 sold on the market stamped on the modification (26250.00), the order's own 65 not
    # counted twice; not on the market it was placed on (26138.60)
    expected = _short_call_margin(rules, modified_on, nifty_call, 130, 44145)
    assert modified.margin_blocked_paise == expected
    assert expected > _short_call_margin(rules, placed_on, nifty_call, 130, 44145)
    assert state.blocked_paise == expected


def test_modify_when_option_order_has_no_market_then_price_unavailable(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(nifty_call, 44145)
    sell = place_order(
        nifty_call, side=SELL, product=NRML, quantity=65, price_paise=44145, quote=quote
    )
    assert execute(state, sell).rejection is None
    fingerprint = state_fingerprint(state)

    # Straight to decide: the test harness would stamp a market on it, as the actor does.
    decision = decide(state, _modify(nifty_call, quote=quote, quantity=130), rules)

    assert decision == Decision((), Rejection.PRICE_UNAVAILABLE)
    assert state_fingerprint(state) == fingerprint
