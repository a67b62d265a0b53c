"""Margin follows every row of docs/DOMAIN.md §2 to the paisa, and pro-rata releases add up.

Proves the CNC, MIS, futures (index, stock, commodity) and option (buy, sell, expiry day) rows
with the default rates in ``configs/default.toml``; that SPAN and exposure are each rounded
half-up before being added; the leverage figure the preview route shows; and, with
Hypothesis, that releasing a block pro rata over any sequence of partial fills never releases
more than is still blocked and releases exactly the block in total.

All amounts are paise; the comment on each case is the hand computation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import load_config
from engine.domain.enums import Exchange, InstrumentType, Product, Segment, Side
from engine.domain.instruments import Instrument, Liquidity, UnderlyingKind
from engine.domain.margin import leverage_x100, order_margin, pro_rata

MARGIN = load_config().margin


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
        expiry=None if instrument_type is InstrumentType.EQ else date(2026, 11, 24),
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
    underlying_price_paise: int = 0
    expiry_day: bool = False


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
    # Index future NRML: 75 x 24000.00 = 18,00,00,000; 9 % = 1,62,00,000 + 2 % = 36,00,000.
    Case("index-future-nrml", NIFTY_FUT, Product.NRML, Side.BUY, 75, 24_000_00, 19_800_000),
    # The same as MIS and on the sell side: futures margin ignores product and side.
    Case("index-future-mis-sell", NIFTY_FUT, Product.MIS, Side.SELL, 75, 24_000_00, 19_800_000),
    # BFO index future: 20 x 80000.00 = 16,00,00,000; 9 % + 2 % = 1,44,00,000 + 32,00,000.
    Case("bfo-index-future", SENSEX_FUT, Product.NRML, Side.BUY, 20, 80_000_00, 17_600_000),
    # Each rate rounded, then added: 65 x 24000.15 = 15,60,00,975; 9 % = 14,040,087.75 ->
    # 14,040,088; 2 % = 3,120,019.5 -> 3,120,020 (half-up); sum 17,160,108 (one 11 % would
    # give 17,160,107.25 -> 17,160,107).
    Case(
        "index-future-each-rate-rounded",
        NIFTY_FUT,
        Product.NRML,
        Side.BUY,
        65,
        24_000_15,
        17_160_108,
    ),
    # Stock future: 500 x 1542.80 = 7,71,40,000; 15 % = 1,15,71,000 + 3.5 % = 26,99,900.
    Case("stock-future", RELIANCE_FUT, Product.NRML, Side.BUY, 500, 1542_80, 14_270_900),
    # MCX future: 100 x 6000.00 = 6,00,00,000; 10 % = 60,00,000.
    Case("mcx-future-10pct", CRUDE_FUT, Product.NRML, Side.SELL, 100, 6000_00, 6_000_000),
    # Option buy: the full premium, 65 x 146.00 = 9,49,000.
    Case("option-buy-premium", NIFTY_CE, Product.NRML, Side.BUY, 65, 146_00, 949_000),
    # Option sell on the underlying: 65 x 24050.35 = 15,63,27,275; 9 % = 14,069,454.75 ->
    # 14,069,455; 2 % = 3,126,545.5 -> 3,126,546 (half-up). Total 17,196,001.
    Case(
        "option-sell-underlying",
        NIFTY_CE,
        Product.NRML,
        Side.SELL,
        65,
        146_00,
        17_196_001,
        underlying_price_paise=24_050_35,
    ),
    # The same on expiry day: + 2 % of the notional = 3,126,546. Total 20,322,547.
    Case(
        "option-sell-expiry-day",
        NIFTY_CE,
        Product.NRML,
        Side.SELL,
        65,
        146_00,
        20_322_547,
        underlying_price_paise=24_050_35,
        expiry_day=True,
    ),
    # No underlying price: the strike, 65 x 24000.00 = 15,60,00,000 x 11 % = 1,71,60,000.
    Case("option-sell-strike-fallback", NIFTY_CE, Product.MIS, Side.SELL, 65, 146_00, 17_160_000),
    # Stock option sell: 500 x 1542.80 = 7,71,40,000 at the stock rates 15 % + 3.5 %.
    Case(
        "stock-option-sell",
        RELIANCE_PE,
        Product.NRML,
        Side.SELL,
        500,
        30_00,
        14_270_900,
        underlying_price_paise=1542_80,
    ),
    # Stock option sell on expiry day: no extra ELM (SEBI's is for index options only).
    Case(
        "stock-option-sell-expiry",
        RELIANCE_PE,
        Product.NRML,
        Side.SELL,
        500,
        30_00,
        14_270_900,
        underlying_price_paise=1542_80,
        expiry_day=True,
    ),
    # Expiry day does not change an option buy: still the premium 500 x 30.00 = 15,000.
    Case(
        "option-buy-expiry-day",
        RELIANCE_PE,
        Product.NRML,
        Side.BUY,
        500,
        30_00,
        1_500_000,
        underlying_price_paise=1542_80,
        expiry_day=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_order_margin_when_table_row_then_blocks_hand_computed(case: Case) -> None:
    margin_paise = order_margin(
        MARGIN,
        case.instrument,
        case.product,
        case.side,
        case.quantity,
        case.price_paise,
        underlying_price_paise=case.underlying_price_paise,
        expiry_day=case.expiry_day,
    )
    assert margin_paise == case.margin_paise


def test_order_margin_when_var_elm_above_floor_then_var_elm() -> None:
    # VaR+ELM 25 % beats the 20 % floor: 25 % x 2,50,00,000 = 62,50,000.
    margin = load_config(margin={"equity_var_elm_pct": "25"}).margin
    assert order_margin(margin, RELIANCE, Product.MIS, Side.BUY, 100, 2500_00) == 6_250_000


@pytest.mark.parametrize(
    ("exchange", "segment", "margin_paise"),
    [
        # Unknown kind on MCX: commodity 10 % of 6,00,00,000.
        pytest.param(Exchange.MCX, Segment.MCX_FUT, 6_000_000, id="mcx-as-commodity"),
        # Unknown kind elsewhere: the stricter stock rates, 18.5 % of 6,00,00,000.
        pytest.param(Exchange.NFO, Segment.NFO_FUT, 11_100_000, id="nfo-as-stock"),
    ],
)
def test_order_margin_when_underlying_kind_missing_then_conservative_default(
    exchange: Exchange, segment: Segment, margin_paise: int
) -> None:
    future = replace(
        CRUDE_FUT, exchange=exchange, segment=segment, underlying_kind=UnderlyingKind.NONE
    )
    assert order_margin(MARGIN, future, Product.NRML, Side.BUY, 100, 6000_00) == margin_paise


@pytest.mark.parametrize(
    ("instrument", "product", "side", "price_paise"),
    [
        pytest.param(RELIANCE, Product.NRML, Side.BUY, 100_00, id="nrml-equity"),
        pytest.param(NIFTY_FUT, Product.CNC, Side.BUY, 100_00, id="cnc-future"),
        pytest.param(NIFTY_CE, Product.CNC, Side.BUY, 100_00, id="cnc-option"),
        pytest.param(
            replace(NIFTY_CE, strike_paise=0),
            Product.NRML,
            Side.SELL,
            100_00,
            id="option-sell-no-reference",
        ),
        pytest.param(RELIANCE, Product.CNC, Side.BUY, -1, id="negative-price"),
    ],
)
def test_order_margin_when_no_table_row_then_value_error(
    instrument: Instrument, product: Product, side: Side, price_paise: int
) -> None:
    with pytest.raises(ValueError):
        order_margin(MARGIN, instrument, product, side, 1, price_paise)


@pytest.mark.parametrize(
    ("value_paise", "margin_paise", "leverage"),
    [
        pytest.param(25_000_000, 5_000_000, 500, id="mis-5x"),
        pytest.param(1_500_000, 1_500_000, 100, id="cnc-1x"),
        # 18,00,00,000 / 1,98,00,000 = 9.0909 -> 909.
        pytest.param(180_000_000, 19_800_000, 909, id="index-future-9.09x"),
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
