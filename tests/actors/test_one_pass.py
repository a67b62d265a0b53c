"""One pass per request: an account's outcome carries what the gateway's answer needs, and the
engine knows which account holds each working order and open position.

* The outcome of a refused order carries what it was decided on (``shortfall`` for
  INSUFFICIENT_FUNDS, the original order for a DUPLICATE), of a close the position it closed.
* ``AccountLocator`` follows orders and positions as they open and finish, seeded on recovery.
* A request is stamped by the account; a command stamped elsewhere is refused at the door.
"""

from __future__ import annotations

import threading

import msgspec
import pytest

from engine.actors.account_actor import Preview
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState, Shortfall
from engine.domain.enums import OrderType, Rejection
from engine.domain.instruments import Instrument
from tests.support.engine_driver import WAIT_S, EngineDriver, order_request

START_MS = 1_795_496_400_000
PRICE = 150_000


def order(
    instrument: Instrument,
    order_id: str,
    *,
    order_type: OrderType = OrderType.LIMIT,
    client_order_id: str | None = None,
) -> cmd.PlaceOrderRequest:
    """10 shares at ₹1,400 (a LIMIT below the market: it rests), or at market."""
    price = 0 if order_type is OrderType.MARKET else 140_000
    return order_request(
        instrument,
        order_id,
        order_type=order_type,
        quantity=10,
        price_paise=price,
        client_order_id=client_order_id,
    )


def test_order_when_funds_short_then_outcome_carries_the_amounts_it_was_refused_on(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, PRICE)
    driver.open_account("acct", 100_000)  # ₹1,000 against a ₹2,800 block

    outcome = driver.ask("acct", order(reliance, "big"))

    assert outcome.rejection is Rejection.INSUFFICIENT_FUNDS
    assert outcome.shortfall is not None
    # MIS margin 20 % of 10 × ₹1,400; the charges as a preview of the same order values them.
    preview = _preview(driver, order(reliance, "same"))
    assert outcome.shortfall == Shortfall(280_000, preview.requirements.charges_paise, 100_000)
    assert preview.requirements.rejection is Rejection.INSUFFICIENT_FUNDS
    assert preview.available_paise == 100_000


def test_client_order_id_when_reused_then_outcome_carries_a_detached_copy_of_the_original(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, PRICE)
    driver.open_account("acct", 10_000_000)
    assert driver.ask("acct", order(reliance, "first", client_order_id="c1")).rejection is None

    again = driver.ask("acct", order(reliance, "second", client_order_id="c1"))

    assert again.rejection is Rejection.DUPLICATE
    assert again.original_order_id == "first"
    assert again.order is not None and again.order.order_id == "first"
    modify = cmd.ModifyOrderRequest("first", price_paise=139_000)
    assert driver.ask("acct", modify).rejection is None
    assert again.order.price_paise == 140_000  # the actor's own order was never shared


def test_client_order_id_when_original_finished_then_outcome_names_it_without_an_order(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, PRICE)
    driver.open_account("acct", 10_000_000)
    assert driver.ask("acct", order(reliance, "first", client_order_id="c1")).rejection is None
    assert driver.ask("acct", cmd.CancelOrderRequest("first")).rejection is None

    again = driver.ask("acct", order(reliance, "second", client_order_id="c1"))

    assert (again.rejection, again.original_order_id, again.order) == (
        Rejection.DUPLICATE,
        "first",
        None,
    )


def test_orders_and_positions_when_they_open_and_finish_then_located_in_their_account(
    driver: EngineDriver, reliance: Instrument
) -> None:
    locator = driver.engine.locator
    driver.set_price(reliance, PRICE)
    driver.open_account("a", 10_000_000)
    driver.open_account("b", 10_000_000)

    assert driver.ask("a", order(reliance, "rest-a")).rejection is None
    assert driver.ask("b", order(reliance, "rest-b")).rejection is None
    assert (locator.account_of_order("rest-a"), locator.account_of_order("rest-b")) == ("a", "b")
    assert driver.ask("a", cmd.CancelOrderRequest("rest-a")).rejection is None
    assert locator.account_of_order("rest-a") is None
    assert locator.account_of_order("unknown") is None

    market = order(reliance, "buy-b", order_type=OrderType.MARKET)
    assert driver.ask("b", market).rejection is None
    driver.set_price(reliance, PRICE)  # the market fills it
    assert locator.account_of_order("buy-b") is None  # executed: no longer working
    position_id = driver.inspect("b", lambda state: next(iter(state.positions)))
    assert locator.account_of_position(position_id) == "b"

    closed = driver.ask("b", cmd.ClosePositionRequest(position_id))
    assert closed.rejection is None
    assert locator.account_of_position(position_id) is None
    assert locator.account_of_order("rest-b") == "b"  # untouched by the close


def test_close_when_accepted_then_outcome_carries_the_position_as_it_was(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, PRICE)
    driver.open_account("acct", 10_000_000)
    assert driver.ask("acct", order(reliance, "buy", order_type=OrderType.MARKET)).rejection is None
    driver.set_price(reliance, PRICE)
    position = driver.inspect(
        "acct", lambda state: msgspec.structs.replace(next(iter(state.positions.values())))
    )

    closed = driver.ask("acct", cmd.ClosePositionRequest(position.position_id))

    assert closed.rejection is None
    assert closed.position == position
    assert closed.position is not None and closed.position.quantity == 10


def test_recovered_account_when_restored_then_its_orders_and_positions_are_located(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, PRICE)
    driver.open_account("live", 10_000_000)
    assert driver.ask("live", order(reliance, "rests")).rejection is None
    assert (
        driver.ask("live", order(reliance, "buys", order_type=OrderType.MARKET)).rejection is None
    )
    driver.set_price(reliance, PRICE)
    state = driver.inspect("live", lambda s: msgspec.convert(msgspec.to_builtins(s), AccountState))
    copy = msgspec.structs.replace(state, account_id="restored")

    driver.engine.restore_account(copy)

    locator = driver.engine.locator
    assert locator.account_of_order("rests") == "restored"
    (position_id,) = copy.positions
    assert locator.account_of_position(position_id) == "restored"


def test_requests_when_naming_what_the_account_lacks_then_refused_when_stamped(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.open_account("acct", 10_000_000)
    modify = cmd.ModifyOrderRequest("nope", price_paise=139_000)
    assert driver.ask("acct", modify).rejection is Rejection.ORDER_NOT_OPEN
    close = cmd.ClosePositionRequest("nope")
    assert driver.ask("acct", close).rejection is Rejection.POSITION_CLOSED
    levels = cmd.SetRiskLevelsRequest("nope", stop_loss_paise=None, target_paise=None)
    assert driver.ask("acct", levels).rejection is Rejection.POSITION_CLOSED


def test_submit_when_given_a_stamped_command_then_refused_at_the_door(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.open_account("acct", 0)
    stamped = cmd.CancelOrder(order_id="x", now_ms=START_MS)
    with pytest.raises(TypeError, match="stamped CancelOrder"):
        driver.engine.submit("acct", stamped)


def _preview(driver: EngineDriver, request: cmd.PlaceOrderRequest) -> Preview:
    done, box = threading.Event(), []
    driver.engine.preview("acct", request, lambda value: (box.append(value), done.set()))
    assert done.wait(WAIT_S)
    result = box[0]
    assert isinstance(result, Preview)
    return result
