"""Charges follow docs/DOMAIN.md §1 to the paisa.

Proves that the calculator convention reproduces both worked examples component by component,
that hand-computed round trips across every category, exchange and rate schedule match, that
every rounding is half-up (including values landing exactly on half a paisa or half a rupee),
and that the per-order convention the ledger uses charges each side what it should.

All amounts are paise; the comment on each case is the hand computation in rupees or paise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from engine.config import load_config
from engine.domain.charges import (
    ChargeBreakdown,
    ChargeCategory,
    breakeven_points_paise,
    charge_category,
    order_charges,
    rates_for,
    round_trip_charges,
)
from engine.domain.enums import Product, Segment, Side
from engine.domain.parameters import ChargeSchedule

CHARGES = load_config().charges
NOV_2026 = CHARGES.on(date(2026, 11, 24))
MAR_2026 = CHARGES.on(date(2026, 3, 31))  # the last day of the pre-Finance-Act-2026 rates

CNC, MIS = ChargeCategory.CNC, ChargeCategory.MIS
FUT, OPT = ChargeCategory.FUTURES, ChargeCategory.OPTIONS


# ChargeBreakdown's positional order: brokerage, STT, exchange, SEBI, GST, stamp, DP.
Charges = ChargeBreakdown


@dataclass(frozen=True)
class RoundTrip:
    id: str
    schedule: ChargeSchedule
    category: ChargeCategory
    exchange: str
    buy_paise: int
    sell_paise: int
    expected: ChargeBreakdown
    total_paise: int
    dp: bool = False


@dataclass(frozen=True)
class Order:
    id: str
    category: ChargeCategory
    exchange: str
    side: Side
    value_paise: int
    expected: ChargeBreakdown
    total_paise: int
    dp: bool = False


# --- the two worked examples of docs/DOMAIN.md, component by component ----------------------------


def test_round_trip_when_intraday_example_a_then_136_94() -> None:
    # bv 2,50,000, sv 2,51,000 (MIS, NSE), turnover 5,01,000 rupees.
    charges = round_trip_charges(NOV_2026, MIS, "NSE", 25_000_000, 25_100_000)
    assert charges.brokerage_paise == 40_00  # min(75, 20) + min(75.30, 20)
    assert charges.stt_paise == 63_00  # 0.025 % x 251000 = 62.75 -> 63
    assert charges.exchange_paise == 15_38  # 0.00307 % x 501000 = 15.3807
    assert charges.sebi_paise == 50  # 0.501
    assert charges.gst_paise == 10_06  # 18 % x 55.88 = 10.0584
    assert charges.stamp_paise == 8_00  # 0.003 % x 250000 = 7.50 -> 8
    assert charges.dp_paise == 0
    assert charges.total_paise == 136_94
    assert 1000_00 - charges.total_paise == 863_06  # net P&L


def test_round_trip_when_option_example_b_then_71_57() -> None:
    # NIFTY 65 units, bv 9,490, sv 10,400 (NFO options), turnover 19,890 rupees.
    charges = round_trip_charges(NOV_2026, OPT, "NFO", 9_490_00, 10_400_00)
    assert charges.brokerage_paise == 40_00  # flat 20 per leg
    assert charges.stt_paise == 16_00  # 0.15 % x 10400 = 15.60 -> 16
    assert charges.exchange_paise == 7_07  # 0.03553 % x 19890 = 7.066917
    assert charges.sebi_paise == 2  # 0.0001 % x 19890 = 0.01989 -> 0.02
    assert charges.gst_paise == 8_48  # 18 % x 47.09 = 8.4762
    assert charges.stamp_paise == 0  # 0.003 % x 9490 = 0.2847 -> 0.28 -> 0
    assert charges.total_paise == 71_57
    assert 910_00 - charges.total_paise == 838_43  # gross (160 - 146) x 65 = 910


# --- round trips computed by hand ---------------------------------------------------------------

ROUND_TRIPS = [
    # CNC NSE, 10 @ 1500 then 10 @ 1600 from holdings; turnover 31,00,000 paise.
    # STT 0.1 % x 31,00,000 = 3100 -> Rs 31; exchange 0.00307 % = 95.17 -> 95;
    # SEBI 3.1 -> 3; GST 18 % x 98 = 17.64 -> 18; stamp 0.015 % x 15,00,000 = 225
    # -> Rs 2.25 -> Rs 2; DP 15.34. Total 3100+95+3+18+200+1534 = 4950.
    RoundTrip(
        "cnc-delivery-with-dp",
        NOV_2026,
        CNC,
        "NSE",
        1_500_000,
        1_600_000,
        Charges(0, 3100, 95, 3, 18, 200, 1534),
        4950,
        dp=True,
    ),
    # MIS BSE, 200 @ 123.45 then 200 @ 124.10; bv 24,69,000, sv 24,82,000 paise.
    # brokerage 0.03 %: 740.7 -> 741 and 744.6 -> 745, both under the Rs 20 cap = 1486;
    # STT 0.025 % x 24,82,000 = 620.5 -> 621 (half-up) -> Rs 6.21 -> Rs 6;
    # exchange BSE 0.00375 % x 49,51,000 = 185.6625 -> 186; SEBI 4.951 -> 5;
    # GST 18 % x (1486+186+5) = 301.86 -> 302; stamp 0.003 % x 24,69,000 = 74.07 -> 74
    # -> Rs 0.74 -> Rs 1. Total 1486+600+186+5+302+100 = 2679.
    RoundTrip(
        "mis-bse-brokerage-below-cap",
        NOV_2026,
        MIS,
        "BSE",
        2_469_000,
        2_482_000,
        Charges(1486, 600, 186, 5, 302, 100),
        2679,
    ),
    # NIFTY future 75 @ 24000 then @ 24100; bv 18,00,00,000, sv 18,07,50,000 paise.
    # brokerage 0.03 % = Rs 540 per leg, capped at 20 + 20; STT 0.05 % x sv = 90375
    # -> Rs 903.75 -> Rs 904; exchange 0.00183 % x 36,07,50,000 = 6601.725 -> 6602;
    # SEBI 360.75 -> 361; GST 18 % x (4000+6602+361) = 1973.34 -> 1973;
    # stamp 0.002 % x bv = 3600 -> Rs 36. Total 4000+90400+6602+361+1973+3600 = 106936.
    RoundTrip(
        "nfo-futures-brokerage-capped",
        NOV_2026,
        FUT,
        "NFO",
        180_000_000,
        180_750_000,
        Charges(4000, 90400, 6602, 361, 1973, 3600),
        106_936,
    ),
    # The same NIFTY future on 31 Mar 2026, when futures STT was 0.02 %:
    # STT 0.02 % x 18,07,50,000 = 36150 -> Rs 361.50 -> Rs 362; the rest unchanged.
    # Total 4000+36200+6602+361+1973+3600 = 52736.
    RoundTrip(
        "nfo-futures-pre-april-2026-stt",
        MAR_2026,
        FUT,
        "NFO",
        180_000_000,
        180_750_000,
        Charges(4000, 36200, 6602, 361, 1973, 3600),
        52_736,
    ),
    # SENSEX future 20 @ 80000 then @ 79500; bv 16,00,00,000, sv 15,90,00,000 paise.
    # brokerage 20 + 20; STT 0.05 % x sv = 79500 -> Rs 795; exchange BFO 0;
    # SEBI 319; GST 18 % x (4000+0+319) = 777.42 -> 777; stamp 0.002 % x bv = 3200.
    # Total 4000+79500+0+319+777+3200 = 87796.
    RoundTrip(
        "bfo-futures-no-exchange-charge",
        NOV_2026,
        FUT,
        "BFO",
        160_000_000,
        159_000_000,
        Charges(4000, 79500, 0, 319, 777, 3200),
        87_796,
    ),
    # CRUDEOIL future 100 @ 6000 then @ 6050; bv 6,00,00,000, sv 6,05,00,000 paise.
    # brokerage 20 + 20; CTT 0.01 % x sv = 6050 -> Rs 60.50 -> Rs 61;
    # exchange MCX 0.0021 % x 12,05,00,000 = 2530.5 -> 2531 (half-up);
    # SEBI 120.5 -> 121 (half-up); GST 18 % x (4000+2531+121) = 1197.36 -> 1197;
    # stamp 0.002 % x bv = 1200. Total 4000+6100+2531+121+1197+1200 = 15149.
    RoundTrip(
        "mcx-futures-ctt",
        NOV_2026,
        FUT,
        "MCX",
        60_000_000,
        60_500_000,
        Charges(4000, 6100, 2531, 121, 1197, 1200),
        15_149,
    ),
    # BANKNIFTY option written 30 @ 250.50, bought back @ 200; sv 7,51,500, bv 6,00,000.
    # brokerage 20 + 20; STT 0.15 % x sv = 1127.25 -> 1127 -> Rs 11.27 -> Rs 11;
    # exchange 0.03553 % x 13,51,500 = 480.18795 -> 480; SEBI 1.3515 -> 1;
    # GST 18 % x 4481 = 806.58 -> 807; stamp 0.003 % x 6,00,000 = 18 -> Rs 0.18 -> 0.
    # Total 4000+1100+480+1+807+0 = 6388.
    RoundTrip(
        "option-sell-then-buy-back",
        NOV_2026,
        OPT,
        "NFO",
        600_000,
        751_500,
        Charges(4000, 1100, 480, 1, 807, 0),
        6388,
    ),
    # Single-leg preview of a MIS buy, 100 @ 2500: only the buy leg pays brokerage (20);
    # STT 0; exchange 0.00307 % x 2,50,00,000 = 767.5 -> 768 (half-up); SEBI 25;
    # GST 18 % x 2793 = 502.74 -> 503; stamp 750 -> Rs 7.50 -> Rs 8.
    # Total 2000+0+768+25+503+800 = 4096.
    RoundTrip(
        "single-leg-preview-buy",
        NOV_2026,
        MIS,
        "NSE",
        25_000_000,
        0,
        Charges(2000, 0, 768, 25, 503, 800),
        4096,
    ),
    # Single-leg preview of a MIS sell, 100 @ 2500: STT 0.025 % = 6250 -> Rs 62.50 -> Rs 63
    # (half-up; round-half-even would give 62); exchange 768; SEBI 25; GST 503; no stamp.
    # Total 2000+6300+768+25+503 = 9596.
    RoundTrip(
        "single-leg-preview-sell-half-rupee",
        NOV_2026,
        MIS,
        "NSE",
        0,
        25_000_000,
        Charges(2000, 6300, 768, 25, 503, 0),
        9596,
    ),
]


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=lambda case: case.id)
def test_round_trip_when_computed_by_hand_then_matches(case: RoundTrip) -> None:
    charges = round_trip_charges(
        case.schedule,
        case.category,
        case.exchange,
        case.buy_paise,
        case.sell_paise,
        dp_applies=case.dp,
    )
    assert charges == case.expected
    assert charges.total_paise == case.total_paise


@pytest.mark.parametrize(
    ("trade_date", "futures_stt_sell_pct_parts"),
    [
        pytest.param(date(2025, 6, 2), 200_000, id="2025-old-rate"),
        pytest.param(date(2026, 3, 31), 200_000, id="day-before-change-old-rate"),
        pytest.param(date(2026, 4, 1), 500_000, id="effective-day-new-rate"),
        pytest.param(date(2026, 11, 24), 500_000, id="november-new-rate"),
    ],
)
def test_schedule_when_trade_date_given_then_rate_in_force(
    trade_date: date, futures_stt_sell_pct_parts: int
) -> None:
    # 0.02 % = 200,000 and 0.05 % = 500,000 parts per 10^9.
    assert CHARGES.on(trade_date).futures.stt_sell.parts == futures_stt_sell_pct_parts


# --- one executed order (the ledger's convention) -----------------------------------------------

ORDERS = [
    # CNC buy 10 @ 1500: STT 0.1 % = 1500; exchange 46.05 -> 46; SEBI 1.5 -> 2;
    # GST 18 % x 48 = 8.64 -> 9; stamp 0.015 % = 225. Total 1782.
    Order("cnc-buy", CNC, "NSE", Side.BUY, 1_500_000, Charges(0, 1500, 46, 2, 9, 225), 1782),
    # CNC sell 10 @ 1600 from holdings: STT 1600; exchange 49.12 -> 49; SEBI 1.6 -> 2;
    # GST 18 % x 51 = 9.18 -> 9; no stamp; DP 1534. Total 3194.
    Order(
        "cnc-sell-with-dp",
        CNC,
        "NSE",
        Side.SELL,
        1_600_000,
        Charges(0, 1600, 49, 2, 9, 0, 1534),
        3194,
        dp=True,
    ),
    # Example A's buy leg alone: brokerage 2000 (cap); exchange 767.5 -> 768; SEBI 25;
    # GST 18 % x 2793 = 502.74 -> 503; stamp 750 (paise, not rounded to the rupee).
    Order("mis-buy", MIS, "NSE", Side.BUY, 25_000_000, Charges(2000, 0, 768, 25, 503, 750), 4046),
    # Example A's sell leg alone: STT 6275 (paise, not rounded to the rupee);
    # exchange 770.57 -> 771; SEBI 25.1 -> 25; GST 18 % x 2796 = 503.28 -> 503.
    Order(
        "mis-sell", MIS, "NSE", Side.SELL, 25_100_000, Charges(2000, 6275, 771, 25, 503, 0), 9574
    ),
    # MIS BSE buy 24,69,000: brokerage 740.7 -> 741; exchange 92.5875 -> 93;
    # SEBI 2.469 -> 2; GST 18 % x 836 = 150.48 -> 150; stamp 74.07 -> 74. Total 1060.
    Order("mis-bse-buy", MIS, "BSE", Side.BUY, 2_469_000, Charges(741, 0, 93, 2, 150, 74), 1060),
    # NIFTY future buy 18,00,00,000: brokerage 2000 (cap); exchange 0.00183 % = 3294;
    # SEBI 180; GST 18 % x 5474 = 985.32 -> 985; stamp 0.002 % = 3600. Total 10059.
    Order(
        "futures-nfo-buy",
        FUT,
        "NFO",
        Side.BUY,
        180_000_000,
        Charges(2000, 0, 3294, 180, 985, 3600),
        10_059,
    ),
    # NIFTY future sell 18,07,50,000: STT 0.05 % = 90375; exchange 3307.725 -> 3308;
    # SEBI 180.75 -> 181; GST 18 % x 5489 = 988.02 -> 988. Total 96852.
    Order(
        "futures-nfo-sell",
        FUT,
        "NFO",
        Side.SELL,
        180_750_000,
        Charges(2000, 90375, 3308, 181, 988, 0),
        96_852,
    ),
    # CRUDEOIL sell 6,05,00,000: CTT 0.01 % = 6050; exchange 0.0021 % = 1270.5 -> 1271;
    # SEBI 60.5 -> 61; GST 18 % x 3332 = 599.76 -> 600. Total 9982.
    Order(
        "futures-mcx-sell-ctt",
        FUT,
        "MCX",
        Side.SELL,
        60_500_000,
        Charges(2000, 6050, 1271, 61, 600, 0),
        9982,
    ),
    # Example B's buy leg: flat 2000; exchange 0.03553 % x 9,49,000 = 337.1797 -> 337;
    # SEBI 0.949 -> 1; GST 18 % x 2338 = 420.84 -> 421; stamp 28.47 -> 28. Total 2787.
    Order(
        "options-nfo-buy", OPT, "NFO", Side.BUY, 949_000, Charges(2000, 0, 337, 1, 421, 28), 2787
    ),
    # Example B's sell leg: STT 0.15 % = 1560; exchange 369.512 -> 370; SEBI 1.04 -> 1;
    # GST 18 % x 2371 = 426.78 -> 427. Total 4358.
    Order(
        "options-nfo-sell",
        OPT,
        "NFO",
        Side.SELL,
        1_040_000,
        Charges(2000, 1560, 370, 1, 427, 0),
        4358,
    ),
    # The same sell on BFO: exchange 0.0325 % x 10,40,000 = 338; GST 18 % x 2339 = 421.02.
    Order(
        "options-bfo-sell",
        OPT,
        "BFO",
        Side.SELL,
        1_040_000,
        Charges(2000, 1560, 338, 1, 421, 0),
        4320,
    ),
    # Half a paisa: MIS buy of Rs 25,000: brokerage 750; exchange 76.75 -> 77;
    # SEBI 0.0001 % x 25,00,000 = 2.5 -> 3 (round-half-even would give 2);
    # GST 18 % x 830 = 149.4 -> 149; stamp 75. Total 1054.
    Order(
        "sebi-exactly-half-paisa",
        MIS,
        "NSE",
        Side.BUY,
        2_500_000,
        Charges(750, 0, 77, 3, 149, 75),
        1054,
    ),
]


@pytest.mark.parametrize("case", ORDERS, ids=lambda case: case.id)
def test_order_charges_when_one_side_executes_then_matches(case: Order) -> None:
    charges = order_charges(
        NOV_2026, case.category, case.exchange, case.side, case.value_paise, dp_applies=case.dp
    )
    assert charges == case.expected
    assert charges.total_paise == case.total_paise


@pytest.mark.parametrize(
    ("value_paise", "brokerage_paise"),
    [
        pytest.param(1_000_000, 300, id="0.03pct-of-10000"),
        pytest.param(6_664_900, 1999, id="1999.47-down"),
        pytest.param(6_665_000, 2000, id="1999.5-half-up"),
        pytest.param(6_666_667, 2000, id="2000.0001-at-cap"),
        pytest.param(10_000_000, 2000, id="3000-capped"),
    ],
)
def test_brokerage_when_value_near_cap_then_min_of_rate_and_20(
    value_paise: int, brokerage_paise: int
) -> None:
    charges = order_charges(NOV_2026, MIS, "NSE", Side.BUY, value_paise)
    assert charges.brokerage_paise == brokerage_paise


def test_order_charges_when_both_legs_summed_then_differ_from_calculator() -> None:
    # The ledger rounds STT and stamp to paise per order; the calculator rounds them to rupees.
    buy = order_charges(NOV_2026, MIS, "NSE", Side.BUY, 25_000_000)
    sell = order_charges(NOV_2026, MIS, "NSE", Side.SELL, 25_100_000)
    both = buy + sell
    assert both == Charges(4000, 6275, 1539, 50, 1006, 750)
    assert both.total_paise == buy.total_paise + sell.total_paise == 13_620


def test_breakdown_when_added_to_zero_then_unchanged() -> None:
    charges = Charges(1, 2, 3, 4, 5, 6, 7)
    assert ChargeBreakdown() + charges == charges
    assert ChargeBreakdown().total_paise == 0
    assert (charges + charges).total_paise == 56


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: order_charges(NOV_2026, CNC, "NSE", Side.BUY, 100, dp_applies=True),
            id="dp-on-a-buy",
        ),
        pytest.param(
            lambda: round_trip_charges(NOV_2026, CNC, "NSE", 100, 0, dp_applies=True),
            id="dp-without-a-sell-leg",
        ),
        pytest.param(lambda: order_charges(NOV_2026, MIS, "NSE", Side.BUY, -1), id="negative"),
        pytest.param(lambda: breakeven_points_paise(100, 0), id="breakeven-no-quantity"),
    ],
)
def test_charges_when_called_with_a_bug_then_value_error(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


# --- categories, rates, breakeven ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "product", "category"),
    [
        (Segment.NSE, Product.CNC, CNC),
        (Segment.BSE, Product.CNC, CNC),
        (Segment.NSE, Product.MIS, MIS),
        (Segment.BSE, Product.MIS, MIS),
        (Segment.NFO_FUT, Product.NRML, FUT),
        (Segment.NFO_FUT, Product.MIS, FUT),
        (Segment.BFO_FUT, Product.NRML, FUT),
        (Segment.MCX_FUT, Product.NRML, FUT),
        (Segment.NFO_OPT, Product.NRML, OPT),
        (Segment.NFO_OPT, Product.MIS, OPT),
        (Segment.BFO_OPT, Product.NRML, OPT),
        (Segment.MCX_OPT, Product.MIS, OPT),
    ],
)
def test_charge_category_when_segment_and_product_then_column(
    segment: Segment, product: Product, category: ChargeCategory
) -> None:
    assert charge_category(segment, product) is category


@pytest.mark.parametrize(
    ("segment", "product"),
    [(Segment.NSE, Product.NRML), (Segment.BSE, Product.NRML), (Segment.INDICES, Product.CNC)],
)
def test_charge_category_when_no_such_order_then_value_error(
    segment: Segment, product: Product
) -> None:
    with pytest.raises(ValueError):
        charge_category(segment, product)


@pytest.mark.parametrize(
    ("category", "attribute"),
    [(CNC, "cnc"), (MIS, "mis"), (FUT, "futures"), (OPT, "options")],
)
def test_rates_for_when_category_then_its_schedule_section(
    category: ChargeCategory, attribute: str
) -> None:
    assert rates_for(NOV_2026, category) is getattr(NOV_2026, attribute)


@pytest.mark.parametrize(
    ("total_paise", "quantity", "points_paise"),
    [
        pytest.param(136_94, 100, 137, id="example-a-136.94-over-100"),
        pytest.param(71_57, 65, 110, id="example-b-71.57-over-65"),
        pytest.param(250, 100, 3, id="2.5-paise-half-up"),
        pytest.param(150, 4, 38, id="37.5-paise-half-up"),
        pytest.param(0, 10, 0, id="no-charges"),
    ],
)
def test_breakeven_when_charges_spread_over_quantity_then_half_up(
    total_paise: int, quantity: int, points_paise: int
) -> None:
    assert breakeven_points_paise(total_paise, quantity) == points_paise
