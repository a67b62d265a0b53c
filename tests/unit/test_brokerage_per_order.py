"""Brokerage is charged per executed order, however many fills the order takes.

Proves that an option order filled in several parts pays the flat ₹20 once (on its first
fill), that an intraday order whose parts would each hit the ₹20 cap pays the cap once, that
a small intraday order pays the same percentage whether filled whole or in parts, that the GST
of each fill is on that fill's own brokerage, and that ``order_charges`` with what the order
paid so far charges only the rest of the order's brokerage.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.charges import ChargeBreakdown, ChargeCategory, OrderSoFar, order_charges
from engine.domain.enums import Product, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor

RUPEE_PAISE = 100


def _fills(
    state: AccountState,
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
    quote_for: QuoteFor,
    instrument: Instrument,
    price_paise: int,
    parts: list[int],
    product: Product = Product.MIS,
) -> list[ev.OrderFilled]:
    quote = quote_for(instrument, price_paise)
    placed = execute(
        state,
        place_order(
            instrument, quantity=sum(parts), price_paise=price_paise, quote=quote, product=product
        ),
    )
    assert placed.rejection is None
    events: list[ev.OrderFilled] = []
    for part in parts:
        decision = execute(state, fill_order(instrument, "o1", part, price_paise))
        assert decision.rejection is None
        (event,) = decision.events
        assert isinstance(event, ev.OrderFilled)
        events.append(event)
    return events


def test_option_order_when_filled_in_parts_then_flat_brokerage_once(
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
    quote_for: QuoteFor,
) -> None:
    lot = nifty_call.lot_size
    fills = _fills(
        funded_account(),
        execute,
        place_order,
        fill_order,
        quote_for,
        nifty_call,
        44_145,
        [lot, lot, lot],
        product=Product.NRML,
    )
    assert [f.brokerage_paise for f in fills] == [20 * RUPEE_PAISE, 0, 0]


@pytest.mark.parametrize(
    ("parts", "expected_paise"),
    [
        pytest.param([500, 500], [2000, 0], id="each-part-over-cap"),
        pytest.param([40, 40], [1851, 149], id="parts-cross-cap"),
        pytest.param([10, 10], [463, 463], id="under-cap"),
    ],
)
def test_intraday_order_when_filled_in_parts_then_capped_brokerage_once(
    parts: list[int],
    expected_paise: list[int],
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
    quote_for: QuoteFor,
    rules: AccountRules,
) -> None:
    state = funded_account()
    fills = _fills(state, execute, place_order, fill_order, quote_for, reliance, 154_280, parts)
    assert [f.brokerage_paise for f in fills] == expected_paise
    schedule = rules.charges.on(rules.trade_date(NOW_MS))
    whole = order_charges(schedule, ChargeCategory.MIS, "NSE", Side.BUY, sum(parts) * 154_280)
    assert sum(expected_paise) == whole.brokerage_paise


def test_order_charges_when_order_paid_before_then_gst_on_this_fills_brokerage(
    rules: AccountRules,
) -> None:
    schedule = rules.charges.on(rules.trade_date(NOW_MS))
    first = order_charges(schedule, ChargeCategory.MIS, "NSE", Side.BUY, 3_000_000_00)
    rest = order_charges(
        schedule,
        ChargeCategory.MIS,
        "NSE",
        Side.BUY,
        1_000_000_00,
        so_far=OrderSoFar(3_000_000_00, first.brokerage_paise),
    )
    alone = order_charges(schedule, ChargeCategory.MIS, "NSE", Side.BUY, 1_000_000_00)
    assert (first.brokerage_paise, rest.brokerage_paise) == (2000, 0)
    assert rest.gst_paise == schedule.gst.of(rest.exchange_paise + rest.sebi_paise)
    assert alone.gst_paise - rest.gst_paise == schedule.gst.of(
        alone.brokerage_paise + alone.exchange_paise + alone.sebi_paise
    ) - schedule.gst.of(alone.exchange_paise + alone.sebi_paise)


@pytest.mark.parametrize(
    ("category", "exchange", "so_far", "value_paise", "expected"),
    [
        # Under the cap: the order's 0.03 % of 60,00,000 = 1800 less the 1200 paid = 600;
        # exchange 0.00307 % x 20,00,000 = 61.4 -> 61; SEBI 2; GST 18 % x 663 = 119.34
        # -> 119; stamp 0.003 % = 60.
        pytest.param(
            ChargeCategory.MIS,
            "NSE",
            OrderSoFar(4_000_000, 1200),
            2_000_000,
            ChargeBreakdown(600, 0, 61, 2, 119, 60),
            id="mis-under-cap",
        ),
        # Crossing the cap: min(0.03 % x 70,00,000 = 2100, 2000) less 1800 paid = 200;
        # exchange 30.7 -> 31; SEBI 1; GST 18 % x 232 = 41.76 -> 42; stamp 30.
        pytest.param(
            ChargeCategory.MIS,
            "NSE",
            OrderSoFar(6_000_000, 1800),
            1_000_000,
            ChargeBreakdown(200, 0, 31, 1, 42, 30),
            id="mis-crossing-cap",
        ),
        # Already at the cap: nothing more; exchange 153.5 -> 154 (half-up); SEBI 5;
        # GST 18 % x 159 = 28.62 -> 29; stamp 150.
        pytest.param(
            ChargeCategory.MIS,
            "NSE",
            OrderSoFar(10_000_000, 2000),
            5_000_000,
            ChargeBreakdown(0, 0, 154, 5, 29, 150),
            id="mis-cap-paid",
        ),
        # An option order's later fill: the flat 2000 was paid; exchange 0.03553 % x
        # 1,00,000 = 35.53 -> 36; SEBI 0.1 -> 0; GST 18 % x 36 = 6.48 -> 6; stamp 3.
        pytest.param(
            ChargeCategory.OPTIONS,
            "NFO",
            OrderSoFar(949_000, 2000),
            100_000,
            ChargeBreakdown(0, 0, 36, 0, 6, 3),
            id="option-flat-paid",
        ),
    ],
)
def test_order_charges_when_later_fill_then_rest_of_order_brokerage_only(
    category: ChargeCategory,
    exchange: str,
    so_far: OrderSoFar,
    value_paise: int,
    expected: ChargeBreakdown,
    rules: AccountRules,
) -> None:
    schedule = rules.charges.on(rules.trade_date(NOW_MS))
    charges = order_charges(schedule, category, exchange, Side.BUY, value_paise, so_far=so_far)
    assert charges == expected
