"""Margin's boundaries: the smallest valid inputs, the first invalid ones, and the defaults.

Complements ``test_margin.py`` (one case per row of docs/DOMAIN.md §2) with the edges of each rule:
an equity order of a quantity of 0 or 1 and a price of 0; a future or an option refused by the
equity rule (it is margined by portfolio, whatever its product); a portfolio with no legs; the
exposure and the expiry-day extra ELM of a one-unit short on a quarter of a paisa, rounded
half-up to a paisa or down to nothing; the block when the premium received meets the
requirement to the paisa; leverage on a margin of one paisa; and pro-rata releases of a one-unit
position. Every refusal is checked by its message, so a bug answered by a different
``ValueError`` fails.

Amounts are paise; the comment on each case is the hand computation.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from engine.config import Config
from engine.domain.enums import Product, Side
from engine.domain.instruments import Instrument
from engine.domain.margin import equity_margin, leverage_x100, pro_rata
from engine.domain.portfolio import (
    NO_MARGIN,
    LegMarket,
    MarginLeg,
    PortfolioMargin,
    UnderlyingMarket,
)
from engine.domain.rules import AccountRules


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
def test_equity_margin_when_smallest_valid_order_then_blocks_value(
    config: Config, reliance: Instrument, quantity: int, price_paise: int, margin_paise: int
) -> None:
    margin = equity_margin(config.margin, reliance, Product.CNC, Side.BUY, quantity, price_paise)
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
def test_equity_margin_when_quantity_not_positive_or_price_negative_then_value_error(
    config: Config, reliance: Instrument, quantity: int, price_paise: int
) -> None:
    with pytest.raises(ValueError, match=r"^quantity must be positive and price not negative$"):
        equity_margin(config.margin, reliance, Product.MIS, Side.BUY, quantity, price_paise)


@pytest.mark.parametrize("product", [Product.NRML, Product.MIS, Product.CNC])
def test_equity_margin_when_derivative_then_value_error_says_it_is_margined_by_portfolio(
    config: Config, nifty_call: Instrument, nifty_fut: Instrument, product: Product
) -> None:
    for derivative in (nifty_call, nifty_fut):
        message = "^" + re.escape(f"{derivative.instrument_id} is margined by portfolio") + "$"
        with pytest.raises(ValueError, match=message):
            equity_margin(config.margin, derivative, product, Side.SELL, 65, 441_45)


def test_equity_margin_when_nrml_equity_then_value_error(
    config: Config, reliance: Instrument
) -> None:
    with pytest.raises(ValueError, match=r"^NRML is not an equity product$"):
        equity_margin(config.margin, reliance, Product.NRML, Side.BUY, 1, 100_00)


def _one_unit_short(
    rules: AccountRules, call: Instrument, underlying_paise: int, trade_date: date
) -> PortfolioMargin:
    """One unit of ``call`` sold at 0.05, with no time left, on a market at ``underlying_paise``."""
    leg = LegMarket(call, float(underlying_paise), 0.13, 0.0)
    market = UnderlyingMarket("NIFTY", call.underlying_kind, underlying_paise, 0.13, (leg,))
    return rules.portfolio.margin([MarginLeg(leg, -1, -5)], market, trade_date)


def test_portfolio_margin_when_no_legs_then_nothing(
    rules: AccountRules, nifty_call: Instrument
) -> None:
    leg = LegMarket(nifty_call, 2_613_860.0, 0.13, 0.1)
    market = UnderlyingMarket("NIFTY", nifty_call.underlying_kind, 2_613_860, 0.13, (leg,))
    assert rules.portfolio.margin([], market, date(2026, 11, 24)) == NO_MARGIN
    assert NO_MARGIN.blocked_paise == NO_MARGIN.total_paise == 0


@pytest.mark.parametrize(
    ("underlying_paise", "extra_paise"),
    [
        # 2 % of 1 × 0.25 = ½ paisa: rounded half-up to 1.
        pytest.param(25, 1, id="half-paisa-up"),
        # 2 % of 1 × 0.24 = 0.48 paisa: rounded to nothing.
        pytest.param(24, 0, id="under-half-paisa"),
    ],
)
def test_portfolio_margin_when_notional_is_a_quarter_paisa_then_rounded_half_up(
    rules: AccountRules, nifty_call: Instrument, underlying_paise: int, extra_paise: int
) -> None:
    assert nifty_call.expiry is not None
    expiring = _one_unit_short(rules, nifty_call, underlying_paise, nifty_call.expiry)
    # Far out of the money (a strike of 26000 on 0.25): no SPAN, no value; only the 2 % charges.
    assert (expiring.span_paise, expiring.premium_credit_paise) == (0, 5)
    assert (expiring.exposure_paise, expiring.additional_paise) == (extra_paise, extra_paise)
    day_before = date.fromordinal(nifty_call.expiry.toordinal() - 1)
    assert _one_unit_short(rules, nifty_call, underlying_paise, day_before).additional_paise == 0


@pytest.mark.parametrize(
    ("credit_paise", "blocked_paise"),
    [
        # Requirement 1,000 less 999 received: 1 blocked.
        pytest.param(999, 1, id="one-paisa-short-of-it"),
        pytest.param(1_000, 0, id="exactly-met"),
        pytest.param(1_001, 0, id="one-paisa-over-never-negative"),
    ],
)
def test_portfolio_blocked_when_credit_meets_requirement_then_zero_never_negative(
    credit_paise: int, blocked_paise: int
) -> None:
    margin = PortfolioMargin(span_paise=700, exposure_paise=300, premium_credit_paise=credit_paise)
    assert margin.total_paise == 1_000
    assert margin.blocked_paise == blocked_paise


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
