"""After-market orders (docs/DOMAIN.md §3), decided by the pure account: taken only while the
instrument's session is closed (refused ``AMO_WHILE_OPEN`` while it is open, and a regular
order is still ``MARKET_CLOSED`` then), margined and costed exactly as the same order placed
in the session, flagged on the order and its events; an MIS one after the square-off waits
for the next session; a waiting one is modified and cancelled at any hour; and when each
session next opens after a moment (``SessionRules.next_open_ms``, ``waits_for_open``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.decide import decide
from engine.domain.account.state import AccountState, Decision
from engine.domain.enums import OrderStatus, OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from engine.domain.sessions import SessionGroup, SessionRules, waits_for_open
from tests.conftest import Execute, QuoteFor, place, run_command
from tests.support.margin_markets import market_of

IST = timezone(timedelta(hours=5, minutes=30))
PRICE_PAISE = 154_280  # RELIANCE at its previous close, on its ₹0.10 tick


def ist(day: int, hour: int, minute: int) -> int:
    """Milliseconds at ``hour:minute`` IST on 2026-11-``day`` (the 23rd a Monday, the 24th an
    exchange holiday, the 28th a Saturday)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


@pytest.fixture(scope="module")
def execute(hours_rules: AccountRules) -> Execute:
    """Decide and apply with hours enforced (and the purity and funds identity checks)."""

    def run(state: AccountState, command: cmd.AccountCommand) -> Decision:
        return run_command(state, command, hours_rules)

    return run


def amo(order: cmd.PlaceOrder) -> cmd.PlaceOrder:
    return msgspec.structs.replace(order, after_market=True)


def buy(reliance: Instrument, quote_for: QuoteFor, at_ms: int, **terms: object) -> cmd.PlaceOrder:
    """A CNC LIMIT buy of 10 RELIANCE at ₹1542.80 (unless told otherwise), at ``at_ms``."""
    order_terms: dict[str, object] = {
        "product": Product.CNC,
        "quantity": 10,
        "price_paise": PRICE_PAISE,
        "quote": quote_for(reliance, PRICE_PAISE),
        "now_ms": at_ms,
    }
    return place(reliance, **(order_terms | terms))  # type: ignore[arg-type]


def test_amo_when_placed_while_closed_then_accepted_pending_with_its_block_and_flag(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000)  # ₹1,00,000
    decision = execute(state, amo(buy(reliance, quote_for, ist(23, 8, 0))))  # before the open

    assert decision.rejection is None
    (accepted,) = decision.events
    assert isinstance(accepted, ev.OrderAccepted)
    # A CNC buy blocks its whole value at its limit: 10 × ₹1542.80.
    assert (accepted.after_market, accepted.margin_blocked_paise) == (True, 1_542_800)
    order = state.orders["o1"]
    assert (order.status, order.after_market, order.margin_blocked_paise) == (
        OrderStatus.PENDING,
        True,
        1_542_800,
    )
    assert state.available_paise == 10_000_000 - 1_542_800


@pytest.mark.parametrize(
    "terms",
    [
        pytest.param({}, id="cnc-limit"),
        pytest.param({"order_type": OrderType.MARKET, "price_paise": 0}, id="cnc-market"),
        pytest.param({"product": Product.MIS, "side": Side.SELL}, id="mis-short"),
    ],
)
def test_amo_when_closed_then_blocks_and_costs_what_the_order_would_in_the_session(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    terms: dict[str, object],
) -> None:
    """Valued at the last price the engine has, as the same order placed at 10:00."""
    state = funded_account(10_000_000)
    after_market = decide(
        state, amo(buy(reliance, quote_for, ist(23, 20, 0), **terms)), hours_rules
    )
    regular = decide(state, buy(reliance, quote_for, ist(23, 10, 0), **terms), hours_rules)

    assert (after_market.rejection, regular.rejection) == (None, None)
    (placed,), (same,) = after_market.events, regular.events
    assert isinstance(placed, ev.OrderAccepted) and isinstance(same, ev.OrderAccepted)
    assert placed.margin_blocked_paise == same.margin_blocked_paise > 0
    assert (placed.after_market, same.after_market) == (True, False)


def test_amo_when_funds_short_while_closed_then_refused_insufficient_funds(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
) -> None:
    state = funded_account(1_542_800)  # the margin, but not the charges on top
    decision = decide(state, amo(buy(reliance, quote_for, ist(28, 11, 0))), hours_rules)

    assert decision.rejection is Rejection.INSUFFICIENT_FUNDS
    (rejected,) = decision.events
    assert isinstance(rejected, ev.OrderRejected)
    assert (rejected.reason, rejected.after_market) == (Rejection.INSUFFICIENT_FUNDS, True)
    assert decision.shortfall is not None
    margin, charges, available = decision.shortfall
    assert (margin, available) == (1_542_800, 1_542_800) and charges > 0


@pytest.mark.parametrize(
    ("product", "at_ms"),
    [
        pytest.param(Product.CNC, ist(23, 10, 0), id="cnc-in-the-session"),
        pytest.param(Product.CNC, ist(23, 15, 25), id="cnc-after-the-mis-square-off"),
        pytest.param(Product.MIS, ist(23, 9, 15), id="mis-at-the-open"),
        pytest.param(Product.MIS, ist(23, 15, 19), id="mis-before-the-square-off"),
    ],
)
def test_amo_when_session_open_then_rejected_amo_while_open(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    product: Product,
    at_ms: int,
) -> None:
    state = funded_account(10_000_000)
    decision = execute(state, amo(buy(reliance, quote_for, at_ms, product=product)))

    assert decision.rejection is Rejection.AMO_WHILE_OPEN
    (rejected,) = decision.events
    assert isinstance(rejected, ev.OrderRejected)
    assert (rejected.reason, rejected.after_market) == (Rejection.AMO_WHILE_OPEN, True)
    assert state.orders == {} and state.available_paise == 10_000_000


def test_amo_when_hours_not_enforced_then_always_open_and_refused(
    rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
) -> None:
    state = funded_account(10_000_000)
    decision = decide(state, amo(buy(reliance, quote_for, ist(28, 3, 0))), rules)
    assert decision.rejection is Rejection.AMO_WHILE_OPEN


def test_regular_order_when_closed_then_still_market_closed(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
) -> None:
    state = funded_account(10_000_000)
    decision = decide(state, buy(reliance, quote_for, ist(23, 8, 0)), hours_rules)
    assert decision.rejection is Rejection.MARKET_CLOSED


def test_mis_amo_when_placed_after_square_off_then_accepted_for_the_next_session(
    hours_rules: AccountRules,
    hours_sessions: SessionRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    """At 15:25 the equity session is open until 15:30 but takes no more MIS: a regular MIS
    order is refused, an MIS AMO is taken and waits for Wednesday's open (Tuesday the 24th is
    a holiday), not for the minutes left today."""
    state = funded_account(10_000_000)
    at_ms = ist(23, 15, 25)
    regular = buy(reliance, quote_for, at_ms, product=Product.MIS, order_id="regular")
    assert decide(state, regular, hours_rules).rejection is Rejection.MARKET_CLOSED

    decision = execute(state, amo(buy(reliance, quote_for, at_ms, product=Product.MIS)))

    assert decision.rejection is None
    (accepted,) = decision.events
    assert isinstance(accepted, ev.OrderAccepted) and accepted.after_market
    assert accepted.product is Product.MIS and accepted.margin_blocked_paise > 0
    assert hours_sessions.next_open_ms(SessionGroup.EQUITY, at_ms) == ist(25, 9, 15)
    assert waits_for_open(hours_sessions, reliance, at_ms, ist(23, 15, 29))
    assert waits_for_open(hours_sessions, reliance, at_ms, ist(25, 9, 14))
    assert not waits_for_open(hours_sessions, reliance, at_ms, ist(25, 9, 15))


def test_amo_when_waiting_then_modified_and_cancelled_at_any_hour(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000)
    assert execute(state, amo(buy(reliance, quote_for, ist(27, 20, 0)))).rejection is None

    quote = quote_for(reliance, PRICE_PAISE)
    modify = cmd.ModifyOrder(
        now_ms=ist(28, 11, 0), order_id="o1", instrument=reliance, quote=quote, quantity=5
    )
    decision = execute(state, modify)  # a Saturday

    assert decision.rejection is None
    (modified,) = decision.events
    assert isinstance(modified, ev.OrderModified)
    assert (modified.quantity, modified.margin_blocked_paise) == (5, 771_400)
    assert state.orders["o1"].after_market
    cancelled = execute(state, cmd.CancelOrder(now_ms=ist(29, 11, 0), order_id="o1"))
    assert cancelled.rejection is None
    assert state.orders == {} and state.available_paise == 10_000_000


def test_amo_when_live_in_the_session_then_modified_as_any_order(
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000)
    assert execute(state, amo(buy(reliance, quote_for, ist(23, 8, 0)))).rejection is None
    quote = quote_for(reliance, PRICE_PAISE)
    modify = cmd.ModifyOrder(
        now_ms=ist(23, 10, 0), order_id="o1", instrument=reliance, quote=quote, quantity=4
    )
    assert execute(state, modify).rejection is None
    assert state.orders["o1"].quantity == 4


@pytest.mark.parametrize(
    ("group", "after", "opens"),
    [
        pytest.param(SessionGroup.EQUITY, ist(23, 8, 0), ist(23, 9, 15), id="before-the-open"),
        pytest.param(SessionGroup.EQUITY, ist(23, 9, 15), ist(25, 9, 15), id="at-the-open"),
        pytest.param(SessionGroup.EQUITY, ist(27, 20, 0), ist(30, 9, 15), id="over-a-weekend"),
        pytest.param(SessionGroup.DERIVATIVES, ist(23, 15, 40), ist(25, 9, 15), id="fno-holiday"),
        # MCX trades on the equity holiday (weekdays only): 09:00 on Tuesday.
        pytest.param(SessionGroup.COMMODITIES, ist(23, 23, 55), ist(24, 9, 0), id="mcx"),
    ],
)
def test_next_open_when_asked_then_the_first_open_strictly_after(
    hours_sessions: SessionRules, group: SessionGroup, after: int, opens: int
) -> None:
    assert hours_sessions.next_open_ms(group, after) == opens


def test_derivative_amo_when_closed_then_taken_with_its_portfolio_margin(
    hours_rules: AccountRules,
    nifty_fut: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
) -> None:
    """A future placed after the F&O close blocks what it would in the session."""
    state = funded_account(10_000_000_00)

    def order_at(at_ms: int) -> cmd.PlaceOrder:
        return place(
            nifty_fut,
            product=Product.NRML,
            quantity=nifty_fut.lot_size,
            price_paise=2_613_860,
            quote=quote_for(nifty_fut, 2_613_860),
            now_ms=at_ms,
            market=market_of(hours_rules, [nifty_fut], now_ms=at_ms),
        )

    after_market = decide(state, amo(order_at(ist(23, 15, 45))), hours_rules)
    regular = decide(state, order_at(ist(23, 15, 35)), hours_rules)
    assert (after_market.rejection, regular.rejection) == (None, None)
    (placed,), (same,) = after_market.events, regular.events
    assert isinstance(placed, ev.OrderAccepted) and isinstance(same, ev.OrderAccepted)
    assert placed.margin_blocked_paise == same.margin_blocked_paise > 0
