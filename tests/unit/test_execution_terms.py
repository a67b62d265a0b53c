"""An account accepts only the executions its orders' current terms allow.

Proves that every modification bumps the order's version; that a fill or trigger the market
made for an older version is refused as ``STALE_EXECUTION``; that a fill breaking the current
terms is refused as ``OUTSIDE_ORDER_TERMS`` (a BUY above its limit, a SELL below it, a market
fill of an order that does not execute at market now, a limit-book fill of one that does); and
that every refusal leaves the state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain import commands as cmd
from engine.domain.account.state import AccountState, Decision, state_fingerprint
from engine.domain.enums import OrderType, Rejection, Side
from engine.domain.instruments import Instrument
from tests.conftest import NOW_MS, Execute, QuoteFor

LIMIT = 154_280


@pytest.fixture
def account(funded_account: Callable[..., AccountState]) -> AccountState:
    return funded_account(10_000_000_00)


def _place(
    state: AccountState,
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
    instrument: Instrument,
    **terms: object,
) -> None:
    decision = execute(
        state, place_order(instrument, quantity=10, quote=quote_for(instrument, LIMIT), **terms)
    )
    assert decision.rejection is None


@pytest.mark.parametrize(
    ("side", "order_type", "trigger", "price", "at_market", "expected"),
    [
        pytest.param(Side.BUY, OrderType.LIMIT, 0, LIMIT + 10, False, "outside", id="buy-above"),
        pytest.param(Side.BUY, OrderType.LIMIT, 0, LIMIT, False, None, id="buy-at-limit"),
        pytest.param(Side.BUY, OrderType.LIMIT, 0, LIMIT - 10, False, None, id="buy-below"),
        pytest.param(Side.SELL, OrderType.LIMIT, 0, LIMIT - 10, False, "outside", id="sell-below"),
        pytest.param(Side.SELL, OrderType.LIMIT, 0, LIMIT + 10, False, None, id="sell-above"),
        pytest.param(Side.BUY, OrderType.LIMIT, 0, LIMIT - 10, True, "outside", id="limit-mkt"),
        pytest.param(Side.BUY, OrderType.MARKET, 0, LIMIT, False, "outside", id="market-book"),
        pytest.param(Side.BUY, OrderType.MARKET, 0, LIMIT + 500, True, None, id="market"),
        pytest.param(Side.BUY, OrderType.SL, LIMIT - 100, LIMIT, True, "outside", id="sl-mkt"),
        pytest.param(Side.BUY, OrderType.SL, LIMIT - 100, LIMIT, False, None, id="sl-limit"),
        pytest.param(Side.BUY, OrderType.SL_M, LIMIT, LIMIT + 20, True, None, id="slm-mkt"),
        pytest.param(Side.BUY, OrderType.SL_M, LIMIT, LIMIT, False, "outside", id="slm-book"),
    ],
)
def test_fill_when_terms_checked_then_only_fills_within_them_apply(
    side: Side,
    order_type: OrderType,
    trigger: int,
    price: int,
    at_market: bool,
    expected: str | None,
    account: AccountState,
    reliance: Instrument,
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    limit = LIMIT if order_type in (OrderType.LIMIT, OrderType.SL) else 0
    if side is Side.SELL:  # something to sell: a filled buy first
        _place(account, execute, place_order, quote_for, reliance, order_id="b", price_paise=LIMIT)
        assert execute(account, fill_order(reliance, "b", 10, LIMIT)).rejection is None
    _place(
        account,
        execute,
        place_order,
        quote_for,
        reliance,
        side=side,
        order_type=order_type,
        price_paise=limit,
        trigger_paise=trigger,
    )
    if trigger:
        trigger_command = cmd.TriggerOrder(now_ms=NOW_MS, order_id="o1")
        assert execute(account, trigger_command).rejection is None
    fingerprint = state_fingerprint(account)

    decision = execute(account, fill_order(reliance, "o1", 10, price, at_market=at_market))

    if expected is None:
        assert decision.rejection is None
        assert "o1" not in account.orders
    else:
        assert decision == Decision((), Rejection.OUTSIDE_ORDER_TERMS)
        assert state_fingerprint(account) == fingerprint


def test_fill_when_order_modified_since_then_stale_refused_and_current_accepted(
    account: AccountState,
    reliance: Instrument,
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    _place(account, execute, place_order, quote_for, reliance, price_paise=LIMIT)
    assert account.orders["o1"].version == 0
    for version in (1, 2):
        modify = cmd.ModifyOrder(
            now_ms=NOW_MS,
            order_id="o1",
            instrument=reliance,
            quote=quote_for(reliance, LIMIT),
            price_paise=LIMIT - 10 * version,
        )
        assert execute(account, modify).rejection is None
        assert account.orders["o1"].version == version
    fingerprint = state_fingerprint(account)

    for old in (0, 1):
        stale = fill_order(reliance, "o1", 10, LIMIT - 20, order_version=old)
        assert execute(account, stale) == Decision((), Rejection.STALE_EXECUTION)
    assert state_fingerprint(account) == fingerprint

    current = execute(account, fill_order(reliance, "o1", 10, LIMIT - 20, order_version=2))
    assert current.rejection is None


def test_trigger_when_stop_modified_since_then_stale_refused(
    account: AccountState,
    reliance: Instrument,
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    quote_for: QuoteFor,
) -> None:
    _place(
        account,
        execute,
        place_order,
        quote_for,
        reliance,
        side=Side.BUY,
        order_type=OrderType.SL_M,
        trigger_paise=LIMIT + 1000,
    )
    modify = cmd.ModifyOrder(
        now_ms=NOW_MS,
        order_id="o1",
        instrument=reliance,
        quote=quote_for(reliance, LIMIT),
        trigger_paise=LIMIT + 2000,
    )
    assert execute(account, modify).rejection is None
    fingerprint = state_fingerprint(account)

    stale = cmd.TriggerOrder(now_ms=NOW_MS, order_id="o1", order_version=0)
    assert execute(account, stale) == Decision((), Rejection.STALE_EXECUTION)
    assert state_fingerprint(account) == fingerprint
    current = cmd.TriggerOrder(now_ms=NOW_MS, order_id="o1", order_version=1)
    assert execute(account, current).rejection is None
    assert account.orders["o1"].triggered
