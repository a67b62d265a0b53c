"""Market hours when enforced (docs/DOMAIN.md §6): which sessions are open, when MIS stops, which
boundaries a tick passes, and the decisions that refuse orders while a market is closed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.config import Config
from engine.domain.account.decide import decide
from engine.domain.account.state import AccountState
from engine.domain.enums import Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from engine.domain.sessions import Boundary, SessionGroup, SessionRules
from tests.conftest import QuoteFor, place
from tests.support.margin_markets import market_of

IST = timezone(timedelta(hours=5, minutes=30))
EQUITY, DERIVATIVES, COMMODITIES = SessionGroup
SQUARE_OFF, CLOSE = Boundary.SQUARE_OFF, Boundary.CLOSE


def ist(day: int, hour: int, minute: int, month: int = 11) -> int:
    """Milliseconds at ``hour:minute`` IST on 2026-``month``-``day`` (23 November is a
    Monday, the 24th an exchange holiday; US daylight saving time ended on 1 November)."""
    return int(datetime(2026, month, day, hour, minute, tzinfo=IST).timestamp() * 1000)


def test_sessions_when_not_enforced_then_no_rules(config: Config) -> None:
    assert not config.sessions.enforce_hours
    assert SessionRules.from_config(config.sessions) is None


@pytest.mark.parametrize(
    ("group", "at", "is_open", "mis_open"),
    [
        pytest.param(EQUITY, ist(23, 9, 14), False, False, id="equity-before-open"),
        pytest.param(EQUITY, ist(23, 9, 15), True, True, id="equity-at-open"),
        pytest.param(EQUITY, ist(23, 15, 19), True, True, id="equity-before-square-off"),
        pytest.param(EQUITY, ist(23, 15, 20), True, False, id="equity-squared-off"),
        pytest.param(EQUITY, ist(23, 15, 30), False, False, id="equity-closed"),
        pytest.param(DERIVATIVES, ist(23, 15, 24), True, True, id="fno-before-square-off"),
        pytest.param(DERIVATIVES, ist(23, 15, 25), True, False, id="fno-squared-off"),
        pytest.param(DERIVATIVES, ist(23, 15, 39), True, False, id="fno-until-15-40"),
        pytest.param(DERIVATIVES, ist(23, 15, 40), False, False, id="fno-closed"),
        pytest.param(DERIVATIVES, ist(31, 15, 35, 7), False, False, id="fno-closed-15-30-in-july"),
        pytest.param(DERIVATIVES, ist(3, 15, 35, 8), True, False, id="fno-open-15-40-from-3-aug"),
        pytest.param(COMMODITIES, ist(23, 9, 0), True, True, id="mcx-at-open"),
        pytest.param(COMMODITIES, ist(23, 23, 29), True, True, id="mcx-evening"),
        pytest.param(COMMODITIES, ist(23, 23, 30), True, False, id="mcx-winter-close-minus-25"),
        pytest.param(COMMODITIES, ist(23, 23, 54), True, False, id="mcx-winter-until-23-55"),
        pytest.param(COMMODITIES, ist(23, 23, 55), False, False, id="mcx-winter-closed"),
        pytest.param(COMMODITIES, ist(30, 23, 5, 10), True, False, id="mcx-summer-close-minus-25"),
        pytest.param(COMMODITIES, ist(30, 23, 30, 10), False, False, id="mcx-summer-closed"),
        pytest.param(EQUITY, ist(24, 11, 0), False, False, id="equity-holiday"),
        pytest.param(DERIVATIVES, ist(24, 11, 0), False, False, id="fno-holiday"),
        pytest.param(COMMODITIES, ist(24, 11, 0), True, True, id="mcx-open-on-nse-holiday"),
        pytest.param(EQUITY, ist(28, 11, 0), False, False, id="saturday"),
        pytest.param(COMMODITIES, ist(29, 11, 0), False, False, id="sunday"),
    ],
)
def test_session_when_asked_at_a_time_then_open_and_mis_as_configured(
    hours_sessions: SessionRules, group: SessionGroup, at: int, is_open: bool, mis_open: bool
) -> None:
    assert (hours_sessions.is_open(group, at), hours_sessions.mis_open(group, at)) == (
        is_open,
        mis_open,
    )


def test_boundaries_when_ticks_pass_them_then_each_reported_once_in_order(
    hours_sessions: SessionRules,
) -> None:
    assert hours_sessions.boundaries_crossed(ist(23, 15, 19), ist(23, 15, 20)) == [
        (EQUITY, SQUARE_OFF, ist(23, 15, 20))
    ]
    assert hours_sessions.boundaries_crossed(ist(23, 15, 20), ist(23, 15, 21)) == []
    assert [b[:2] for b in hours_sessions.boundaries_crossed(ist(23, 15, 0), ist(23, 15, 41))] == [
        (EQUITY, SQUARE_OFF),
        (EQUITY, CLOSE),
        (DERIVATIVES, SQUARE_OFF),
        (DERIVATIVES, CLOSE),
    ]
    assert hours_sessions.boundaries_crossed(ist(23, 15, 31), ist(23, 15, 40))[-1] == (
        DERIVATIVES,
        CLOSE,
        ist(23, 15, 40),
    )
    assert hours_sessions.boundaries_crossed(ist(27, 23, 0), ist(27, 23, 59)) == [
        (COMMODITIES, SQUARE_OFF, ist(27, 23, 30)),
        (COMMODITIES, CLOSE, ist(27, 23, 55)),
    ]
    assert hours_sessions.boundaries_crossed(ist(28, 9, 0), ist(29, 23, 59)) == []  # a weekend
    # On a holiday only MCX has boundaries.
    assert [b[0] for b in hours_sessions.boundaries_crossed(ist(24, 0, 0), ist(24, 23, 59))] == [
        COMMODITIES,
        COMMODITIES,
    ]
    # A clock that jumps (a server down for weeks) looks back a week: 5 weekdays of MCX, and
    # equity and derivatives on the 4 that are not the holiday.
    jumped = hours_sessions.boundaries_crossed(ist(9, 12, 0), ist(27, 23, 59))
    assert len(jumped) == 5 * 2 + 4 * 4
    assert jumped[0] == (EQUITY, SQUARE_OFF, ist(23, 15, 20))


def test_orders_when_market_closed_then_refused_and_mis_stops_at_square_off(
    hours_rules: AccountRules, reliance: Instrument, quote_for: QuoteFor
) -> None:
    state = AccountState("acc-1")
    state.balance_paise = 10_000_000_00

    def outcome(at: int, product: Product) -> Rejection | None:
        order = place(
            reliance,
            product=product,
            side=Side.BUY,
            price_paise=154280,
            quote=quote_for(reliance, 154280),
            now_ms=at,
        )
        return decide(state, order, hours_rules).rejection

    assert outcome(ist(23, 10, 0), Product.MIS) is None
    assert outcome(ist(23, 15, 21), Product.MIS) is Rejection.MARKET_CLOSED
    assert outcome(ist(23, 15, 21), Product.CNC) is None  # delivery trades until the close
    assert outcome(ist(23, 15, 30), Product.CNC) is Rejection.MARKET_CLOSED
    assert outcome(ist(28, 10, 0), Product.CNC) is Rejection.MARKET_CLOSED  # Saturday
    assert outcome(ist(24, 10, 0), Product.CNC) is Rejection.MARKET_CLOSED  # a holiday
    assert outcome(ist(23, 8, 0), Product.CNC) is Rejection.MARKET_CLOSED


def test_derivative_orders_when_equity_has_closed_then_taken_until_their_own_close(
    hours_rules: AccountRules, nifty_fut: Instrument, crude_fut: Instrument, quote_for: QuoteFor
) -> None:
    """Each segment keeps its own hours: NSE F&O closes at 15:40 (circular 74/2026), MCX in
    the evening, both after the equity close of 15:30."""
    state = AccountState("acc-1")
    state.balance_paise = 10_000_000_00

    def outcome(contract: Instrument, price_paise: int, at: int) -> Rejection | None:
        order = place(
            contract,
            product=Product.NRML,
            quantity=contract.lot_size,
            price_paise=price_paise,
            quote=quote_for(contract, price_paise),
            now_ms=at,
            market=market_of(hours_rules, [contract], now_ms=at),
        )
        return decide(state, order, hours_rules).rejection

    assert outcome(nifty_fut, 2_613_860, ist(23, 15, 35)) is None
    assert outcome(nifty_fut, 2_613_860, ist(23, 15, 40)) is Rejection.MARKET_CLOSED
    assert outcome(crude_fut, 531_200, ist(23, 20, 0)) is None
