"""Margin's boundaries: the smallest valid inputs, the first invalid ones, and the defaults.

Complements ``test_margin.py`` (one case per row of docs/DOMAIN.md §2) with the edges of each rule:
a quantity of 0 or 1, a price of 0, an option sell margined on the strike when the caller
gives no underlying price and on a reference of a single paisa, the expiry-day extra only when
asked for, leverage on a margin of one paisa, and pro-rata releases of a one-unit position.
Every refusal is checked by its message, so a bug answered by a different ``ValueError`` fails.

Amounts are paise; the comment on each case is the hand computation.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from engine.config import Config
from engine.domain.enums import Product, Side
from engine.domain.instruments import Instrument
from engine.domain.margin import leverage_x100, order_margin, pro_rata


@pytest.mark.parametrize(
    ("quantity", "price_paise", "margin_paise"),
    [
        # The smallest order: 1 x 0.01 = 1, CNC blocks 100 % = 1.
        pytest.param(1, 1, 1, id="one-unit-one-paisa"),
        # A price of 0 is allowed (not negative): nothing to block.
        pytest.param(1, 0, 0, id="zero-price"),
        pytest.param(3, 0, 0, id="zero-price-several-units"),
    ],
)
def test_order_margin_when_smallest_valid_order_then_blocks_value(
    config: Config, reliance: Instrument, quantity: int, price_paise: int, margin_paise: int
) -> None:
    margin = order_margin(config.margin, reliance, Product.CNC, Side.BUY, quantity, price_paise)
    assert margin == margin_paise


@pytest.mark.parametrize(
    ("quantity", "price_paise"),
    [
        pytest.param(0, 100_00, id="zero-quantity"),
        pytest.param(-1, 100_00, id="negative-quantity"),
        pytest.param(1, -1, id="negative-price"),
        pytest.param(0, -1, id="both"),
    ],
)
def test_order_margin_when_quantity_not_positive_or_price_negative_then_value_error(
    config: Config, reliance: Instrument, quantity: int, price_paise: int
) -> None:
    with pytest.raises(ValueError, match=r"^quantity must be positive and price not negative$"):
        order_margin(config.margin, reliance, Product.MIS, Side.BUY, quantity, price_paise)


def test_order_margin_when_option_sell_without_underlying_or_expiry_then_strike_no_extra(
    config: Config, nifty_call: Instrument
) -> None:
    # Called without the keywords: margined on the strike, 65 x 26000.00 = 16,90,00,000;
    # 9 % = 1,52,10,000 + 2 % = 33,80,000 = 1,85,90,000, no expiry-day extra.
    margin = order_margin(config.margin, nifty_call, Product.NRML, Side.SELL, 65, 441_45)
    assert margin == 18_590_000


def test_order_margin_when_option_sell_reference_one_paisa_then_margined_on_it(
    config: Config, nifty_call: Instrument
) -> None:
    # No strike, an underlying of 0.01: notional 100 x 1 = 100; 9 % = 9 + 2 % = 2.
    no_strike = replace(nifty_call, strike_paise=0)
    margin = order_margin(
        config.margin, no_strike, Product.NRML, Side.SELL, 100, 5, underlying_price_paise=1
    )
    assert margin == 11


def test_order_margin_when_option_sell_has_no_reference_then_value_error_names_it(
    config: Config, nifty_call: Instrument
) -> None:
    no_strike = replace(nifty_call, strike_paise=0)
    message = "^" + re.escape("no underlying price or strike for NSE_FO|45430") + "$"
    with pytest.raises(ValueError, match=message):
        order_margin(config.margin, no_strike, Product.NRML, Side.SELL, 65, 441_45)


def test_order_margin_when_cnc_derivative_then_value_error(
    config: Config, nifty_call: Instrument
) -> None:
    with pytest.raises(ValueError, match=r"^CNC is not a derivatives product$"):
        order_margin(config.margin, nifty_call, Product.CNC, Side.BUY, 65, 441_45)


def test_order_margin_when_nrml_equity_then_value_error(
    config: Config, reliance: Instrument
) -> None:
    with pytest.raises(ValueError, match=r"is not an equity product$"):
        order_margin(config.margin, reliance, Product.NRML, Side.BUY, 1, 100_00)


@pytest.mark.parametrize(
    ("value_paise", "margin_paise", "leverage"),
    [
        # The smallest margin that is blocked: 3 / 1 x 100 = 300.
        pytest.param(3, 1, 300, id="one-paisa-margin"),
        pytest.param(1, 1, 100, id="one-to-one"),
        # No margin (or a nonsensical negative one) shows no leverage.
        pytest.param(500, 0, 0, id="no-margin"),
        pytest.param(500, -1, 0, id="negative-margin"),
    ],
)
def test_leverage_when_margin_at_boundary_then_x100(
    value_paise: int, margin_paise: int, leverage: int
) -> None:
    assert leverage_x100(value_paise, margin_paise) == leverage


@pytest.mark.parametrize(
    ("amount_paise", "part", "whole", "share_paise"),
    [
        # A one-unit position: closing it releases everything, nothing releases nothing.
        pytest.param(7, 1, 1, 7, id="one-unit-closed"),
        pytest.param(7, 0, 1, 0, id="one-unit-untouched"),
        # 1000 x 2 // 3 = 666.
        pytest.param(1000, 2, 3, 666, id="two-thirds"),
        # 1 x 1 // 2 = 0: a single paisa is not split.
        pytest.param(1, 1, 2, 0, id="one-paisa-half"),
    ],
)
def test_pro_rata_when_one_unit_or_small_then_floored_share(
    amount_paise: int, part: int, whole: int, share_paise: int
) -> None:
    share = pro_rata(amount_paise, part, whole)
    assert share == share_paise
    assert type(share) is int


@pytest.mark.parametrize(
    ("amount_paise", "part", "whole", "message"),
    [
        pytest.param(100, 1, 0, r"^need 0 <= part <= whole and whole > 0$", id="no-whole"),
        pytest.param(100, 0, 0, r"^need 0 <= part <= whole and whole > 0$", id="zero-of-zero"),
        pytest.param(100, 0, -1, r"^need 0 <= part <= whole and whole > 0$", id="neg-whole"),
        pytest.param(100, 2, 1, r"^need 0 <= part <= whole and whole > 0$", id="part-over"),
        pytest.param(100, -1, 1, r"^need 0 <= part <= whole and whole > 0$", id="part-neg"),
        pytest.param(-1, 1, 1, "^amount must not be negative$", id="negative-amount"),
    ],
)
def test_pro_rata_when_out_of_range_then_value_error_says_why(
    amount_paise: int, part: int, whole: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pro_rata(amount_paise, part, whole)
