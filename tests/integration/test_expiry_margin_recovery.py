"""The expiry-day extra ELM survives a restart, and is not blocked twice (docs/DOMAIN.md §2).

A real engine journals to the real PostgreSQL through the persistence actor: a short NIFTY put
sold the day before its expiry day blocks the extra at the day's first tick. The server then
stops and a new one recovers every account from the journal (``replay_all``) later that day and
runs the recovery catch-up (``catch_up_expiry_margin``) twice: the journal holds one
``ExpiryMarginBlocked``, the position's margin and the account's blocked and available funds
hold the extra once, in memory and in the projections, the projections equal the replay and
the ledger and funds identity hold in SQL. A server down across the day's start blocks it once
at recovery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest

from engine.actors.clock import FakeClock
from engine.actors.trading_engine import TradingEngine
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.enums import OrderType, Product, Side
from engine.domain.instruments import InstrumentMaster
from persistence.journal import PersistenceActor
from persistence.recovery import replay_all, verify_account
from tests.integration.conftest import ENGINE_START_MS, fetch, fetchval, run
from tests.support.engine_driver import EngineDriver, ScriptedSource, exact_config, order_request
from tests.support.sql_checks import assert_ledger_and_funds

pytestmark = pytest.mark.timeout(90)

# 2026-12-29 00:00 IST: the start of the NIFTY December contracts' expiry day (15:40 IST).
EXPIRY_DAY_START_MS = 1_798_539_000_000 - (15 * 60 + 40) * 60_000
HOUR_MS = 3_600_000
UNDERLYING_PAISE = 2_613_860
EXTRA_PAISE = 3_398_018  # 2 % of 65 × ₹26,138.60
ACCOUNT = "elm-acct"


@contextmanager
def _server(database: str, master: InstrumentMaster, now_ms: int) -> Iterator[EngineDriver]:
    """One run of the server: an engine journaling through a persistence actor in ``commit``
    mode, its fake clock at ``now_ms``; stopped (everything written) on leaving."""
    config = exact_config(journal={"durability": "commit"})
    actor = PersistenceActor(database, config.journal)
    actor.start()
    source, clock = ScriptedSource(), FakeClock(now_ms)
    engine = TradingEngine(config, master, sink=actor, clock=clock, source=source, runtime="pooled")
    engine.start(ticking=False)
    driver = EngineDriver(engine, source, clock)
    try:
        yield driver
        driver.settle()
        assert actor.flush(20)
    finally:
        engine.stop()
        actor.stop(timeout_s=5)


async def _replayed(database: str) -> dict[str, AccountState]:
    conn = await asyncpg.connect(database)
    try:
        return await replay_all(conn)
    finally:
        await conn.close()


async def _verified(database: str, account_id: str) -> bool:
    conn = await asyncpg.connect(database)
    try:
        return await verify_account(conn, account_id)
    finally:
        await conn.close()


@contextmanager
def _restart(database: str, master: InstrumentMaster, now_ms: int) -> Iterator[EngineDriver]:
    """A server started at ``now_ms`` with every account recovered from the journal and the
    expiry-day margin caught up, as ``gateway.app.recover_accounts`` does."""
    with _server(database, master, now_ms) as driver:
        nifty_fut = master.get("NFO:NIFTY26DECFUT")
        assert nifty_fut is not None
        driver.set_price(nifty_fut, UNDERLYING_PAISE)
        for state in run(_replayed(database)).values():
            driver.engine.restore_account(state)
        driver.engine.catch_up_expiry_margin()
        driver.settle()
        yield driver


def _sell_put_the_day_before(driver: EngineDriver, master: InstrumentMaster) -> tuple[str, int]:
    """Sell one lot of the NIFTY 25500 PE at market; return its position id and margin."""
    nifty_fut = master.get("NFO:NIFTY26DECFUT")
    put = master.get("NFO:NIFTY26DEC25500PE")
    assert nifty_fut is not None and put is not None
    driver.set_price(nifty_fut, UNDERLYING_PAISE)
    driver.set_price(put, 15_725)
    driver.open_account(ACCOUNT, 10_000_000_00)
    request = order_request(
        put,
        "sell-put",
        side=Side.SELL,
        product=Product.NRML,
        order_type=OrderType.MARKET,
        quantity=65,
    )
    assert driver.ask(ACCOUNT, request).rejection is None
    driver.set_price(put, 15_725)  # it fills at market on these ticks
    ((position_id, margin),) = driver.inspect(
        ACCOUNT, lambda s: [(p.position_id, p.margin_paise) for p in s.positions.values()]
    )
    return position_id, margin


def _check_blocked_once(
    database: str, driver: EngineDriver, position_id: str, margin_at_fill: int
) -> None:
    """One ExpiryMarginBlocked journaled; the extra held once in memory and projections."""
    driver.settle()
    journal = driver.engine.sink
    assert isinstance(journal, PersistenceActor)
    assert journal.flush(20)
    assert (
        fetchval(
            database,
            "SELECT count(*) FROM events WHERE account_id = $1 AND type = 'ExpiryMarginBlocked'",
            ACCOUNT,
        )
        == 1
    )
    memory = driver.inspect(
        ACCOUNT,
        lambda s: (s.positions[position_id].margin_paise, s.blocked_paise, s.available_paise),
    )
    assert memory[0] == margin_at_fill + EXTRA_PAISE
    (row,) = fetch(
        database,
        "SELECT p.margin_paise, a.blocked_paise, a.balance_paise - a.blocked_paise AS available"
        " FROM positions p JOIN trading_accounts a ON a.id = p.trading_account_id"
        " WHERE p.id = $1 AND p.status = 'OPEN'",
        position_id,
    )
    assert tuple(row) == memory
    fingerprint = driver.inspect(ACCOUNT, state_fingerprint)
    assert state_fingerprint(run(_replayed(database))[ACCOUNT]) == fingerprint
    assert run(_verified(database, ACCOUNT))
    assert assert_ledger_and_funds(database) == 1


def test_extra_when_blocked_then_restarted_twice_the_same_day_then_held_once(
    database: str, master: InstrumentMaster
) -> None:
    with _server(database, master, ENGINE_START_MS) as driver:
        position_id, margin_at_fill = _sell_put_the_day_before(driver, master)
        nifty_fut = master.get("NFO:NIFTY26DECFUT")
        assert nifty_fut is not None
        # Running across the day's start: its first tick blocks the extra.
        driver.set_price(
            nifty_fut, UNDERLYING_PAISE, advance_ms=EXPIRY_DAY_START_MS - driver.clock.now_ms()
        )
        margin = driver.inspect(ACCOUNT, lambda s: s.positions[position_id].margin_paise)
        assert margin == margin_at_fill + EXTRA_PAISE
    for hours in (9, 11):  # restarted twice that morning: recovered, caught up, not doubled
        with _restart(database, master, EXPIRY_DAY_START_MS + hours * HOUR_MS) as after:
            _check_blocked_once(database, after, position_id, margin_at_fill)


def test_extra_when_server_down_across_the_day_start_then_blocked_once_at_recovery(
    database: str, master: InstrumentMaster
) -> None:
    with _server(database, master, ENGINE_START_MS) as driver:
        position_id, margin_at_fill = _sell_put_the_day_before(driver, master)
    assert fetchval(database, "SELECT count(*) FROM events WHERE type = 'ExpiryMarginBlocked'") == 0
    for hours in (10, 12):  # the first start blocks it, the second finds it done
        with _restart(database, master, EXPIRY_DAY_START_MS + hours * HOUR_MS) as after:
            _check_blocked_once(database, after, position_id, margin_at_fill)
