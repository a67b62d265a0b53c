"""The order lifecycle is one transition table and the account obeys it.

Proves that ``engine.domain.orders.TRANSITIONS`` allows exactly ``None → PENDING | REJECTED`` and
``PENDING → PENDING | EXECUTED | CANCELLED | REJECTED``; that every other pair (in particular
every exit from a terminal state) is refused by ``can_transition`` and raises ``InvariantError``
in ``transition``; and that the account maps the lifecycle onto commands: modifying, cancelling,
triggering or filling an unknown or finished order is ``ORDER_NOT_OPEN`` with no events, an SL
or SL-M order fills only after its trigger, a LIMIT or MARKET order cannot be triggered, and
fills must stay within the remaining quantity, on the lot and on the tick.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, Decision, state_fingerprint
from engine.domain.enums import OrderStatus, OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.invariants import InvariantError
from engine.domain.orders import TERMINAL, TRANSITIONS, can_transition, transition
from tests.conftest import NOW_MS, Execute, QuoteFor

PENDING, EXECUTED = OrderStatus.PENDING, OrderStatus.EXECUTED
CANCELLED, REJECTED = OrderStatus.CANCELLED, OrderStatus.REJECTED

ALLOWED: set[tuple[OrderStatus | None, OrderStatus]] = {
    (None, PENDING),
    (None, REJECTED),
    (PENDING, PENDING),
    (PENDING, EXECUTED),
    (PENDING, CANCELLED),
    (PENDING, REJECTED),
}
ALL_PAIRS = list(itertools.product([None, *OrderStatus], OrderStatus))
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def _pair_id(pair: tuple[OrderStatus | None, OrderStatus]) -> str:
    current, target = pair
    return f"{current.value if current else 'NEW'}->{target.value}"


def test_transition_table_when_listed_then_exactly_the_allowed_pairs() -> None:
    assert set(TRANSITIONS) == ALLOWED
    assert len(ALL_PAIRS) == 20
    assert len(FORBIDDEN) == 14


@pytest.mark.parametrize("pair", sorted(ALLOWED, key=str), ids=_pair_id)
def test_transition_when_allowed_then_returns_target(
    pair: tuple[OrderStatus | None, OrderStatus],
) -> None:
    current, target = pair
    assert can_transition(current, target)
    assert transition(current, target) is target


@pytest.mark.parametrize("pair", FORBIDDEN, ids=_pair_id)
def test_transition_when_forbidden_then_invariant_error(
    pair: tuple[OrderStatus | None, OrderStatus],
) -> None:
    current, target = pair
    assert not can_transition(current, target)
    with pytest.raises(InvariantError, match="illegal order transition"):
        transition(current, target)


@pytest.mark.parametrize("terminal", sorted(TERMINAL), ids=str)
def test_terminal_state_when_any_target_then_no_exit(terminal: OrderStatus) -> None:
    assert terminal in {EXECUTED, CANCELLED, REJECTED}
    assert not [target for target in OrderStatus if can_transition(terminal, target)]


def test_terminal_set_when_listed_then_all_but_pending() -> None:
    assert set(TERMINAL) == {EXECUTED, CANCELLED, REJECTED}


# --------------------------------------------------------------------------------------------
# the account follows the lifecycle


def _modify(instrument: Instrument, order_id: str) -> cmd.ModifyOrder:
    return cmd.ModifyOrder(
        now_ms=NOW_MS, order_id=order_id, instrument=instrument, quote=None, price_paise=154000
    )


def _cancel(instrument: Instrument, order_id: str) -> cmd.CancelOrder:
    return cmd.CancelOrder(now_ms=NOW_MS, order_id=order_id)


def _trigger(instrument: Instrument, order_id: str) -> cmd.TriggerOrder:
    return cmd.TriggerOrder(now_ms=NOW_MS, order_id=order_id)


def _fill(instrument: Instrument, order_id: str) -> cmd.FillOrder:
    return cmd.FillOrder(
        now_ms=NOW_MS, order_id=order_id, instrument=instrument, quantity=1, price_paise=154280
    )


COMMANDS: list[Any] = [
    pytest.param(_modify, id="modify"),
    pytest.param(_cancel, id="cancel"),
    pytest.param(_trigger, id="trigger"),
    pytest.param(_fill, id="fill"),
]


def _executed(state: AccountState, execute: Execute, reliance: Instrument, place: Any) -> None:
    execute(state, place(reliance, order_id="done", quantity=1, price_paise=154280))
    execute(state, _fill(reliance, "done"))


def _cancelled(state: AccountState, execute: Execute, reliance: Instrument, place: Any) -> None:
    execute(state, place(reliance, order_id="done", quantity=1, price_paise=154280))
    execute(state, _cancel(reliance, "done"))


def _rejected(state: AccountState, execute: Execute, reliance: Instrument, place: Any) -> None:
    decision = execute(state, place(reliance, order_id="done", quantity=1, price_paise=154285))
    assert decision.rejection is Rejection.INVALID_PRICE


def _unknown(state: AccountState, execute: Execute, reliance: Instrument, place: Any) -> None:
    pass


HISTORIES: list[Any] = [
    pytest.param(_unknown, id="unknown"),
    pytest.param(_executed, id="executed"),
    pytest.param(_cancelled, id="cancelled"),
    pytest.param(_rejected, id="rejected"),
]


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("command", COMMANDS)
def test_command_when_order_unknown_or_finished_then_order_not_open(
    history: Callable[..., None],
    command: Callable[[Instrument, str], cmd.AccountCommand],
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(10_000_000_00)
    history(state, execute, reliance, place_order)
    assert "done" not in state.orders
    fingerprint = state_fingerprint(state)

    decision = execute(state, command(reliance, "done"))

    assert decision == Decision((), Rejection.ORDER_NOT_OPEN)
    assert state_fingerprint(state) == fingerprint


@pytest.mark.parametrize(
    ("order_type", "price_paise", "trigger_paise"),
    [
        pytest.param(OrderType.SL, 154500, 154400, id="sl"),
        pytest.param(OrderType.SL_M, 0, 154400, id="sl-m"),
    ],
)
def test_fill_order_when_stop_not_triggered_then_order_not_open_until_triggered(
    order_type: OrderType,
    price_paise: int,
    trigger_paise: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(10_000_000_00)
    execute(
        state,
        place_order(
            reliance,
            order_type=order_type,
            quantity=10,
            price_paise=price_paise,
            trigger_paise=trigger_paise,
            quote=quote_for(reliance, 154280),
        ),
    )
    assert state.orders["o1"].waits_for_trigger

    early = execute(state, fill_order(reliance, "o1", 10, 154400))
    assert early == Decision((), Rejection.ORDER_NOT_OPEN)

    triggered = execute(state, cmd.TriggerOrder(now_ms=NOW_MS + 1, order_id="o1"))
    assert triggered.events == (ev.OrderTriggered(at_ms=NOW_MS + 1, order_id="o1"),)
    assert state.orders["o1"].triggered
    assert state.orders["o1"].status is PENDING
    assert not state.orders["o1"].waits_for_trigger
    assert state.orders["o1"].rests_at_limit is (order_type is OrderType.SL)

    again = execute(state, cmd.TriggerOrder(now_ms=NOW_MS, order_id="o1"))
    assert again == Decision((), Rejection.ORDER_NOT_OPEN)

    at_market = order_type is OrderType.SL_M
    filled = execute(state, fill_order(reliance, "o1", 10, 154400, at_market=at_market))
    assert filled.rejection is None
    assert "o1" not in state.orders
    (position,) = state.positions.values()
    assert (position.quantity, position.cost_paise) == (10, 1_544_000)


@pytest.mark.parametrize(
    ("order_type", "price_paise"),
    [
        pytest.param(OrderType.LIMIT, 154280, id="limit"),
        pytest.param(OrderType.MARKET, 0, id="market"),
    ],
)
def test_trigger_order_when_not_a_stop_order_then_order_not_open(
    order_type: OrderType,
    price_paise: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(10_000_000_00)
    execute(
        state,
        place_order(
            reliance,
            order_type=order_type,
            quantity=10,
            price_paise=price_paise,
            quote=quote_for(reliance, 154280),
        ),
    )
    fingerprint = state_fingerprint(state)

    decision = execute(state, cmd.TriggerOrder(now_ms=NOW_MS, order_id="o1"))

    assert decision == Decision((), Rejection.ORDER_NOT_OPEN)
    assert state_fingerprint(state) == fingerprint


def test_fill_order_when_partial_then_pending_and_last_fill_executes(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(10_000_000_00)
    execute(
        state,
        place_order(reliance, quantity=10, price_paise=154280, quote=quote_for(reliance, 154280)),
    )

    first = execute(state, fill_order(reliance, "o1", 4, 154280))
    (partial,) = first.events
    assert isinstance(partial, ev.OrderFilled)
    assert partial.status_after is PENDING
    order = state.orders["o1"]
    assert (order.status, order.filled_quantity, order.remaining_quantity) == (PENDING, 4, 6)
    assert order.average_price_paise() == 154280

    second = execute(state, fill_order(reliance, "o1", 6, 154270))
    (final,) = second.events
    assert isinstance(final, ev.OrderFilled)
    assert final.status_after is EXECUTED
    assert state.orders == {}


@pytest.mark.parametrize(
    ("instrument_name", "quantity", "price_paise", "expected"),
    [
        pytest.param("reliance", 11, 154280, Rejection.INVALID_QUANTITY, id="above-remaining"),
        pytest.param("reliance", 0, 154280, Rejection.INVALID_QUANTITY, id="zero"),
        pytest.param("reliance", -1, 154280, Rejection.INVALID_QUANTITY, id="negative"),
        pytest.param("reliance", 5, 154275, Rejection.INVALID_PRICE, id="off-tick"),
        pytest.param("reliance", 5, 0, Rejection.INVALID_PRICE, id="zero-price"),
        pytest.param("nifty_fut", 64, 2613860, Rejection.INVALID_QUANTITY, id="not-a-lot"),
        pytest.param("nifty_fut", 65, 2613855, Rejection.INVALID_PRICE, id="future-off-tick"),
    ],
)
def test_fill_order_when_fill_invalid_then_rejected_without_events(
    instrument_name: str,
    quantity: int,
    price_paise: int,
    expected: Rejection,
    request: pytest.FixtureRequest,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    instrument: Instrument = request.getfixturevalue(instrument_name)
    state = funded_account(10_000_000_00)
    size = 10 * instrument.lot_size
    execute(
        state,
        place_order(
            instrument,
            product=Product.MIS,
            quantity=size,
            price_paise=instrument.reference_price_paise,
            quote=quote_for(instrument, instrument.reference_price_paise),
        ),
    )
    fingerprint = state_fingerprint(state)

    decision = execute(state, fill_order(instrument, "o1", quantity, price_paise))

    assert decision == Decision((), expected)
    assert state_fingerprint(state) == fingerprint


def test_modify_order_when_quantity_not_above_filled_then_invalid_quantity(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(10_000_000_00)
    quote = quote_for(reliance, 154280)
    execute(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote))
    execute(state, fill_order(reliance, "o1", 4, 154280))

    at_filled = execute(
        state,
        cmd.ModifyOrder(now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, quantity=4),
    )
    above = execute(
        state,
        cmd.ModifyOrder(now_ms=NOW_MS, order_id="o1", instrument=reliance, quote=quote, quantity=5),
    )

    assert at_filled == Decision((), Rejection.INVALID_QUANTITY)
    assert above.rejection is None
    assert (state.orders["o1"].quantity, state.orders["o1"].remaining_quantity) == (5, 1)


def test_modify_order_when_limit_becomes_sl_then_waits_for_trigger(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(10_000_000_00)
    quote = quote_for(reliance, 154280)
    execute(state, place_order(reliance, quantity=10, price_paise=154280, quote=quote))

    execute(
        state,
        cmd.ModifyOrder(
            now_ms=NOW_MS,
            order_id="o1",
            instrument=reliance,
            quote=quote,
            order_type=OrderType.SL,
            trigger_paise=154200,
        ),
    )

    order = state.orders["o1"]
    assert (order.order_type, order.price_paise, order.trigger_paise) == (
        OrderType.SL,
        154280,
        154200,
    )
    assert order.waits_for_trigger
    assert execute(state, fill_order(reliance, "o1", 10, 154280)).rejection is (
        Rejection.ORDER_NOT_OPEN
    )


def test_modify_order_when_becoming_market_then_price_and_trigger_cleared(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(10_000_000_00)
    quote = quote_for(reliance, 154280)
    execute(
        state,
        place_order(
            reliance,
            order_type=OrderType.SL,
            quantity=10,
            price_paise=154500,
            trigger_paise=154400,
            quote=quote,
        ),
    )

    decision = execute(
        state,
        cmd.ModifyOrder(
            now_ms=NOW_MS,
            order_id="o1",
            instrument=reliance,
            quote=quote,
            order_type=OrderType.MARKET,
        ),
    )

    assert decision.rejection is None
    order = state.orders["o1"]
    assert (order.order_type, order.price_paise, order.trigger_paise) == (OrderType.MARKET, 0, 0)
    assert not order.waits_for_trigger


def test_order_side_when_sell_then_sign_is_negative() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
