"""Iceberg legs as the Kite facade writes them (docs/KITE.md "Orders"): each leg an order of its
own with variety ``iceberg``, ``parent_order_id`` null on the first leg and the first leg's id
on the others, and ``meta.iceberg`` its place in the iceberg; in the order book's rows, an
order's history and the ticker's order updates (a fill completing a leg and the next leg it
places, a modified leg, a refused leg). paperdesk's own views carry the same in ``iceberg``,
whichever source they are built from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Product, Rejection, Side, Validity
from engine.domain.iceberg import Iceberg
from engine.domain.instruments import Instrument, InstrumentMaster
from gateway.kite.order_format import history_view, order_view
from gateway.kite.order_updates import KiteOrderUpdates
from gateway.kite.tokens import KiteTokens
from gateway.views import accepted_order_view, order_row_view
from gateway.views import order_view as native_order_view
from persistence.iceberg_rows import iceberg_row
from tests.conftest import Execute, QuoteFor, place

PRICE_PAISE = 154_280  # RELIANCE at its previous close
FIRST = Iceberg(parent_order_id="o1", leg=1, legs=3, leg_quantity=3, total_quantity=7)
LEGS = [FIRST, *(msgspec.structs.replace(FIRST, leg=leg) for leg in (2, 3))]


@pytest.fixture(scope="module")
def tokens(master: InstrumentMaster) -> KiteTokens:
    return KiteTokens(master, {})


def row(instrument: Instrument, iceberg: Iceberg | None, **changes: Any) -> dict[str, Any]:
    """An ``orders`` row of a working LIMIT buy: leg ``iceberg`` of its iceberg, if any."""
    placed = datetime(2026, 12, 4, 4, 30, tzinfo=UTC)
    order_id = "o1" if iceberg is None else f"o{iceberg.leg}"
    return {
        "id": order_id,
        "status": "PENDING",
        "order_type": "LIMIT",
        "triggered": False,
        "quantity": 3 if iceberg is None else iceberg.quantity_of_leg(iceberg.leg),
        "filled_quantity": 0,
        "rejection_reason": None,
        "cancel_reason": None,
        "created_at": placed,
        "updated_at": placed,
        "version": 0,
        "instrument_id": instrument.instrument_id,
        "side": "BUY",
        "validity": "DAY",
        "product": "MIS",
        "price_paise": PRICE_PAISE,
        "trigger_paise": 0,
        "average_price_paise": 0,
        "tag": None,
        "after_market": False,
        **iceberg_row(iceberg),
    } | changes


def kite_meta(leg: int, remaining: int) -> dict[str, Any]:
    return {
        "iceberg": {
            "leg": leg,
            "legs": 3,
            "leg_quantity": 3,
            "total_quantity": 7,
            "remaining_quantity": remaining,
        }
    }


@pytest.mark.parametrize(
    ("iceberg", "variety", "parent", "quantity", "meta"),
    [
        pytest.param(LEGS[0], "iceberg", None, 3, kite_meta(1, 4), id="first-leg"),
        pytest.param(LEGS[1], "iceberg", "o1", 3, kite_meta(2, 1), id="second-leg"),
        pytest.param(LEGS[2], "iceberg", "o1", 1, kite_meta(3, 0), id="last-leg-what-is-left"),
        pytest.param(None, "regular", None, 3, {}, id="regular"),
    ],
)
def test_order_row_when_iceberg_leg_then_variety_parent_and_meta(
    tokens: KiteTokens,
    reliance: Instrument,
    iceberg: Iceberg | None,
    variety: str,
    parent: str | None,
    quantity: int,
    meta: dict[str, Any],
) -> None:
    view = order_view(row(reliance, iceberg), tokens, "u1")
    assert (view["variety"], view["parent_order_id"], view["quantity"], view["meta"]) == (
        variety,
        parent,
        quantity,
        meta,
    )


def test_order_history_when_iceberg_leg_then_every_state_names_its_iceberg(
    tokens: KiteTokens, reliance: Instrument
) -> None:
    stored = row(reliance, LEGS[1], status="EXECUTED", filled_quantity=3)
    change = {
        "status": "EXECUTED",
        "quantity": 3,
        "filled_quantity": 3,
        "price_paise": PRICE_PAISE,
        "trigger_paise": 0,
        "reason": None,
        "occurred_at": stored["updated_at"],
    }
    view = history_view(stored, change, tokens, "u1")
    assert (view["status"], view["variety"], view["parent_order_id"], view["meta"]) == (
        "COMPLETE",
        "iceberg",
        "o1",
        kite_meta(2, 1),
    )


def first_leg(reliance: Instrument, quote_for: QuoteFor) -> cmd.PlaceOrder:
    order = place(
        reliance, quantity=3, price_paise=PRICE_PAISE, quote=quote_for(reliance, PRICE_PAISE)
    )
    return msgspec.structs.replace(order, iceberg=FIRST)


def test_ticker_updates_when_a_fill_completes_a_leg_then_the_leg_and_the_next_one(
    tokens: KiteTokens,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    updates = KiteOrderUpdates(None, tokens)  # type: ignore[arg-type]  # no ticker read
    state = funded_account(10_000_000)
    placed = execute(state, first_leg(reliance, quote_for))
    (opened,) = updates.updates(placed.events, state)
    assert (opened["status"], opened["variety"], opened["parent_order_id"]) == (
        "OPEN",
        "iceberg",
        None,
    )
    assert opened["meta"] == kite_meta(1, 4)

    fill = cmd.FillOrder(
        now_ms=placed.events[0].at_ms + 1_000,
        order_id="o1",
        instrument=reliance,
        quantity=3,
        price_paise=PRICE_PAISE,
        next_leg_order_id="o2",
        quote=quote_for(reliance, PRICE_PAISE),
    )
    filled = execute(state, fill)
    assert [type(e) for e in filled.events] == [ev.OrderFilled, ev.OrderAccepted]
    done, second = updates.updates(filled.events, state)
    assert (done["order_id"], done["status"], done["filled_quantity"], done["meta"]) == (
        "o1",
        "COMPLETE",
        3,
        kite_meta(1, 4),
    )
    assert (second["order_id"], second["status"], second["variety"]) == ("o2", "OPEN", "iceberg")
    assert (second["parent_order_id"], second["quantity"], second["meta"]) == (
        "o1",
        3,
        kite_meta(2, 1),
    )

    modified = ev.OrderModified(
        at_ms=fill.now_ms + 1_000,
        order_id="o2",
        order_type=OrderType.LIMIT,
        quantity=3,
        price_paise=PRICE_PAISE - 100,
        trigger_paise=0,
        margin_blocked_paise=state.orders["o2"].margin_blocked_paise,
    )
    apply(state, modified)
    (update,) = updates.updates((modified,), state)
    assert (update["price"], update["variety"], update["parent_order_id"]) == (
        1541.8,
        "iceberg",
        "o1",
    )
    assert update["meta"] == kite_meta(2, 1)


def test_ticker_update_when_a_leg_is_refused_then_rejected_in_its_iceberg(
    tokens: KiteTokens, reliance: Instrument
) -> None:
    refused = ev.OrderRejected(
        at_ms=1,
        order_id="o3",
        client_order_id=None,
        instrument_id=reliance.instrument_id,
        side=Side.BUY,
        product=Product.MIS,
        order_type=OrderType.LIMIT,
        validity=Validity.DAY,
        quantity=1,
        price_paise=PRICE_PAISE,
        trigger_paise=0,
        reason=Rejection.INSUFFICIENT_FUNDS,
        iceberg=LEGS[2],
    )
    updates = KiteOrderUpdates(None, tokens)  # type: ignore[arg-type]  # no ticker read
    (update,) = updates.updates((refused,), AccountState("acct"))
    assert (update["status"], update["variety"], update["parent_order_id"]) == (
        "REJECTED",
        "iceberg",
        "o1",
    )
    assert update["meta"] == kite_meta(3, 0)


def test_native_views_when_iceberg_leg_then_the_same_iceberg_from_every_source(
    master: InstrumentMaster,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000)
    (accepted,) = execute(state, first_leg(reliance, quote_for)).events
    assert isinstance(accepted, ev.OrderAccepted)
    stored = row(reliance, FIRST) | {
        "client_order_id": None,
        "trading_account_id": state.account_id,
        "margin_blocked_paise": 0,
        "charges_paise": 0,
        "executed_at": None,
    }
    expected = {
        "parentOrderId": "o1",
        "leg": 1,
        "legs": 3,
        "legQuantity": 3,
        "totalQuantity": 7,
        "remainingQuantity": 4,
    }
    views = (
        accepted_order_view(accepted, state.account_id, master),
        native_order_view(state.orders["o1"], state.account_id, master),
        order_row_view(stored, master),
    )
    assert [view["iceberg"] for view in views] == [expected] * 3
    assert (
        order_row_view(row(reliance, None) | stored | iceberg_row(None), master)["iceberg"] is None
    )
