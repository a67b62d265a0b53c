"""After-market orders as the Kite facade writes them (docs/KITE.md "Orders"): variety ``amo``,
status ``AMO REQ RECEIVED`` while the order waits for its session's open and Kite's usual
statuses after it, in the order book's rows and in the ticker's order updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engine.domain import events as ev
from engine.domain.account.apply import apply
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Product, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.sessions import SessionRules
from gateway.kite.order_format import amo_waits, order_view
from gateway.kite.order_updates import KiteOrderUpdates
from gateway.kite.tokens import KiteTokens
from persistence.iceberg_rows import iceberg_row

IST = timezone(timedelta(hours=5, minutes=30))


def ist(day: int, hour: int, minute: int) -> int:
    """2026-11-``day`` at ``hour:minute`` IST (the 25th a Wednesday)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


@pytest.fixture(scope="module")
def tokens(master: InstrumentMaster) -> KiteTokens:
    return KiteTokens(master, {})


def row(instrument: Instrument, after_market: bool, **changes: Any) -> dict[str, Any]:
    placed = datetime.fromtimestamp(ist(25, 8, 0) / 1000, UTC)
    return {
        "id": "o1",
        "status": "PENDING",
        "order_type": "LIMIT",
        "triggered": False,
        "quantity": 1,
        "filled_quantity": 0,
        "rejection_reason": None,
        "cancel_reason": None,
        "created_at": placed,
        "updated_at": placed,
        "version": 0,
        "instrument_id": instrument.instrument_id,
        "side": "BUY",
        "validity": "DAY",
        "product": "CNC",
        "price_paise": 150_000,
        "trigger_paise": 0,
        "average_price_paise": 0,
        "tag": None,
        "after_market": after_market,
        **iceberg_row(None),
    } | changes


@pytest.mark.parametrize(
    ("after_market", "now_ms", "changes", "variety", "status"),
    [
        pytest.param(True, ist(25, 9, 14), {}, "amo", "AMO REQ RECEIVED", id="waiting"),
        pytest.param(True, ist(25, 9, 15), {}, "amo", "OPEN", id="live-at-the-open"),
        pytest.param(
            True,
            ist(25, 9, 0),
            {"order_type": "SL", "trigger_paise": 149_000},
            "amo",
            "AMO REQ RECEIVED",
            id="stop-waiting",
        ),
        pytest.param(
            True,
            ist(25, 9, 0),
            {"status": "CANCELLED", "cancel_reason": "USER"},
            "amo",
            "CANCELLED",
            id="cancelled-while-waiting",
        ),
        pytest.param(False, ist(25, 9, 0), {}, "regular", "OPEN", id="regular"),
    ],
)
def test_order_row_when_after_market_then_variety_amo_and_waiting_until_the_open(
    hours_sessions: SessionRules,
    tokens: KiteTokens,
    reliance: Instrument,
    after_market: bool,
    now_ms: int,
    changes: dict[str, Any],
    variety: str,
    status: str,
) -> None:
    stored = row(reliance, after_market, **changes)
    waiting = amo_waits(stored, tokens, hours_sessions, ist(25, 8, 0), now_ms)
    view = order_view(stored, tokens, "u1", waiting=waiting)
    assert (view["variety"], view["status"]) == (variety, status)


def accepted(instrument: Instrument, at_ms: int) -> ev.OrderAccepted:
    return ev.OrderAccepted(
        at_ms=at_ms,
        order_id="o1",
        client_order_id=None,
        instrument_id=instrument.instrument_id,
        side=Side.BUY,
        product=Product.CNC,
        order_type=OrderType.LIMIT,
        validity=Validity.DAY,
        quantity=2,
        price_paise=150_000,
        trigger_paise=0,
        margin_blocked_paise=300_000,
        after_market=True,
    )


def test_ticker_update_when_amo_accepted_or_modified_then_waiting_until_the_open(
    hours_sessions: SessionRules, tokens: KiteTokens, reliance: Instrument
) -> None:
    updates = KiteOrderUpdates(None, tokens, hours_sessions)  # type: ignore[arg-type]  # no ticker read
    state = AccountState("acct")
    state.balance_paise = 1_000_000
    placed = accepted(reliance, ist(25, 8, 0))
    apply(state, placed)
    (first,) = updates.updates((placed,), state)
    assert (first["variety"], first["status"]) == ("amo", "AMO REQ RECEIVED")

    for at_ms, status in ((ist(25, 9, 0), "AMO REQ RECEIVED"), (ist(25, 10, 0), "OPEN")):
        modified = ev.OrderModified(
            at_ms=at_ms,
            order_id="o1",
            order_type=OrderType.LIMIT,
            quantity=1,
            price_paise=150_000,
            trigger_paise=0,
            margin_blocked_paise=150_000,
        )
        apply(state, modified)
        (update,) = updates.updates((modified,), state)
        assert (update["variety"], update["status"], update["quantity"]) == ("amo", status, 1)
