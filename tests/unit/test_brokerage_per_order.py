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

from engine import commands as cmd
from engine import events as ev
from engine.account import AccountState
from engine.charges import ChargeCategory, OrderSoFar, order_charges
from engine.enums import Product, Side
from engine.instruments import Instrument
from engine.rules import AccountRules
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
