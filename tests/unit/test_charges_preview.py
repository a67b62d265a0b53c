"""The calculator convention charges DP on a delivery round trip's sell leg (docs/DOMAIN.md §1).

Proves that ``round_trip_charges`` adds the configured DP charge (₹13 + GST = ₹15.34 per
scrip) to a CNC round trip or single delivery sell, and counts it in the total, without the
caller having to ask; that a delivery buy, MIS and F&O round trips pay none; that a caller who
knows the scrip already paid DP today can leave it out; that asking for DP outside a
delivery sell is a bug (``ValueError``); and that a one-leg options preview pays the flat
brokerage once, not also on the zero leg.

All amounts are paise.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.config import load_config
from engine.domain.charges import ChargeBreakdown, ChargeCategory, round_trip_charges

NOV_2026 = load_config().charges.on(date(2026, 11, 24))
CNC = ChargeCategory.CNC


def test_round_trip_when_cnc_with_sell_leg_then_dp_charged_and_in_total() -> None:
    # CNC NSE, 10 @ 1500 then 10 @ 1600: STT 31, exchange 95, SEBI 3, GST 18, stamp 200,
    # DP 1534 (Rs 13 + 18 % GST). Total 4950.
    charges = round_trip_charges(NOV_2026, CNC, "NSE", 1_500_000, 1_600_000)
    assert NOV_2026.dp_charge_paise == 1534
    assert charges == ChargeBreakdown(0, 3100, 95, 3, 18, 200, 1534)
    assert charges.total_paise == 4950


def test_round_trip_when_cnc_sell_leg_only_then_dp_charged() -> None:
    # A single delivery sell of 10 @ 1600 on BSE: STT 0.1 % = 1600; exchange 0.00375 % = 60;
    # SEBI 1.6 -> 2; GST 18 % x 62 = 11.16 -> 11; no stamp; DP 1534. Total 3207.
    charges = round_trip_charges(NOV_2026, CNC, "BSE", 0, 1_600_000)
    assert charges == ChargeBreakdown(0, 1600, 60, 2, 11, 0, 1534)
    assert charges.total_paise == 3207


@pytest.mark.parametrize(
    ("category", "exchange", "buy_paise", "sell_paise"),
    [
        pytest.param(CNC, "NSE", 1_500_000, 0, id="cnc-buy-only"),
        pytest.param(ChargeCategory.MIS, "NSE", 1_500_000, 1_600_000, id="mis"),
        pytest.param(ChargeCategory.FUTURES, "NFO", 180_000_000, 180_750_000, id="futures"),
        pytest.param(ChargeCategory.OPTIONS, "NFO", 949_000, 1_040_000, id="options"),
    ],
)
def test_round_trip_when_not_a_delivery_sell_then_no_dp(
    category: ChargeCategory, exchange: str, buy_paise: int, sell_paise: int
) -> None:
    charges = round_trip_charges(NOV_2026, category, exchange, buy_paise, sell_paise)
    assert charges.dp_paise == 0


def test_round_trip_when_scrip_already_paid_dp_today_then_caller_leaves_it_out() -> None:
    with_dp = round_trip_charges(NOV_2026, CNC, "NSE", 1_500_000, 1_600_000)
    without = round_trip_charges(NOV_2026, CNC, "NSE", 1_500_000, 1_600_000, dp_applies=False)
    assert without.dp_paise == 0
    assert with_dp.total_paise - without.total_paise == NOV_2026.dp_charge_paise


@pytest.mark.parametrize(
    ("category", "buy_paise", "sell_paise"),
    [
        pytest.param(ChargeCategory.MIS, 1_500_000, 1_600_000, id="intraday"),
        pytest.param(CNC, 1_500_000, 0, id="delivery-buy"),
    ],
)
def test_round_trip_when_dp_asked_outside_delivery_sell_then_value_error(
    category: ChargeCategory, buy_paise: int, sell_paise: int
) -> None:
    with pytest.raises(ValueError):
        round_trip_charges(NOV_2026, category, "NSE", buy_paise, sell_paise, dp_applies=True)


@pytest.mark.parametrize(
    ("buy_paise", "sell_paise", "expected", "total_paise"),
    [
        # Example B's buy alone: flat 2000 once (the zero sell leg pays none); STT 0;
        # exchange 0.03553 % x 9,49,000 = 337.18 -> 337; SEBI 0.949 -> 1;
        # GST 18 % x 2338 = 420.84 -> 421; stamp 28.47 -> Rs 0.28 -> Rs 0.
        pytest.param(949_000, 0, ChargeBreakdown(2000, 0, 337, 1, 421, 0), 2759, id="buy-only"),
        # Example B's sell alone: flat 2000 once; STT 0.15 % x 10,40,000 = 1560 -> Rs 16;
        # exchange 369.51 -> 370; SEBI 1.04 -> 1; GST 18 % x 2371 = 426.78 -> 427.
        pytest.param(
            0, 1_040_000, ChargeBreakdown(2000, 1600, 370, 1, 427, 0), 4398, id="sell-only"
        ),
    ],
)
def test_round_trip_when_one_option_leg_then_flat_brokerage_once(
    buy_paise: int, sell_paise: int, expected: ChargeBreakdown, total_paise: int
) -> None:
    charges = round_trip_charges(NOV_2026, ChargeCategory.OPTIONS, "NFO", buy_paise, sell_paise)
    assert charges == expected
    assert charges.total_paise == total_paise
