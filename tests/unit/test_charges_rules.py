"""Charges at the edges of each rule (docs/DOMAIN.md §1), in integer paise.

Complements ``test_charges.py`` (the worked examples and one case per category) with the
boundaries: an order or a leg of 0 or 1 paisa; a flat brokerage of a single paisa; a
percentage brokerage with no cap (0) and with a cap of one paisa; the DP charge off unless
asked for on a single order and on by default for the smallest delivery sell of a round trip;
a breakeven over a single unit; and every refusal, checked by its message so a different
``ValueError`` (a division by zero further down, say) does not pass for it.

Schedules with a flat fee or a cap other than the configured ones are the November 2026
schedule with one field replaced. The comment on each case is the hand computation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from engine.config import load_config
from engine.domain.charges import (
    ChargeBreakdown,
    ChargeCategory,
    breakeven_points_paise,
    charge_category,
    order_charges,
    round_trip_charges,
)
from engine.domain.enums import Product, Segment, Side
from engine.domain.parameters import ChargeSchedule

NOV_2026 = load_config().charges.on(date(2026, 11, 24))
CNC, MIS = ChargeCategory.CNC, ChargeCategory.MIS
FUT, OPT = ChargeCategory.FUTURES, ChargeCategory.OPTIONS

# ChargeBreakdown's positional order: brokerage, STT, exchange, SEBI, GST, stamp, DP.
Charges = ChargeBreakdown

FLAT_ONE_PAISA = replace(NOV_2026, options=replace(NOV_2026.options, brokerage_flat_paise=1))
MIS_NO_CAP = replace(NOV_2026, mis=replace(NOV_2026.mis, brokerage_max_paise=0))
MIS_CAP_ONE_PAISA = replace(NOV_2026, mis=replace(NOV_2026.mis, brokerage_max_paise=1))


@pytest.mark.parametrize(
    ("schedule", "category", "exchange", "side", "value_paise", "expected", "total_paise"),
    [
        # Nothing traded pays nothing, not even the flat Rs 20 of an option order.
        pytest.param(NOV_2026, MIS, "NSE", Side.BUY, 0, Charges(), 0, id="mis-zero-value"),
        pytest.param(NOV_2026, OPT, "NFO", Side.SELL, 0, Charges(), 0, id="option-zero-value"),
        # One paisa of MIS: 0.03 % and every other rate round to 0.
        pytest.param(NOV_2026, MIS, "NSE", Side.BUY, 1, Charges(), 0, id="mis-one-paisa"),
        # One paisa of premium still pays the flat 2000; GST 18 % x 2000 = 360.
        pytest.param(
            NOV_2026,
            OPT,
            "NFO",
            Side.BUY,
            1,
            Charges(2000, 0, 0, 0, 360, 0),
            2360,
            id="option-one-paisa-flat",
        ),
        # A flat fee of one paisa replaces the (zero) percentage: brokerage 1; exchange
        # 0.03553 % x 9,49,000 = 337.18 -> 337; SEBI 0.949 -> 1; GST 18 % x 339 = 61.02
        # -> 61; stamp 28.47 -> 28.
        pytest.param(
            FLAT_ONE_PAISA,
            OPT,
            "NFO",
            Side.BUY,
            949_000,
            Charges(1, 0, 337, 1, 61, 28),
            428,
            id="flat-one-paisa",
        ),
        # A cap of 0 means no cap: 0.03 % x 1,00,00,000 = 3000; exchange 307; SEBI 10;
        # GST 18 % x 3317 = 597.06 -> 597; stamp 0.003 % = 300.
        pytest.param(
            MIS_NO_CAP,
            MIS,
            "NSE",
            Side.BUY,
            10_000_000,
            Charges(3000, 0, 307, 10, 597, 300),
            4214,
            id="no-cap",
        ),
        # A cap of one paisa: min(300, 1) = 1; exchange 30.7 -> 31; SEBI 1;
        # GST 18 % x 33 = 5.94 -> 6; stamp 30.
        pytest.param(
            MIS_CAP_ONE_PAISA,
            MIS,
            "NSE",
            Side.BUY,
            1_000_000,
            Charges(1, 0, 31, 1, 6, 30),
            69,
            id="cap-one-paisa",
        ),
        # A delivery sell without dp_applies pays no DP: STT 1600; exchange 49.12 -> 49;
        # SEBI 1.6 -> 2; GST 18 % x 51 = 9.18 -> 9.
        pytest.param(
            NOV_2026,
            CNC,
            "NSE",
            Side.SELL,
            1_600_000,
            Charges(0, 1600, 49, 2, 9, 0, 0),
            1660,
            id="cnc-sell-dp-not-asked",
        ),
    ],
)
def test_order_charges_when_value_or_rate_at_boundary_then_hand_computed(
    schedule: ChargeSchedule,
    category: ChargeCategory,
    exchange: str,
    side: Side,
    value_paise: int,
    expected: ChargeBreakdown,
    total_paise: int,
) -> None:
    charges = order_charges(schedule, category, exchange, side, value_paise)
    assert charges == expected
    assert charges.total_paise == total_paise


@pytest.mark.parametrize(
    ("schedule", "buy_paise", "sell_paise", "expected", "total_paise"),
    [
        # Both legs of a one-paisa flat fee: 1 + 1; exchange 0.03553 % x 19,89,000 =
        # 706.69 -> 707; SEBI 1.989 -> 2; GST 18 % x 711 = 127.98 -> 128; STT 0.15 % x
        # 10,40,000 = 1560 -> Rs 16; stamp 28.47 -> Rs 0.
        pytest.param(
            FLAT_ONE_PAISA,
            949_000,
            1_040_000,
            Charges(2, 1600, 707, 2, 128, 0),
            2439,
            id="flat-one-paisa-both-legs",
        ),
        # A zero leg pays no flat fee: only the buy's 1.
        pytest.param(
            FLAT_ONE_PAISA,
            949_000,
            0,
            Charges(1, 0, 337, 1, 61, 0),
            400,
            id="flat-one-paisa-buy-only",
        ),
        # Nothing on either leg: nothing at all.
        pytest.param(NOV_2026, 0, 0, Charges(), 0, id="nothing-traded"),
    ],
)
def test_round_trip_when_option_leg_at_boundary_then_hand_computed(
    schedule: ChargeSchedule,
    buy_paise: int,
    sell_paise: int,
    expected: ChargeBreakdown,
    total_paise: int,
) -> None:
    charges = round_trip_charges(schedule, OPT, "NFO", buy_paise, sell_paise)
    assert charges == expected
    assert charges.total_paise == total_paise


@pytest.mark.parametrize(
    ("schedule", "buy_paise", "sell_paise", "brokerage_paise"),
    [
        # No cap: 0.03 % x 1,00,00,000 = 3000 per leg.
        pytest.param(MIS_NO_CAP, 10_000_000, 10_000_000, 6000, id="no-cap"),
        # Cap of one paisa: 1 per leg.
        pytest.param(MIS_CAP_ONE_PAISA, 1_000_000, 1_000_000, 2, id="cap-one-paisa"),
        # Legs of different brokerage: 0.03 % x 10,00,000 = 300 and x 20,00,000 = 600.
        pytest.param(NOV_2026, 1_000_000, 2_000_000, 900, id="legs-added"),
    ],
)
def test_round_trip_when_brokerage_cap_at_boundary_then_per_leg(
    schedule: ChargeSchedule, buy_paise: int, sell_paise: int, brokerage_paise: int
) -> None:
    charges = round_trip_charges(schedule, MIS, "NSE", buy_paise, sell_paise)
    assert charges.brokerage_paise == brokerage_paise


def test_round_trip_when_delivery_sell_of_one_paisa_then_dp_charged() -> None:
    # The smallest sell leg still takes shares out of demat: STT 0.1 % x 1 = 0.001 -> 0,
    # every turnover charge 0, DP 1534.
    default = round_trip_charges(NOV_2026, CNC, "NSE", 0, 1)
    asked = round_trip_charges(NOV_2026, CNC, "NSE", 0, 1, dp_applies=True)
    assert default == asked == Charges(0, 0, 0, 0, 0, 0, 1534)


DELIVERY_SELL_ONLY = re.escape("the DP charge applies only to a delivery sell")
DELIVERY_CNC_SELL_ONLY = re.escape("the DP charge applies only to a delivery (CNC) sell")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: order_charges(NOV_2026, CNC, "NSE", Side.BUY, 100, dp_applies=True),
            f"^{DELIVERY_SELL_ONLY}$",
            id="order-dp-on-a-buy",
        ),
        pytest.param(
            lambda: round_trip_charges(NOV_2026, CNC, "NSE", 100, 0, dp_applies=True),
            f"^{DELIVERY_SELL_ONLY}$",
            id="round-trip-dp-without-a-sell-leg",
        ),
        pytest.param(
            lambda: round_trip_charges(NOV_2026, MIS, "NSE", 100, 100, dp_applies=True),
            f"^{DELIVERY_CNC_SELL_ONLY}$",
            id="round-trip-dp-on-intraday",
        ),
        pytest.param(
            lambda: order_charges(NOV_2026, MIS, "NSE", Side.BUY, -1),
            "^order value must not be negative$",
            id="order-negative",
        ),
        pytest.param(
            lambda: round_trip_charges(NOV_2026, MIS, "NSE", -1, 0),
            "^leg values must not be negative$",
            id="round-trip-negative-buy",
        ),
        pytest.param(
            lambda: round_trip_charges(NOV_2026, MIS, "NSE", 0, -1),
            "^leg values must not be negative$",
            id="round-trip-negative-sell",
        ),
        pytest.param(
            lambda: breakeven_points_paise(100, 0),
            "^quantity must be positive$",
            id="breakeven-zero-quantity",
        ),
        pytest.param(
            lambda: breakeven_points_paise(100, -1),
            "^quantity must be positive$",
            id="breakeven-negative-quantity",
        ),
        pytest.param(
            lambda: charge_category(Segment.NSE, Product.NRML),
            "^no charge category for NRML on segment NSE$",
            id="category-nrml-cash",
        ),
    ],
)
def test_charges_when_called_with_a_bug_then_value_error_says_why(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("total_paise", "quantity", "points_paise"),
    [
        # One unit carries all the charges.
        pytest.param(136_94, 1, 136_94, id="one-unit"),
        # 136.94 / 2 = 68.47.
        pytest.param(136_94, 2, 68_47, id="two-units"),
    ],
)
def test_breakeven_when_few_units_then_charges_per_unit(
    total_paise: int, quantity: int, points_paise: int
) -> None:
    assert breakeven_points_paise(total_paise, quantity) == points_paise
