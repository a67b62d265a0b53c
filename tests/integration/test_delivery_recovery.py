"""Physical settlement end to end, on a real PostgreSQL (docs/DOMAIN.md §6).

A real pooled ``TradingEngine`` lists RELIANCE futures and options beside the sample master and
journals through the persistence actor in ``commit`` mode. A long future and a long call in the
money are held to their expiry instant: the market reports it, the account closes both
positions (``EXPIRED``) and takes 1,000 shares into its holding with ``SharesDelivered``. The
journal holds the delivery, the projections show it (holdings, positions' close reason, ledger
legs, trading log), and after a restart the journal replays to the engine's state; the
restarted engine's catch-up of the same expiry changes nothing.
"""

from __future__ import annotations

import asyncpg
import msgspec
import pytest

from engine.actors.clock import FakeClock
from engine.actors.trading_engine import TradingEngine
from engine.domain.account.state import AccountState, funds_identity_holds, state_fingerprint
from engine.domain.enums import InstrumentType, OrderType, Product, Side
from engine.domain.events import SharesDelivered, decode_event
from engine.domain.instruments import Instrument, InstrumentMaster
from persistence.journal import PersistenceActor
from persistence.recovery import rebuild_from_projections, replay_all, verify_account
from tests.integration.conftest import ENGINE_START_MS, fetch, run
from tests.support.engine_driver import EngineDriver, ScriptedSource, exact_config, order_request
from tests.support.sql_checks import assert_ledger_and_funds
from tests.support.stock_fno import (
    EXPIRY_MS,
    RELIANCE_LOT,
    reliance_future,
    reliance_option,
    with_stock_fno,
)

pytestmark = pytest.mark.timeout(90)

FUTURE = reliance_future()
CALL = reliance_option(1500, InstrumentType.CE)


@pytest.fixture
def listed(master: InstrumentMaster) -> InstrumentMaster:
    return with_stock_fno(master, FUTURE, CALL)


@pytest.fixture
def reliance(listed: InstrumentMaster) -> Instrument:
    shares = listed.get("NSE:RELIANCE")
    assert shares is not None
    return shares


def _driver(database: str, listed: InstrumentMaster, now_ms: int) -> EngineDriver:
    """A started pooled engine journaling through its own persistence actor on ``database``;
    ``_stop`` stops both."""
    exact = exact_config(journal={"durability": "commit"})
    actor = PersistenceActor(database, exact.journal)
    actor.start()
    source, clock = ScriptedSource(), FakeClock(now_ms)
    engine = TradingEngine(exact, listed, sink=actor, clock=clock, source=source, runtime="pooled")
    engine.start(ticking=False)
    return EngineDriver(engine, source, clock)


def _journal(driver: EngineDriver) -> PersistenceActor:
    sink = driver.engine.sink
    assert isinstance(sink, PersistenceActor)
    return sink


def _stop(driver: EngineDriver) -> None:
    driver.engine.stop()
    _journal(driver).stop(timeout_s=5)


async def _journal_views(dsn: str) -> tuple[AccountState, AccountState, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        replayed = (await replay_all(conn))["acct"]
        rebuilt = await rebuild_from_projections(conn, "acct")
        assert rebuilt is not None
        return replayed, rebuilt, await verify_account(conn, "acct")
    finally:
        await conn.close()


def _expire_held_contracts(first: EngineDriver, reliance: Instrument) -> AccountState:
    """Buy a lot of the future and of the call, hold them to expiry; the account after."""
    first.set_price(reliance, 154_280)
    first.open_account("acct", 10_000_000_00)
    for contract in (FUTURE, CALL):
        order = order_request(
            contract,
            f"buy-{contract.symbol}",
            product=Product.NRML,
            order_type=OrderType.MARKET,
            quantity=RELIANCE_LOT,
        )
        assert first.ask("acct", order).rejection is None
    first.settle()
    assert len(first.inspect("acct", lambda s: s.positions)) == 2
    # RELIANCE closes at ₹1,560 as the contracts expire: the future and the ₹1,500 call
    # (₹60 in the money) both take 500 shares.
    first.set_price(reliance, 156_000, advance_ms=EXPIRY_MS - first.clock.now_ms())
    first.settle()
    assert _journal(first).flush(20)
    assert first.inspect("acct", funds_identity_holds)
    encoded: bytes = first.inspect("acct", msgspec.json.encode)  # a copy, not the actor's own
    return msgspec.json.decode(encoded, type=AccountState)


def _assert_projected(database: str, reliance: Instrument) -> None:
    rows = fetch(
        database,
        "SELECT payload::text AS payload FROM events WHERE type = 'SharesDelivered'",
    )
    delivered = [decode_event(r["payload"]) for r in rows]
    assert all(isinstance(d, SharesDelivered) for d in delivered)
    seen = sorted(
        (d.contract_id, d.side, d.quantity, d.price_paise)
        for d in delivered
        if isinstance(d, SharesDelivered)
    )
    assert seen == sorted(
        [
            (FUTURE.instrument_id, Side.BUY, 500, 156_000),
            (CALL.instrument_id, Side.BUY, 500, 150_000),
        ]
    )
    holdings = fetch(database, "SELECT instrument_id, quantity, cost_paise FROM holdings")
    assert [tuple(r) for r in holdings] == [
        (reliance.instrument_id, 1_000, 500 * 156_000 + 500 * 150_000)
    ]
    positions = fetch(database, "SELECT status, close_reason FROM positions")
    assert [tuple(r) for r in positions] == [("CLOSED", "EXPIRED")] * 2
    taxes = fetch(
        database,
        "SELECT t.amount_paise FROM transactions t JOIN events e"
        " ON e.account_id = t.trading_account_id AND e.account_seq = t.account_seq"
        " WHERE e.type = 'SharesDelivered' AND t.book = 'CASH' AND t.kind = 'TAXES'",
    )
    assert sorted(-r["amount_paise"] for r in taxes) == sorted(
        d.taxes_paise for d in delivered if isinstance(d, SharesDelivered)
    )
    messages = [r["message"] for r in fetch(database, "SELECT message FROM trading_logs")]
    assert messages.count("shares received at expiry: 500") == 2
    assert assert_ledger_and_funds(database) == 1


def _events(database: str) -> int:
    count: int = fetch(database, "SELECT count(*) AS n FROM events")[0]["n"]
    return count


def test_stock_fno_when_expired_then_delivery_journaled_projected_and_replayed_after_restart(
    database: str, listed: InstrumentMaster, reliance: Instrument
) -> None:
    first = _driver(database, listed, ENGINE_START_MS)
    try:
        memory = _expire_held_contracts(first, reliance)
    finally:
        _stop(first)
    assert not memory.positions
    holding = memory.holdings[reliance.instrument_id]
    assert (holding.quantity, holding.cost_paise) == (1_000, 500 * 156_000 + 500 * 150_000)
    _assert_projected(database, reliance)

    # Restarted: the journal replays to the state the engine held, and so do the projections.
    replayed, rebuilt, verified = run(_journal_views(database))
    assert state_fingerprint(replayed) == state_fingerprint(rebuilt) == state_fingerprint(memory)
    assert verified

    # An hour after the expiry the restarted engine catches up on it: nothing happens twice.
    events_before = _events(database)
    second = _driver(database, listed, EXPIRY_MS + 3_600_000)
    try:
        second.engine.restore_account(replayed)
        second.engine.catch_up_expiries()
        second.settle()
        assert _journal(second).flush(20)
        assert second.inspect("acct", state_fingerprint) == state_fingerprint(memory)
    finally:
        _stop(second)
    assert _events(database) == events_before
