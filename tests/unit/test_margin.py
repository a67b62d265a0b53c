"""Margin follows every row of docs/DOMAIN.md §2 to the paisa, and pro-rata releases add up.

Proves the equity rows (CNC, MIS, a stock's own VaR+ELM) of ``engine.domain.margin``; and the
portfolio model's figures (``rules.portfolio``, the SPAN-style model of
``engine.risk.portfolio_margin``) for one future or option at a time, where they can be checked
by hand: a future's SPAN is the price scan range of its notional (at least 9.3 % index, 14.2 %
stock, 7 % commodity; 8.4853 daily σ when that is more) plus exposure (2 %, 3.5 %, 3 %); a long
option blocks its premium at cost; a short option with no time left is valued at its intrinsic
value, so its SPAN is its worst scenario loss plus what it owes now, its exposure is on the
underlying's notional, its premium received is credited, and on its expiry day an index
option's extra ELM of 2 % is added; a calendar spread whose near leg expires that day gets no
offset from its far leg from 2025-02-01, as before then it did. Each amount is rounded half-up
once. Also the leverage figure the preview route shows; and, with Hypothesis, that releasing a
block pro rata over any sequence of partial fills never releases more than is still blocked and
releases exactly the block in total.

All amounts are paise; the comment on each case is the hand computation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import account_rules, load_config
from engine.domain.enums import Exchange, InstrumentType, Product, Segment, Side
from engine.domain.instruments import Instrument, Liquidity, UnderlyingKind
from engine.domain.margin import equity_margin, leverage_x100, pro_rata
from engine.domain.portfolio import (
    NO_MARGIN,
    LegMarket,
    MarginLeg,
    PortfolioMargin,
    UnderlyingMarket,
    margin_kind,
)

CONFIG = load_config()
MARGIN = CONFIG.margin
PORTFOLIO = account_rules(CONFIG).portfolio
EXPIRY = date(2026, 11, 24)
DAY_BEFORE = EXPIRY - timedelta(days=1)


def _instrument(
    symbol: str,
    exchange: Exchange,
    segment: Segment,
    instrument_type: InstrumentType,
    *,
    underlying_kind: UnderlyingKind = UnderlyingKind.NONE,
    strike_paise: int = 0,
) -> Instrument:
    return Instrument(
        instrument_id=f"{segment}|{symbol}",
        token=1,
        exchange=exchange,
        segment=segment,
        symbol=symbol,
        name=symbol,
        instrument_type=instrument_type,
        isin="",
        expiry=None if instrument_type is InstrumentType.EQ else EXPIRY,
        strike_paise=strike_paise,
        tick_paise=5,
        lot_size=1,
        reference_price_paise=100_00,
        liquidity=Liquidity.HIGH,
        underlying="",
        underlying_kind=underlying_kind,
        freeze_quantity=0,
    )


RELIANCE = _instrument("RELIANCE", Exchange.NSE, Segment.NSE, InstrumentType.EQ)
SBIN_BSE = _instrument("SBIN", Exchange.BSE, Segment.BSE, InstrumentType.EQ)
NIFTY_FUT = _instrument(
    "NIFTY26NOVFUT",
    Exchange.NFO,
    Segment.NFO_FUT,
    InstrumentType.FUT,
    underlying_kind=UnderlyingKind.INDEX,
)
SENSEX_FUT = _instrument(
    "SENSEX26NOVFUT",
    Exchange.BFO,
    Segment.BFO_FUT,
    InstrumentType.FUT,
    underlying_kind=UnderlyingKind.INDEX,
)
RELIANCE_FUT = _instrument(
    "RELIANCE26NOVFUT",
    Exchange.NFO,
    Segment.NFO_FUT,
    InstrumentType.FUT,
    underlying_kind=UnderlyingKind.STOCK,
)
CRUDE_FUT = _instrument(
    "CRUDEOIL26DECFUT",
    Exchange.MCX,
    Segment.MCX_FUT,
    InstrumentType.FUT,
    underlying_kind=UnderlyingKind.COMMODITY,
)
NIFTY_CE = _instrument(
    "NIFTY26NOV24000CE",
    Exchange.NFO,
    Segment.NFO_OPT,
    InstrumentType.CE,
    underlying_kind=UnderlyingKind.INDEX,
    strike_paise=24_000_00,
)
RELIANCE_PE = _instrument(
    "RELIANCE26NOV1540PE",
    Exchange.NFO,
    Segment.NFO_OPT,
    InstrumentType.PE,
    underlying_kind=UnderlyingKind.STOCK,
    strike_paise=1540_00,
)


@dataclass(frozen=True)
class Case:
    id: str
    instrument: Instrument
    product: Product
    side: Side
    quantity: int
    price_paise: int
    margin_paise: int


CASES = [
    # CNC buy: 100 % of value, 10 x 1500.00 = 15,00,000.
    Case("cnc-buy-full-value", RELIANCE, Product.CNC, Side.BUY, 10, 1500_00, 1_500_000),
    # CNC sell: no cash (holdings are checked by the account).
    Case("cnc-sell-no-cash", RELIANCE, Product.CNC, Side.SELL, 10, 1500_00, 0),
    # MIS buy: max(12.5 %, 20 %) = 20 % of 100 x 2500.00 = 2,50,00,000 -> 50,00,000.
    Case("mis-buy-20pct", RELIANCE, Product.MIS, Side.BUY, 100, 2500_00, 5_000_000),
    # MIS short sell: the same 20 %.
    Case("mis-short-sell-20pct", RELIANCE, Product.MIS, Side.SELL, 100, 2500_00, 5_000_000),
    # MIS on BSE: 20 % of 1 x 12.34 = 246.8 -> 247 (half-up).
    Case("mis-bse-half-up", SBIN_BSE, Product.MIS, Side.BUY, 1, 12_34, 247),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_equity_margin_when_table_row_then_blocks_hand_computed(case: Case) -> None:
    margin_paise = equity_margin(
        MARGIN, case.instrument, case.product, case.side, case.quantity, case.price_paise
    )
    assert margin_paise == case.margin_paise


def test_equity_margin_when_var_elm_above_floor_then_var_elm() -> None:
    # VaR+ELM 25 % beats the 20 % floor: 25 % x 2,50,00,000 = 62,50,000.
    margin = load_config(margin={"equity_var_elm_pct": "25"}).margin
    assert equity_margin(margin, RELIANCE, Product.MIS, Side.BUY, 100, 2500_00) == 6_250_000


@pytest.mark.parametrize(
    ("instrument", "margin_paise"),
    [
        # RELIANCE's own 32.5 % beats the floor: 32.5 % x 2,50,00,000 = 81,25,000.
        pytest.param(RELIANCE, 8_125_000, id="listed-above-floor"),
        # SBIN's own 15 % is below the floor: 20 % x 2,50,00,000 = 50,00,000.
        pytest.param(SBIN_BSE, 5_000_000, id="listed-below-floor"),
    ],
)
def test_equity_margin_when_symbol_has_its_own_var_elm_then_max_of_it_and_floor(
    instrument: Instrument, margin_paise: int
) -> None:
    margin = load_config(
        margin={"equity_var_elm_pct_by_symbol": {"RELIANCE": "32.5", "SBIN": "15"}}
    ).margin
    assert equity_margin(margin, instrument, Product.MIS, Side.SELL, 100, 2500_00) == margin_paise
    # A symbol not listed keeps the default (12.5 %, so the 20 % floor).
    other = replace(RELIANCE, symbol="TCS")
    assert equity_margin(margin, other, Product.MIS, Side.SELL, 100, 2500_00) == 5_000_000


def _portfolio(
    instrument: Instrument,
    quantity: int,
    price_paise: int,
    underlying_paise: int,
    trade_date: date = DAY_BEFORE,
    volatility: float = 0.13,
    years: float = 0.0,
) -> PortfolioMargin:
    """The portfolio margin of one leg of ``quantity`` (signed) bought or sold at
    ``price_paise``, on a market where every contract is priced at ``underlying_paise``."""
    leg = LegMarket(
        instrument, float(underlying_paise), 0.0 if instrument.is_future else volatility, years
    )
    market = UnderlyingMarket(
        name=instrument.symbol,
        kind=margin_kind(instrument),
        price_paise=underlying_paise,
        volatility=volatility,
        legs=(leg,),
    )
    return PORTFOLIO.margin([MarginLeg(leg, quantity, quantity * price_paise)], market, trade_date)


@dataclass(frozen=True)
class PortfolioCase:
    id: str
    instrument: Instrument
    quantity: int  # signed: + long, − short
    price_paise: int
    underlying_paise: int
    expected: PortfolioMargin
    trade_date: date = DAY_BEFORE
    volatility: float = 0.13


PORTFOLIO_CASES = [
    # Index future: 75 x 24000.00 = 18,00,00,000; SPAN 9.3 % (8.4853 x 13 % / √252 = 6.95 % is
    # less) = 1,67,40,000, exposure 2 % = 36,00,000.
    PortfolioCase(
        "index-future-long",
        NIFTY_FUT,
        75,
        24_000_00,
        24_000_00,
        PortfolioMargin(span_paise=16_740_000, exposure_paise=3_600_000),
    ),
    # The same short (the −1 move instead of the +1): a future's margin ignores the side.
    PortfolioCase(
        "index-future-short",
        NIFTY_FUT,
        -75,
        24_000_00,
        24_000_00,
        PortfolioMargin(span_paise=16_740_000, exposure_paise=3_600_000),
    ),
    # Valued at the market, not the trade: bought at 23000.00, still 18,00,00,000 of notional.
    PortfolioCase(
        "index-future-at-the-market-price",
        NIFTY_FUT,
        75,
        23_000_00,
        24_000_00,
        PortfolioMargin(span_paise=16_740_000, exposure_paise=3_600_000),
    ),
    # BFO index future: 20 x 80000.00 = 16,00,00,000; 9.3 % = 1,48,80,000 + 2 % = 32,00,000.
    PortfolioCase(
        "bfo-index-future",
        SENSEX_FUT,
        20,
        80_000_00,
        80_000_00,
        PortfolioMargin(span_paise=14_880_000, exposure_paise=3_200_000),
    ),
    # Each amount rounded on its own: 65 x 24000.15 = 15,60,00,975; 9.3 % = 14,508,090.675 ->
    # 14,508,091; 2 % = 3,120,019.5 -> 3,120,020 (half-up).
    PortfolioCase(
        "index-future-each-amount-rounded",
        NIFTY_FUT,
        65,
        24_000_15,
        24_000_15,
        PortfolioMargin(span_paise=14_508_091, exposure_paise=3_120_020),
    ),
    # A volatile index: 8.4853 x 25 % / √252 = 13.3631 % beats 9.3 %: 13.3631 % of
    # 18,00,00,000 = 24,053,564.57 -> 24,053,565.
    PortfolioCase(
        "index-future-scan-from-volatility",
        NIFTY_FUT,
        75,
        24_000_00,
        24_000_00,
        PortfolioMargin(span_paise=24_053_565, exposure_paise=3_600_000),
        volatility=0.25,
    ),
    # Stock future: 500 x 1542.80 = 7,71,40,000; 14.2 % = 1,09,53,880 + 3.5 % = 26,99,900.
    PortfolioCase(
        "stock-future",
        RELIANCE_FUT,
        500,
        1542_80,
        1542_80,
        PortfolioMargin(span_paise=10_953_880, exposure_paise=2_699_900),
    ),
    # MCX future: 100 x 6000.00 = 6,00,00,000; 7 % = 42,00,000 + 3 % = 18,00,000.
    PortfolioCase(
        "mcx-future",
        CRUDE_FUT,
        -100,
        6000_00,
        6000_00,
        PortfolioMargin(span_paise=4_200_000, exposure_paise=1_800_000),
    ),
    # Option buy: the full premium at cost, 65 x 146.00 = 9,49,000; it can lose no more.
    PortfolioCase(
        "option-buy-premium",
        NIFTY_CE,
        65,
        146_00,
        24_050_35,
        PortfolioMargin(premium_paise=949_000),
    ),
    # Expiry day does not change an option buy: the premium 500 x 30.00 = 15,000.00.
    PortfolioCase(
        "option-buy-expiry-day",
        RELIANCE_PE,
        500,
        30_00,
        1542_80,
        PortfolioMargin(premium_paise=1_500_000),
        trade_date=EXPIRY,
    ),
    # A short call 50.35 in the money with no time left moves like a short future: the +1 move
    # loses 9.3 % of 65 x 24050.35 = 15,63,27,275 -> 14,538,436.575, and it owes its intrinsic
    # value 65 x 50.35 = 327,275 now (NOV): SPAN 14,865,711.575 -> 14,865,712; exposure 2 % of
    # 15,63,27,275 = 3,126,545.5 -> 3,126,546; premium received 65 x 146.00 = 9,49,000.
    PortfolioCase(
        "option-sell-on-underlying",
        NIFTY_CE,
        -65,
        146_00,
        24_050_35,
        PortfolioMargin(
            span_paise=14_865_712, exposure_paise=3_126_546, premium_credit_paise=949_000
        ),
    ),
    # The same on its expiry day: + 2 % of the notional 15,63,27,275 = 3,126,546.
    PortfolioCase(
        "option-sell-expiry-day",
        NIFTY_CE,
        -65,
        146_00,
        24_050_35,
        PortfolioMargin(
            span_paise=14_865_712,
            exposure_paise=3_126_546,
            additional_paise=3_126_546,
            premium_credit_paise=949_000,
        ),
        trade_date=EXPIRY,
    ),
    # Far out of the money (22500.00 against 24000): the +1 move (+9.3 % = 24592.50) loses
    # 592.50 a unit, the extreme +2 (26685.00) 2685.00 at 35 % = 939.75: 65 x 939.75 =
    # 61,083.75 -> 6,108,375; exposure 2 % of 65 x 22500 = 29,250; premium 65 x 0.05 = 3.25.
    PortfolioCase(
        "option-sell-far-out-extreme-move",
        NIFTY_CE,
        -65,
        5,
        22_500_00,
        PortfolioMargin(span_paise=6_108_375, exposure_paise=2_925_000, premium_credit_paise=325),
    ),
    # Stock put out of the money (1542.80 against 1540): the −1 move (−14.2 % = 1323.7224)
    # loses 216.2776 a unit, 500 x = 1,08,138.80 -> 10,813,880; exposure 3.5 % of 7,71,40,000
    # = 26,99,900; premium 500 x 30.00 = 15,000.
    PortfolioCase(
        "stock-option-sell",
        RELIANCE_PE,
        -500,
        30_00,
        1542_80,
        PortfolioMargin(
            span_paise=10_813_880, exposure_paise=2_699_900, premium_credit_paise=1_500_000
        ),
    ),
    # Stock option sell on its expiry day: no extra ELM (SEBI's is for index options only).
    PortfolioCase(
        "stock-option-sell-expiry-day",
        RELIANCE_PE,
        -500,
        30_00,
        1542_80,
        PortfolioMargin(
            span_paise=10_813_880, exposure_paise=2_699_900, premium_credit_paise=1_500_000
        ),
        trade_date=EXPIRY,
    ),
]


@pytest.mark.parametrize("case", PORTFOLIO_CASES, ids=lambda case: case.id)
def test_portfolio_margin_when_one_leg_then_hand_computed(case: PortfolioCase) -> None:
    margin = _portfolio(
        case.instrument,
        case.quantity,
        case.price_paise,
        case.underlying_paise,
        case.trade_date,
        case.volatility,
    )
    assert margin == case.expected


def test_portfolio_blocked_when_short_option_then_total_less_premium_received() -> None:
    # 14,865,712 + 3,126,546 = 17,992,258 a broker shows; less the 9,49,000 received.
    margin = _portfolio(NIFTY_CE, -65, 146_00, 24_050_35)
    assert margin.total_paise == 17_992_258
    assert margin.blocked_paise == 17_992_258 - 949_000


@pytest.mark.parametrize(
    ("margin", "total_paise", "blocked_paise"),
    [
        pytest.param(
            PortfolioMargin(
                span_paise=100,
                exposure_paise=20,
                additional_paise=5,
                premium_paise=7,
                premium_credit_paise=30,
            ),
            132,
            102,
            id="every-part",
        ),
        # More premium received than required: nothing blocked, never a negative block.
        pytest.param(
            PortfolioMargin(span_paise=100, exposure_paise=20, premium_credit_paise=121),
            120,
            0,
            id="credit-above-total",
        ),
        pytest.param(NO_MARGIN, 0, 0, id="nothing"),
    ],
)
def test_portfolio_totals_when_parts_given_then_summed_and_credit_never_below_zero(
    margin: PortfolioMargin, total_paise: int, blocked_paise: int
) -> None:
    assert (margin.total_paise, margin.blocked_paise) == (total_paise, blocked_paise)


def _calendar(expiry: date, trade_date: date) -> tuple[PortfolioMargin, PortfolioMargin]:
    """On ``trade_date``: (a call expiring on ``expiry`` sold, with a day's time left; that
    call hedged by the same strike bought a month later), on NIFTY at 24050.35."""
    near = replace(NIFTY_CE, instrument_id="near", expiry=expiry)
    far = replace(NIFTY_CE, instrument_id="far", expiry=expiry + timedelta(days=28))
    legs = {
        near: LegMarket(near, 24_050_35.0, 0.13, 1 / 365),
        far: LegMarket(far, 24_050_35.0, 0.13, 29 / 365),
    }
    market = UnderlyingMarket("NIFTY", UnderlyingKind.INDEX, 24_050_35, 0.13, tuple(legs.values()))
    short = MarginLeg(legs[near], -65, -65 * 146_00)
    long = MarginLeg(legs[far], 65, 65 * 146_00)
    return (
        PORTFOLIO.margin([short], market, trade_date),
        PORTFOLIO.margin([short, long], market, trade_date),
    )


@pytest.mark.parametrize(
    ("trade_date", "benefit"),
    [
        # From 2025-02-01 (SEBI circular 2024/132): what expires today is margined apart.
        pytest.param(EXPIRY, False, id="expiry-day-from-2025-02"),
        # Under the parameters of 2024-11-20 the far leg still offset the near one.
        pytest.param(date(2025, 1, 30), True, id="expiry-day-before-2025-02"),
    ],
)
def test_calendar_spread_when_near_leg_expires_today_then_benefit_only_before_2025_02(
    trade_date: date, benefit: bool
) -> None:
    alone, spread = _calendar(trade_date, trade_date)
    assert (alone.additional_paise, spread.additional_paise) == (3_126_546, 3_126_546)
    if benefit:
        assert spread.span_paise < alone.span_paise // 2
    else:
        # The long month's own SPAN is 0 (a long option loses at most its value), so the
        # spread's is the short's alone.
        assert spread.span_paise == alone.span_paise
    # The day before its expiry the long month offsets the short one either way.
    alone, spread = _calendar(trade_date, trade_date - timedelta(days=1))
    assert spread.additional_paise == 0
    assert spread.span_paise < alone.span_paise // 2


@pytest.mark.parametrize(
    ("exchange", "segment", "kind", "margin_paise"),
    [
        # Unknown kind on MCX: commodity 7 % + 3 % of 6,00,00,000.
        pytest.param(
            Exchange.MCX,
            Segment.MCX_FUT,
            UnderlyingKind.COMMODITY,
            6_000_000,
            id="mcx-as-commodity",
        ),
        # Unknown kind elsewhere: the stricter stock rates, 14.2 % + 3.5 % of 6,00,00,000.
        pytest.param(
            Exchange.NFO, Segment.NFO_FUT, UnderlyingKind.STOCK, 10_620_000, id="nfo-as-stock"
        ),
    ],
)
def test_portfolio_margin_when_underlying_kind_missing_then_conservative_default(
    exchange: Exchange, segment: Segment, kind: UnderlyingKind, margin_paise: int
) -> None:
    future = replace(
        CRUDE_FUT, exchange=exchange, segment=segment, underlying_kind=UnderlyingKind.NONE
    )
    assert margin_kind(future) is kind
    assert _portfolio(future, 100, 6000_00, 6000_00).blocked_paise == margin_paise


@pytest.mark.parametrize(
    ("instrument", "product", "side", "price_paise", "message"),
    [
        pytest.param(
            RELIANCE,
            Product.NRML,
            Side.BUY,
            100_00,
            "NRML is not an equity product",
            id="nrml-equity",
        ),
        pytest.param(
            NIFTY_FUT,
            Product.NRML,
            Side.BUY,
            100_00,
            "NFO-FUT|NIFTY26NOVFUT is margined by portfolio",
            id="future",
        ),
        pytest.param(
            NIFTY_CE,
            Product.CNC,
            Side.SELL,
            100_00,
            "NFO-OPT|NIFTY26NOV24000CE is margined by portfolio",
            id="option",
        ),
        pytest.param(
            RELIANCE,
            Product.CNC,
            Side.BUY,
            -1,
            "quantity must be positive and price not negative",
            id="negative-price",
        ),
    ],
)
def test_equity_margin_when_no_table_row_then_value_error(
    instrument: Instrument, product: Product, side: Side, price_paise: int, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        equity_margin(MARGIN, instrument, product, side, 1, price_paise)


@pytest.mark.parametrize(
    ("value_paise", "margin_paise", "leverage"),
    [
        pytest.param(25_000_000, 5_000_000, 500, id="mis-5x"),
        pytest.param(1_500_000, 1_500_000, 100, id="cnc-1x"),
        # An index future: 18,00,00,000 / 2,03,40,000 = 8.8496 -> 885.
        pytest.param(180_000_000, 20_340_000, 885, id="index-future-8.85x"),
        # 100 / 200 x 100 = 0.5 -> 1 (half-up).
        pytest.param(1, 200, 1, id="half-up"),
        pytest.param(25_000_000, 0, 0, id="no-margin-cnc-sell"),
    ],
)
def test_leverage_when_value_over_margin_then_x100_half_up(
    value_paise: int, margin_paise: int, leverage: int
) -> None:
    assert leverage_x100(value_paise, margin_paise) == leverage


@pytest.mark.parametrize(
    ("amount_paise", "part", "whole", "share_paise"),
    [
        pytest.param(1000, 1, 3, 333, id="third-floored"),
        pytest.param(1000, 2, 3, 666, id="two-thirds-floored"),
        pytest.param(1000, 3, 3, 1000, id="whole-exactly"),
        pytest.param(5, 1, 2, 2, id="half-rounds-down-not-up"),
        pytest.param(1000, 0, 3, 0, id="nothing"),
        pytest.param(0, 1, 2, 0, id="empty-block"),
    ],
)
def test_pro_rata_when_part_of_whole_then_floored_share(
    amount_paise: int, part: int, whole: int, share_paise: int
) -> None:
    assert pro_rata(amount_paise, part, whole) == share_paise


@pytest.mark.parametrize(
    ("amount_paise", "part", "whole"),
    [(100, 4, 3), (100, -1, 3), (100, 0, 0), (-1, 1, 2)],
)
def test_pro_rata_when_out_of_range_then_value_error(
    amount_paise: int, part: int, whole: int
) -> None:
    with pytest.raises(ValueError):
        pro_rata(amount_paise, part, whole)


@given(
    amount_paise=st.integers(min_value=0, max_value=10**13),
    parts=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=30),
)
def test_pro_rata_when_released_fill_by_fill_then_sums_to_block(
    amount_paise: int, parts: list[int]
) -> None:
    # A position of sum(parts) units closed by fills of `parts` units, releasing each time the
    # share of what is still blocked for the units still open.
    blocked_paise, open_units = amount_paise, sum(parts)
    released_paise = 0
    for part in parts:
        release_paise = pro_rata(blocked_paise, part, open_units)
        assert 0 <= release_paise <= blocked_paise
        # Never more than the exact share: what stays covers the units still open.
        assert release_paise * open_units <= blocked_paise * part
        blocked_paise -= release_paise
        open_units -= part
        released_paise += release_paise
    assert open_units == 0
    assert blocked_paise == 0
    assert released_paise == amount_paise


@given(
    amount_paise=st.integers(min_value=0, max_value=10**13),
    parts=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=30),
)
def test_pro_rata_when_released_by_cumulative_share_then_sums_to_block(
    amount_paise: int, parts: list[int]
) -> None:
    # The other usage: release the difference of cumulative shares of the original block.
    whole, filled = sum(parts), 0
    released_paise = 0
    for part in parts:
        before_paise = pro_rata(amount_paise, filled, whole)
        filled += part
        release_paise = pro_rata(amount_paise, filled, whole) - before_paise
        assert release_paise >= 0
        released_paise += release_paise
        assert released_paise <= amount_paise
    assert released_paise == amount_paise
