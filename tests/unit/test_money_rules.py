"""Integer money rounds half away from zero and parses rates and rupees exactly.

Proves, value by value, that ``div_half_up`` rounds halves away from zero on both sides of
zero (the negative branch included) and rejects a denominator that is not positive; that
``round_to_rupee`` keeps paise as the unit; that a percentage parses to parts per 10^9 and
anything finer is refused; that a rate applied to an amount is an integer rounded half-up; and
that rupees convert to paise exactly, refusing sub-paisa amounts.

Every expected value is worked out by hand in the comment or the case id.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domain.money import Rate, div_half_up, paise_to_rupees, round_to_rupee, rupees_to_paise


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [
        pytest.param(0, 7, 0, id="zero"),
        pytest.param(4, 1, 4, id="denominator-one"),
        pytest.param(-4, 1, -4, id="negative-denominator-one"),
        pytest.param(1, 3, 0, id="0.33-down"),
        pytest.param(2, 3, 1, id="0.67-up"),
        pytest.param(1, 2, 1, id="0.5-up"),
        pytest.param(5, 2, 3, id="2.5-up-not-even"),
        pytest.param(7, 2, 4, id="3.5-up"),
        pytest.param(-1, 3, 0, id="minus-0.33-to-zero"),
        pytest.param(-2, 3, -1, id="minus-0.67-away"),
        pytest.param(-1, 2, -1, id="minus-0.5-away"),
        pytest.param(-5, 2, -3, id="minus-2.5-away-not-even"),
        pytest.param(-7, 2, -4, id="minus-3.5-away"),
        pytest.param(-9, 4, -2, id="minus-2.25-to-zero"),
    ],
)
def test_div_half_up_when_divided_then_halves_round_away_from_zero(
    numerator: int, denominator: int, quotient: int
) -> None:
    result = div_half_up(numerator, denominator)
    assert result == quotient
    assert type(result) is int


@pytest.mark.parametrize("denominator", [0, -1, -2])
def test_div_half_up_when_denominator_not_positive_then_value_error(denominator: int) -> None:
    with pytest.raises(ValueError, match=r"^denominator must be positive$"):
        div_half_up(10, denominator)


@pytest.mark.parametrize(
    ("paise", "rounded_paise"),
    [
        pytest.param(0, 0, id="zero"),
        pytest.param(249, 200, id="2.49-down"),
        pytest.param(250, 300, id="2.50-up"),
        pytest.param(150, 200, id="1.50-up-not-even"),
        pytest.param(1234, 1200, id="12.34-down"),
        pytest.param(-150, -200, id="minus-1.50-away"),
        pytest.param(-149, -100, id="minus-1.49-to-zero"),
    ],
)
def test_round_to_rupee_when_paise_then_whole_rupees_in_paise(
    paise: int, rounded_paise: int
) -> None:
    result = round_to_rupee(paise)
    assert result == rounded_paise
    assert type(result) is int


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        pytest.param("18", 180_000_000, id="gst-18"),
        pytest.param("0.00307", 30_700, id="nse-exchange"),
        pytest.param("0.0001", 1_000, id="sebi"),
        pytest.param("0.0000001", 1, id="finest-1e-9"),
        pytest.param("0", 0, id="zero"),
        pytest.param(20, 200_000_000, id="int"),
        pytest.param(12.5, 125_000_000, id="float"),
    ],
)
def test_rate_percent_when_parsed_then_parts_per_billion(
    text: str | int | float, parts: int
) -> None:
    rate = Rate.percent(text)
    assert rate == Rate(parts)
    assert type(rate.parts) is int


@pytest.mark.parametrize("text", ["0.00000001", "0.00307001", "1e-8"])
def test_rate_percent_when_finer_than_1e9_then_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"is finer than 1e-9$"):
        Rate.percent(text)


@pytest.mark.parametrize(
    ("parts", "amount_paise", "applied_paise"),
    [
        # 18 % of 1000 = 180.
        pytest.param(180_000_000, 1_000, 180, id="exact"),
        # 0.0001 % of 25,00,000 = 2.5 -> 3.
        pytest.param(1_000, 2_500_000, 3, id="half-paisa-up"),
        # 0.00307 % of 1,00,000 = 3.07 -> 3.
        pytest.param(30_700, 100_000, 3, id="down"),
        # 18 % of -25 = -4.5 -> -5 (a negative amount rounds away from zero too).
        pytest.param(180_000_000, -25, -5, id="negative-half-away"),
        pytest.param(0, 1_000_000, 0, id="zero-rate"),
    ],
)
def test_rate_of_when_applied_then_integer_paise_half_up(
    parts: int, amount_paise: int, applied_paise: int
) -> None:
    result = Rate(parts).of(amount_paise)
    assert result == applied_paise
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "paise"),
    [
        pytest.param("1542.80", 154_280, id="two-decimals"),
        pytest.param("0.01", 1, id="one-paisa"),
        pytest.param(12, 1_200, id="int"),
        pytest.param(0.1, 10, id="float"),
        pytest.param(Decimal("12.5"), 1_250, id="decimal"),
        pytest.param("-3.25", -325, id="negative"),
        pytest.param("0", 0, id="zero"),
    ],
)
def test_rupees_to_paise_when_at_most_two_decimals_then_exact_paise(
    value: str | int | float | Decimal, paise: int
) -> None:
    result = rupees_to_paise(value)
    assert result == paise
    assert type(result) is int


@pytest.mark.parametrize("value", ["1.005", "0.001", 0.125])
def test_rupees_to_paise_when_sub_paisa_then_value_error(value: str | float) -> None:
    with pytest.raises(ValueError, match=r"has more than two decimals$"):
        rupees_to_paise(value)


@pytest.mark.parametrize(
    ("paise", "rupees"),
    [(12_345, 123.45), (1, 0.01), (0, 0.0), (-250, -2.5)],
)
def test_paise_to_rupees_when_rendered_then_divided_by_100(paise: int, rupees: float) -> None:
    assert paise_to_rupees(paise) == rupees
