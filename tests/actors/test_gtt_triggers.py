"""GTTs through the real account and market actors (docs/DOMAIN.md §7).

Proves that a GTT waits in the market's books and blocks nothing; that the tick that brings the
last price to its trigger (touching it) fires it and its order is placed through the account's
order path; that a two-leg GTT's target firing takes its stop-loss off the books with it; that
an order the account refuses at the trigger (funds short) leaves the GTT REJECTED with the
reason, journaled with the refused order; that a deleted or modified GTT's old levels fire no
more; that a GTT past its life is expired by the market; and that a recovered account's active
GTTs are back in the books and fire.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from engine.actors.sink import InMemorySink
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Product, Side
from engine.domain.gtt import GttLeg, GttStatus, GttType
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.actors.test_engine_actors import Harness, make_harness, place
from tests.support.engine_driver import exact_config

DAY_MS = 86_400_000


@pytest.fixture
def h(master: InstrumentMaster) -> Iterator[Harness]:
    harness = make_harness(master, "pooled", exact_config(gtt={"expiry_days": 1}))
    yield harness
    harness.engine.stop()


def _leg(trigger: int, side: Side, quantity: int = 10, price: int | None = None) -> GttLeg:
    price = trigger if price is None else price
    return GttLeg(trigger, side, quantity, OrderType.LIMIT, price, Product.CNC)


def _place(
    instrument: Instrument, *legs: GttLeg, gtt_id: str = "g1", last: int | None = None
) -> cmd.PlaceGttRequest:
    kind = GttType.TWO_LEG if len(legs) == 2 else GttType.SINGLE
    return cmd.PlaceGttRequest(gtt_id, instrument, kind, legs, last)


def _events(h: Harness, kind: type) -> list[ev.AccountEvent]:
    sink = h.engine.sink
    assert isinstance(sink, InMemorySink)
    return [e for e in sink.events_for("acct") if isinstance(e, kind)]


def _market_gtts(h: Harness) -> dict[tuple[str, str], tuple[int, int, int]]:
    assert h.engine.market_ref is not None
    gtts: dict[tuple[str, str], tuple[int, int, int]] = h.engine.market_ref.proxy().gtts.get()
    return gtts


def test_single_buy_when_price_touches_trigger_then_order_placed(
    h: Harness, reliance: Instrument
) -> None:
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    outcome = h.ask("acct", _place(reliance, _leg(149_000, Side.BUY)))
    assert outcome.rejection is None and outcome.gtt is not None
    assert outcome.gtt.status is GttStatus.ACTIVE and outcome.gtt.last_price_paise == 150_000
    assert h.inspect("acct", lambda s: s.available_paise) == 100_000_00  # nothing blocked
    h.set_price(reliance, 149_010)  # one tick short
    assert h.inspect("acct", lambda s: list(s.gtts)) == ["g1"]
    h.set_price(reliance, 149_000)  # touches it
    assert h.inspect("acct", lambda s: (list(s.gtts), len(s.orders))) == ([], 1)
    (triggered,) = _events(h, ev.GttTriggered)
    assert isinstance(triggered, ev.GttTriggered)
    assert (triggered.leg, triggered.ltp_paise, triggered.rejection) == (0, 149_000, "")
    (accepted,) = _events(h, ev.OrderAccepted)
    assert isinstance(accepted, ev.OrderAccepted) and accepted.order_id == triggered.placed_order_id
    assert _market_gtts(h) == {}


def test_two_leg_when_target_fires_then_stop_loss_leg_gone_too(
    h: Harness, reliance: Instrument
) -> None:
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    buy = place(reliance, Side.BUY, 10, OrderType.LIMIT, 151_000, product=Product.CNC)
    assert h.ask("acct", buy).rejection is None
    h.set_price(reliance, 150_000)
    assert h.inspect("acct", lambda s: len(s.positions)) == 1
    gtt = _place(reliance, _leg(145_000, Side.SELL), _leg(155_000, Side.SELL))
    assert h.ask("acct", gtt).rejection is None
    assert _market_gtts(h) != {}
    h.set_price(reliance, 155_500)  # through the target
    (triggered,) = _events(h, ev.GttTriggered)
    assert isinstance(triggered, ev.GttTriggered) and triggered.leg == 1
    assert _market_gtts(h) == {}
    books = h.engine.market_ref.proxy().books.get()  # type: ignore[union-attr]
    index = h.engine.master.index_of(reliance.instrument_id)
    assert len(books[index].falling_gtts) == len(books[index].rising_gtts) == 0
    h.set_price(reliance, 144_000)  # through the old stop-loss: nothing more fires
    assert len(_events(h, ev.GttTriggered)) == 1
    sells = [e for e in _events(h, ev.OrderAccepted) if e.side is Side.SELL]  # type: ignore[union-attr]
    assert len(sells) == 1


def test_trigger_when_funds_short_then_gtt_rejected_with_reason(
    h: Harness, reliance: Instrument
) -> None:
    h.set_price(reliance, 150_000)
    h.open_account("acct", 1_000_00)
    assert h.ask("acct", _place(reliance, _leg(149_000, Side.BUY))).rejection is None
    h.set_price(reliance, 148_900)
    (triggered,) = _events(h, ev.GttTriggered)
    assert isinstance(triggered, ev.GttTriggered) and triggered.rejection == "INSUFFICIENT_FUNDS"
    (refused,) = _events(h, ev.OrderRejected)
    assert isinstance(refused, ev.OrderRejected) and refused.order_id == triggered.placed_order_id
    state = h.inspect("acct", msgspec.structs.replace)
    assert (state.gtts, state.orders, state.available_paise) == ({}, {}, 1_000_00)


def test_delete_or_modify_when_active_then_old_levels_fire_no_more(
    h: Harness, reliance: Instrument
) -> None:
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    assert h.ask("acct", _place(reliance, _leg(149_000, Side.BUY))).rejection is None
    assert h.ask("acct", _place(reliance, _leg(149_000, Side.BUY), gtt_id="g2")).rejection is None
    deleted = h.ask("acct", cmd.DeleteGttRequest("g1"))
    assert deleted.gtt is not None and deleted.gtt.status is GttStatus.CANCELLED
    modify = cmd.ModifyGttRequest("g2", GttType.SINGLE, (_leg(140_000, Side.BUY),))
    modified = h.ask("acct", modify)
    assert modified.gtt is not None and modified.gtt.version == 1
    h.set_price(reliance, 148_000)
    assert _events(h, ev.GttTriggered) == []
    assert h.inspect("acct", lambda s: list(s.gtts)) == ["g2"]
    h.set_price(reliance, 140_000)
    (triggered,) = _events(h, ev.GttTriggered)
    assert triggered.gtt_id == "g2"  # type: ignore[union-attr]


def test_gtt_when_life_over_then_market_expires_it(h: Harness, reliance: Instrument) -> None:
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    assert h.ask("acct", _place(reliance, _leg(140_000, Side.BUY))).rejection is None
    h.set_price(reliance, 150_000, advance_ms=DAY_MS - 1000)
    assert h.inspect("acct", lambda s: list(s.gtts)) == ["g1"]
    h.set_price(reliance, 150_000, advance_ms=1000)
    (expired,) = _events(h, ev.GttExpired)
    assert isinstance(expired, ev.GttExpired) and expired.status == "EXPIRED"
    assert h.inspect("acct", lambda s: list(s.gtts)) == []
    assert _market_gtts(h) == {}


def test_recovered_account_when_gtt_active_then_back_in_books_and_fires(
    master: InstrumentMaster, reliance: Instrument
) -> None:
    first = make_harness(master, "pooled", exact_config())
    try:
        first.set_price(reliance, 150_000)
        first.open_account("acct", 100_000_00)
        gtt = _place(reliance, _leg(145_000, Side.SELL), _leg(155_000, Side.BUY))
        assert first.ask("acct", gtt).rejection is None
        sink = first.engine.sink
        assert isinstance(sink, InMemorySink)
        journal = sink.events_for("acct")
    finally:
        first.engine.stop()
    second = make_harness(master, "pooled", exact_config())
    try:
        state = apply_all(AccountState("acct"), journal)
        second.set_price(reliance, 150_000)
        second.engine.restore_account(state)
        second.settle()
        assert _market_gtts(second) != {}
        assert second.engine.locator.account_of_gtt("g1") == "acct"
        second.set_price(reliance, 155_000)
        sink2 = second.engine.sink
        assert isinstance(sink2, InMemorySink)
        fired = [e for e in sink2.events_for("acct") if isinstance(e, ev.GttTriggered)]
        assert [e.leg for e in fired] == [1]
    finally:
        second.engine.stop()
