"""After-market orders journaled, projected and recovered with a real PostgreSQL, hours enforced
(docs/DOMAIN.md §3).

A real engine whose sink is the persistence actor in ``commit`` mode takes, on a Wednesday, an
MIS MARKET AMO after the square-off (15:25) and a CNC LIMIT AMO after the close (15:35) whose
limit the price already crosses. The ``orders`` rows flag both, and the journal's replay, the
projections' rebuild and the engine's memory agree. The server then stops and a second one
starts on Thursday before the open, recovering as the server does (replay, the books resumed,
the missed session boundaries caught up): Wednesday's close does not expire the MIS AMO that
was waiting through it, nothing fills before 09:15, and at the open the MARKET AMO fills at the
opening price while the LIMIT rests above the market until it is crossed. The fills are
journaled in turn and the rows say EXECUTED, still flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from engine.config import Config
from engine.domain import commands as cmd
from engine.domain.account.state import state_fingerprint
from engine.domain.enums import OrderType, Product
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.integration.conftest import Server, fetch, recovered
from tests.support.engine_driver import exact_config, order_request

pytestmark = pytest.mark.timeout(90)

IST = timezone(timedelta(hours=5, minutes=30))
MINUTE_MS = 60_000


def ist(day: int, hour: int, minute: int) -> int:
    """2026-11-``day`` at ``hour:minute`` IST (the 25th a Wednesday, the 26th a Thursday)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


@pytest.fixture(scope="module")
def config() -> Config:
    return exact_config(journal={"durability": "commit"}, sessions={"enforce_hours": True})


def amo(instrument: Instrument, order_id: str, **terms: object) -> cmd.PlaceOrderRequest:
    request = order_request(instrument, order_id, quantity=10, **terms)  # type: ignore[arg-type]
    return msgspec.structs.replace(request, after_market=True)


def order_rows(database: str) -> dict[str, tuple[str, bool, int]]:
    rows = fetch(database, "SELECT id, status, after_market, filled_quantity FROM orders")
    return {r["id"]: (r["status"], r["after_market"], r["filled_quantity"]) for r in rows}


def test_held_amos_when_server_restarts_before_the_open_then_still_held_and_taken_at_it(
    restartable: Callable[[int], Server],
    database: str,
    master: InstrumentMaster,
    reliance: Instrument,
) -> None:
    first, journal = restartable(ist(25, 15, 25))
    first.set_price(reliance, 150_000)
    first.open_account("acct", 10_000_000)
    market_amo = amo(reliance, "mis-market", order_type=OrderType.MARKET)
    assert first.ask("acct", market_amo).rejection is None
    first.set_price(reliance, 150_000, advance_ms=10 * MINUTE_MS)  # 15:35: the close passed
    limit_amo = amo(reliance, "cnc-limit", product=Product.CNC, price_paise=151_000)
    assert first.ask("acct", limit_amo).rejection is None
    first.set_price(reliance, 150_000, advance_ms=MINUTE_MS)  # crossed, but closed
    assert journal.flush(20)

    assert order_rows(database) == {
        "mis-market": ("PENDING", True, 0),
        "cnc-limit": ("PENDING", True, 0),
    }
    replayed, rebuilt, verified = recovered(database, "acct")
    assert rebuilt is not None and verified
    memory = first.inspect("acct", state_fingerprint)
    assert state_fingerprint(replayed) == state_fingerprint(rebuilt) == memory
    assert [o.after_market for o in rebuilt.orders.values()] == [True, True]
    first.engine.stop()  # down from Wednesday 15:36

    # Thursday 08:00: recovered as the server recovers (gateway.app.recover_accounts).
    second, journal = restartable(ist(26, 8, 0))
    second.set_price(reliance, 150_000)
    state = recovered(database, "acct")[0]
    second.engine.restore_account(state)
    second.engine.catch_up_sessions()
    second.settle()
    second.set_price(reliance, 150_000, advance_ms=74 * MINUTE_MS)  # 09:14
    assert sorted(second.inspect("acct", lambda s: list(s.orders))) == ["cnc-limit", "mis-market"]

    second.set_price(reliance, 152_000, advance_ms=MINUTE_MS)  # 09:15: the open
    index = master.index_of(reliance.instrument_id)
    assert index is not None
    opening_ask = int(second.engine.market.snapshot.ask[index])
    positions = second.inspect("acct", lambda s: {p.product: p for p in s.positions.values()})
    assert list(positions) == [Product.MIS]
    assert (positions[Product.MIS].quantity, positions[Product.MIS].cost_paise) == (
        10,
        10 * opening_ask,
    )
    assert list(second.inspect("acct", lambda s: list(s.orders))) == ["cnc-limit"]

    second.set_price(reliance, 150_500, advance_ms=MINUTE_MS)  # crosses the LIMIT's 151_000
    assert second.inspect("acct", lambda s: list(s.orders)) == []
    assert journal.flush(20)
    assert order_rows(database) == {
        "mis-market": ("EXECUTED", True, 10),
        "cnc-limit": ("EXECUTED", True, 10),
    }
    assert recovered(database, "acct")[2]
