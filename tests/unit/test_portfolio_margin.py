"""The portfolio margin of known option structures, hand-checked (docs/DOMAIN.md §2), and its
properties over random portfolios (``engine.risk.portfolio_margin``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import Instrument, Liquidity, UnderlyingKind
from engine.domain.money import Rate
from engine.domain.portfolio import LegMarket, MarginLeg, PortfolioMargin, UnderlyingMarket
from engine.domain.rules import AccountRules
from engine.market.black76_reference import price_option
from engine.risk import scenarios_reference
from engine.risk.portfolio_margin import SpanMarginModel
from engine.risk.scenarios import SCENARIOS

TODAY = date(2026, 12, 4)
EXPIRY = TODAY + timedelta(days=30)
FORWARD = 2_600_000  # NIFTY at ₹26,000
VOLATILITY = 0.13
YEARS = 30 / 365
RATE = 0.065
LOT = 65


def _contract(kind: str, strike_rupees: int = 0, expiry: date = EXPIRY) -> Instrument:
    instrument_type = {"F": InstrumentType.FUT, "C": InstrumentType.CE, "P": InstrumentType.PE}
    return Instrument(
        instrument_id=f"NFO:NIFTY{expiry:%y%m%d}{kind}{strike_rupees}",
        token=1,
        exchange=Exchange.NFO,
        segment=Segment.NFO_FUT if kind == "F" else Segment.NFO_OPT,
        symbol=f"NIFTY{kind}{strike_rupees}",
        name="NIFTY",
        instrument_type=instrument_type[kind],
        isin="",
        expiry=expiry,
        strike_paise=strike_rupees * 100,
        tick_paise=5,
        lot_size=LOT,
        reference_price_paise=0,
        liquidity=Liquidity.HIGH,
        underlying="NIFTY",
        underlying_kind=UnderlyingKind.INDEX,
        freeze_quantity=1800,
    )


def _leg(kind: str, strike_rupees: int, lots: int, *, expiry: date = EXPIRY) -> MarginLeg:
    """``lots`` (negative: short) of a contract bought or sold at its model price now."""
    contract = _contract(kind, strike_rupees, expiry)
    years = (expiry - TODAY).days / 365
    if kind == "F":
        return MarginLeg(LegMarket(contract, FORWARD, 0.0, years), lots * LOT, lots * LOT * FORWARD)
    priced = price_option(FORWARD, strike_rupees * 100, years, VOLATILITY, kind == "C", RATE)
    price = round(priced.price)
    market = LegMarket(contract, FORWARD, VOLATILITY, years)
    return MarginLeg(market, lots * LOT, lots * LOT * price)


def _margin(
    rules: AccountRules, legs: Sequence[MarginLeg], trade_date: date = TODAY
) -> PortfolioMargin:
    market = UnderlyingMarket(
        "NIFTY", UnderlyingKind.INDEX, FORWARD, VOLATILITY, tuple(leg.market for leg in legs)
    )
    return rules.portfolio.margin(legs, market, trade_date)


def _alone(rules: AccountRules, legs: Sequence[MarginLeg]) -> int:
    return sum(_margin(rules, [leg]).total_paise for leg in legs)


def _max_loss(legs: Sequence[MarginLeg]) -> int:
    """The structure's largest loss at expiry over underlying prices from 0 to 2× (paise)."""
    worst = 0
    for price in range(0, 2 * FORWARD, 500):
        value = 0
        for leg in legs:
            instrument = leg.market.instrument
            strike = instrument.strike_paise
            if instrument.is_future:
                unit = price
            elif instrument.instrument_type is InstrumentType.CE:
                unit = max(price - strike, 0)
            else:
                unit = max(strike - price, 0)
            value += leg.quantity * unit
        worst = min(worst, value - sum(leg.cost_paise for leg in legs))
    return -worst


def test_long_future_when_margined_then_the_scan_range_and_exposure_on_its_notional(
    rules: AccountRules,
) -> None:
    margin = _margin(rules, [_leg("F", 0, 1)])
    notional = LOT * FORWARD
    assert margin.span_paise == notional * 93 // 1000  # the −9.3 % scenario: ₹1,57,170
    assert margin.exposure_paise == notional * 2 // 100  # ₹33,800
    assert margin.blocked_paise == margin.total_paise == 19_097_000


def test_long_option_when_margined_then_its_premium(rules: AccountRules) -> None:
    call = _leg("C", 26_000, 1)
    margin = _margin(rules, [call])
    assert (margin.span_paise, margin.exposure_paise) == (0, 0)
    assert margin.total_paise == margin.blocked_paise == call.cost_paise


def test_short_call_when_margined_then_premium_credited_against_span_and_exposure(
    rules: AccountRules,
) -> None:
    call = _leg("C", 26_000, -1)
    margin = _margin(rules, [call])
    assert margin.exposure_paise == LOT * FORWARD * 2 // 100
    assert margin.premium_credit_paise == -call.cost_paise
    assert margin.blocked_paise == margin.total_paise - margin.premium_credit_paise
    assert 18_500_000 <= margin.total_paise <= 19_500_000  # ~₹1.91 L, as brokers show


@pytest.mark.parametrize(
    ("name", "legs", "band"),
    [
        ("straddle", [("C", 26_000, -1), ("P", 26_000, -1)], (21_500_000, 23_500_000)),
        ("strangle", [("C", 26_400, -1), ("P", 25_600, -1)], (19_000_000, 21_000_000)),
    ],
)
def test_short_straddle_and_strangle_when_margined_then_less_than_the_legs_alone(
    rules: AccountRules, name: str, legs: list[tuple[str, int, int]], band: tuple[int, int]
) -> None:
    built = [_leg(*leg) for leg in legs]
    total = _margin(rules, built).total_paise
    assert band[0] <= total <= band[1], name
    assert total < _alone(rules, built)


@pytest.mark.parametrize(
    ("name", "legs", "band"),
    [
        (
            "iron condor",
            [("C", 26_200, -1), ("P", 25_800, -1), ("C", 26_400, 1), ("P", 25_600, 1)],
            (8_000_000, 11_000_000),
        ),
        ("bull call spread", [("C", 26_000, 1), ("C", 26_200, -1)], (3_400_000, 6_100_000)),
        ("bear put spread", [("P", 26_000, 1), ("P", 25_800, -1)], (3_400_000, 6_100_000)),
        ("bear call credit spread", [("C", 26_200, -1), ("C", 26_400, 1)], (3_400_000, 6_500_000)),
    ],
)
def test_defined_risk_structure_when_margined_then_at_least_its_max_loss_far_below_the_legs(
    rules: AccountRules, name: str, legs: list[tuple[str, int, int]], band: tuple[int, int]
) -> None:
    built = [_leg(*leg) for leg in legs]
    margin = _margin(rules, built)
    assert band[0] <= margin.total_paise <= band[1], name
    assert margin.blocked_paise >= _max_loss(built)
    assert margin.total_paise * 3 < _alone(rules, built)


def test_covered_call_when_margined_then_below_the_future_and_call_alone(
    rules: AccountRules,
) -> None:
    built = [_leg("F", 0, 1), _leg("C", 26_200, -1)]
    margin = _margin(rules, built)
    future_alone = _margin(rules, built[:1])
    # The call pays for part of the fall (its premium is credited) but not for the risk left.
    assert (
        margin.blocked_paise < future_alone.blocked_paise + _margin(rules, built[1:]).blocked_paise
    )
    assert margin.span_paise >= future_alone.span_paise
    assert margin.total_paise < _alone(rules, built)


def test_calendar_spread_when_not_expiry_day_then_charged_on_the_matched_delta(
    rules: AccountRules,
) -> None:
    near = _leg("F", 0, 1, expiry=TODAY + timedelta(days=5))
    far = _leg("F", 0, -1, expiry=TODAY + timedelta(days=33))
    margin = _margin(rules, [near, far])
    # The scenarios move both months together: only the spread charge, 1.75 % of the far
    # month per matched delta (65 units at ₹26,000), is left of SPAN.
    assert margin.span_paise == LOT * FORWARD * 175 // 10_000
    assert margin.exposure_paise == 2 * (LOT * FORWARD * 2 // 100)
    assert margin.total_paise < _alone(rules, [near, far]) // 3


def test_calendar_spread_when_the_near_month_expires_today_then_no_benefit(
    rules: AccountRules,
) -> None:
    near = _leg("F", 0, 1, expiry=TODAY)
    far = _leg("F", 0, -1, expiry=TODAY + timedelta(days=28))
    on_expiry_day = _margin(rules, [near, far])
    apart = _margin(rules, [near]).span_paise + _margin(rules, [far]).span_paise
    assert on_expiry_day.span_paise == apart


def test_short_index_option_when_it_expires_today_then_the_extra_elm(rules: AccountRules) -> None:
    expiring = _leg("P", 26_000, -2, expiry=TODAY)
    margin = _margin(rules, [expiring])
    assert margin.additional_paise == 2 * LOT * FORWARD * 2 // 100
    day_before = _margin(rules, [expiring], trade_date=TODAY - timedelta(days=1))
    assert day_before.additional_paise == 0
    stock = replace(expiring.market.instrument, underlying_kind=UnderlyingKind.STOCK)
    as_stock = expiring._replace(market=msgspec.structs.replace(expiring.market, instrument=stock))
    market = UnderlyingMarket("NIFTY", UnderlyingKind.STOCK, FORWARD, 0.3, (as_stock.market,))
    assert rules.portfolio.margin([as_stock], market, TODAY).additional_paise == 0


# -- properties --------------------------------------------------------------------------------

STRIKES = st.integers(min_value=23_000, max_value=29_000).map(lambda rupees: rupees // 50 * 50)
KINDS = st.sampled_from(["F", "C", "P"])
LOTS = st.integers(min_value=-5, max_value=5).filter(bool)
LEGS = st.lists(st.tuples(KINDS, STRIKES, LOTS), min_size=1, max_size=8).map(
    lambda raw: list(
        {(k, s if k != "F" else 0): (k, s if k != "F" else 0, n) for k, s, n in raw}.values()
    )
)


@given(LEGS)
def test_margin_when_any_portfolio_then_never_negative(
    rules: AccountRules, legs: list[tuple[str, int, int]]
) -> None:
    margin = _margin(rules, [_leg(*leg) for leg in legs])
    assert min(margin.span_paise, margin.exposure_paise, margin.blocked_paise) >= 0


@given(LEGS, st.data())
def test_margin_when_a_position_is_reduced_by_its_opposite_leg_then_never_raised(
    rules: AccountRules, legs: list[tuple[str, int, int]], data: st.DataObject
) -> None:
    kind, strike, lots = data.draw(st.sampled_from(legs))
    alone = [_leg(kind, strike, lots)]
    reduced_by = data.draw(st.integers(min_value=1, max_value=abs(lots)))
    left = lots - reduced_by * (1 if lots > 0 else -1)
    after = [_leg(kind, strike, left)] if left else []
    assert _margin(rules, after).blocked_paise <= _margin(rules, alone).blocked_paise
    assert _margin(rules, after).total_paise <= _margin(rules, alone).total_paise


@given(LEGS, st.sampled_from(["C", "P"]), STRIKES)
def test_margin_when_an_unhedged_short_is_added_then_always_raised(
    rules: AccountRules, legs: list[tuple[str, int, int]], kind: str, strike: int
) -> None:
    built = [_leg(*leg) for leg in legs if (leg[0], leg[1]) != (kind, strike)]
    before = _margin(rules, built)
    after = _margin(rules, [*built, _leg(kind, strike, -1)])
    assert after.total_paise > before.total_paise


@given(LEGS)
def test_kernel_when_any_portfolio_then_equal_to_its_reference_to_the_paisa(
    rules: AccountRules, legs: list[tuple[str, int, int]]
) -> None:
    built = [_leg(*leg) for leg in legs]
    model = rules.portfolio
    assert isinstance(model, SpanMarginModel)
    reference = SpanMarginModel(model.config, model.rate, scenarios_reference.portfolio_spans)
    market = UnderlyingMarket(
        "NIFTY", UnderlyingKind.INDEX, FORWARD, VOLATILITY, tuple(leg.market for leg in built)
    )
    assert model.margin(built, market, TODAY) == reference.margin(built, market, TODAY)


def test_short_option_when_margined_then_scan_risk_one_day_ahead_less_its_value(
    rules: AccountRules,
) -> None:
    """SPAN of one short call restated scenario by scenario: each revalues the call a day
    later (1/365 of a year) at the forward moved by a multiple of the 9.3 % scan range and the
    volatility shifted 4 points, the extremes at 35 %; SPAN is the worst loss plus the call's
    value now (the net option value of a short is negative)."""
    call = _leg("C", 26_000, -1)
    strike, scan, shift, horizon = 2_600_000, 0.093, 0.04, 1 / 365
    value = price_option(FORWARD, strike, YEARS, VOLATILITY, True, RATE).price
    losses = []
    for scenario in SCENARIOS:
        moved = price_option(
            FORWARD * (1 + scenario.price_move * scan),
            strike,
            YEARS - horizon,
            VOLATILITY + scenario.volatility_direction * shift,
            True,
            RATE,
        ).price
        losses.append(LOT * (moved - value) * (0.35 if scenario.extreme else 1.0))
    expected = math.floor(max(losses) + LOT * value + 0.5)
    assert _margin(rules, [call]).span_paise == expected == 15_740_375


def test_short_option_when_a_minimum_is_set_then_span_at_least_that_share_of_the_notional(
    rules: AccountRules,
) -> None:
    """NSE's short-option minimum is 0 now; at 5 % a far out-of-the-money short call (worth
    nothing, no scenario reaches its strike) needs 5 % of 65 × ₹26,000 = ₹84,500 of SPAN."""
    model = rules.portfolio
    assert isinstance(model, SpanMarginModel)
    minimum = Rate.percent(5)
    parameters = tuple(
        replace(
            p,
            by_kind={k: replace(v, short_option_minimum=minimum) for k, v in p.by_kind.items()},
        )
        for p in model.config.parameters
    )
    with_minimum = SpanMarginModel(replace(model.config, parameters=parameters), model.rate)
    far = _leg("C", 40_000, -1)
    market = UnderlyingMarket("NIFTY", UnderlyingKind.INDEX, FORWARD, VOLATILITY, (far.market,))
    assert _margin(rules, [far]).span_paise == 0
    assert with_minimum.margin([far], market, TODAY).span_paise == 8_450_000


def test_long_options_when_margined_then_each_premium_counted_even_of_one_unit(
    rules: AccountRules,
) -> None:
    """Two long calls block both premiums, and a single unit long (quantity 1) is a long: its
    premium, no exposure and no credit."""
    low, high = _leg("C", 26_000, 1), _leg("C", 26_400, 2)
    margin = _margin(rules, [low, high])
    assert margin.premium_paise == low.cost_paise + high.cost_paise
    assert (margin.exposure_paise, margin.premium_credit_paise) == (0, 0)
    one = MarginLeg(low.market, 1, low.cost_paise // LOT)
    single = _margin(rules, [one])
    assert single.premium_paise == low.cost_paise // LOT
    assert (single.exposure_paise, single.premium_credit_paise) == (0, 0)


def test_short_options_expiring_today_when_two_then_the_extra_elm_on_both(
    rules: AccountRules,
) -> None:
    put = _leg("P", 26_000, -2, expiry=TODAY)
    call = _leg("C", 26_000, -1, expiry=TODAY)
    margin = _margin(rules, [put, call])
    assert margin.additional_paise == 3 * LOT * FORWARD * 2 // 100  # ₹1,01,400


def test_future_without_an_expiry_when_margined_then_as_a_dated_one(rules: AccountRules) -> None:
    """An expiry only groups legs (the expiry day, calendar spreads): a contract the master
    gives none is margined on its own figures."""
    dated = _leg("F", 0, 1)
    undated = dated._replace(
        market=msgspec.structs.replace(
            dated.market, instrument=replace(dated.market.instrument, expiry=None)
        )
    )
    assert _margin(rules, [undated]) == _margin(rules, [dated])
