"""The expiry day's revaluation of portfolio margin survives restarts, and its extra ELM is
counted once (docs/DOMAIN.md §2).

A real engine journals to the real PostgreSQL through the persistence actor: a short NIFTY put
sold the day before its expiry day. Each server that runs on the expiry day revalues the
account's portfolio: one running across the day's start at its first tick, a restarted one
at recovery (``revalue_margins``, as ``gateway.app.recover_accounts`` runs it, after every
account is replayed from the journal). Each time the NIFTY figure becomes the model's margin
at that server's market, whose additional margin is the extra (2 % of 65 × the underlying's
price) once: it is that much above what the same market requires on any other day, however
many revaluations came before. The revaluation is journaled as ``PortfolioMarginRevalued``,
and a second one at unchanged prices journals nothing; the figure, the blocked and available
funds in memory equal the projections, the projections equal the replay, and the ledger and
funds identity hold in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import asyncpg
import pytest

from engine.actors.clock import FakeClock
from engine.actors.trading_engine import TradingEngine
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.enums import OrderType, Product, Side
from engine.domain.instruments import InstrumentMaster
from engine.domain.portfolio import PortfolioMargin, position_legs
from engine.market.margin_inputs import underlying_market
from persistence.journal import PersistenceActor
from persistence.recovery import replay_all, verify_account
from tests.integration.conftest import ENGINE_START_MS, fetch, fetchval, run
from tests.support.engine_driver import EngineDriver, ScriptedSource, exact_config, order_request
from tests.support.sql_checks import assert_ledger_and_funds

pytestmark = pytest.mark.timeout(90)

# 2026-12-29 00:00 IST: the start of the NIFTY December contracts' expiry day (15:40 IST).
EXPIRY_DAY_START_MS = 1_798_539_000_000 - (15 * 60 + 40) * 60_000
HOUR_MS = 3_600_000
UNDERLYING_PAISE = 2_613_860  # the NIFTY December future, the options' underlying price
PUT_PAISE = 15_725
EXTRA_PAISE = 3_398_018  # 2 % of 65 × ₹26,138.60
ACCOUNT = "elm-acct"
PUT = "NFO:NIFTY26DEC25500PE"
REVALUED = "SELECT count(*) FROM events WHERE account_id = $1 AND type = 'PortfolioMarginRevalued'"


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


def _set_market(driver: EngineDriver, master: InstrumentMaster) -> None:
    """The NIFTY December future and the put at the prices every server here sees."""
    nifty_fut, put = master.get("NFO:NIFTY26DECFUT"), master.get(PUT)
    assert nifty_fut is not None and put is not None
    driver.set_price(nifty_fut, UNDERLYING_PAISE)
    driver.set_price(put, PUT_PAISE)


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


def _revaluations(database: str, driver: EngineDriver) -> int:
    """How many PortfolioMarginRevalued the account's journal holds (all written first)."""
    driver.settle()
    journal = driver.engine.sink
    assert isinstance(journal, PersistenceActor)
    assert journal.flush(20)
    count = fetchval(database, REVALUED, ACCOUNT)
    assert isinstance(count, int)
    return count


@contextmanager
def _restart(
    database: str, master: InstrumentMaster, now_ms: int, revalued_before: int
) -> Iterator[EngineDriver]:
    """A server started at ``now_ms`` with every account recovered from the journal, then its
    margins revalued, as ``gateway.app.recover_accounts`` does: at most one revaluation more
    is journaled (none if the market gives the figure held), and a second at the same prices
    journals nothing."""
    with _server(database, master, now_ms) as driver:
        _set_market(driver, master)
        for state in run(_replayed(database)).values():
            driver.engine.restore_account(state)
        driver.engine.revalue_margins()
        revalued = _revaluations(database, driver)
        assert revalued in (revalued_before, revalued_before + 1)
        driver.engine.revalue_margins()  # again (another restart would): nothing more
        assert _revaluations(database, driver) == revalued
        yield driver


def _sell_put_the_day_before(driver: EngineDriver, master: InstrumentMaster) -> int:
    """Sell one lot of the NIFTY 25500 PE at market; return the NIFTY portfolio margin it
    blocks."""
    put = master.get(PUT)
    assert put is not None
    _set_market(driver, master)
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
    driver.set_price(put, PUT_PAISE)  # it fills at market on these ticks
    figure = driver.inspect(ACCOUNT, lambda s: s.portfolio_margin["NIFTY"])
    assert isinstance(figure, int)
    return figure


def _model(driver: EngineDriver, master: InstrumentMaster, days_on: int = 0) -> PortfolioMargin:
    """The model's margin on the put's portfolio at the server's market now (as the account
    builds it), on the trade date ``days_on`` days from today's."""
    put = master.get(PUT)
    assert put is not None
    engine, now_ms = driver.engine, driver.clock.now_ms()
    fallback = engine.rules.margin.portfolio.fallback_volatility
    market = underlying_market(engine.market, [put], now_ms, fallback)
    positions = driver.inspect(ACCOUNT, lambda s: list(s.positions.values()))
    legs = tuple(position_legs(positions, market).values())
    trade_date = engine.rules.trade_date(now_ms) + timedelta(days=days_on)
    return engine.rules.portfolio.margin(legs, market, trade_date)


def _check_revalued(database: str, driver: EngineDriver, master: InstrumentMaster) -> int:
    """The NIFTY figure is the model's at this server's market, with the extra once; memory,
    projections, replay and the SQL ledger agree. Return the revaluations journaled."""
    model = _model(driver, master)
    assert model.additional_paise == EXTRA_PAISE
    assert model.blocked_paise - _model(driver, master, days_on=-1).blocked_paise == EXTRA_PAISE
    memory = driver.inspect(
        ACCOUNT, lambda s: (s.portfolio_margin["NIFTY"], s.blocked_paise, s.available_paise)
    )
    assert memory[0] == model.blocked_paise
    revalued = _revaluations(database, driver)
    (row,) = fetch(
        database,
        "SELECT (a.portfolio_margin ->> 'NIFTY')::bigint AS figure, a.blocked_paise,"
        " a.balance_paise - a.blocked_paise AS available, p.margin_paise AS own"
        " FROM positions p JOIN trading_accounts a ON a.id = p.trading_account_id"
        " WHERE a.id = $1 AND p.status = 'OPEN'",
        ACCOUNT,
    )
    assert (row["figure"], row["blocked_paise"], row["available"], row["own"]) == (*memory, 0)
    fingerprint = driver.inspect(ACCOUNT, state_fingerprint)
    assert state_fingerprint(run(_replayed(database))[ACCOUNT]) == fingerprint
    assert run(_verified(database, ACCOUNT))
    assert assert_ledger_and_funds(database) == 1
    return revalued


def test_revaluation_when_running_across_the_day_start_then_restarts_count_the_extra_once(
    database: str, master: InstrumentMaster
) -> None:
    with _server(database, master, ENGINE_START_MS) as driver:
        figure_at_fill = _sell_put_the_day_before(driver, master)
        assert _revaluations(database, driver) == 0
        # Running across the day's start: its first tick revalues, by itself, once.
        driver.clock.advance(EXPIRY_DAY_START_MS - driver.clock.now_ms())
        _set_market(driver, master)
        assert _check_revalued(database, driver, master) == 1
        assert driver.inspect(ACCOUNT, lambda s: s.portfolio_margin["NIFTY"]) > figure_at_fill
    revalued = 1
    for hours in (9, 11):  # restarted twice that morning: recovered, revalued, not doubled
        at_ms = EXPIRY_DAY_START_MS + hours * HOUR_MS
        with _restart(database, master, at_ms, revalued) as after:
            revalued = _check_revalued(database, after, master)


def test_revaluation_when_server_down_across_the_day_start_then_made_at_recovery(
    database: str, master: InstrumentMaster
) -> None:
    with _server(database, master, ENGINE_START_MS) as driver:
        figure_at_fill = _sell_put_the_day_before(driver, master)
    assert fetchval(database, REVALUED, ACCOUNT) == 0
    figure = fetchval(
        database, "SELECT (portfolio_margin ->> 'NIFTY')::bigint FROM trading_accounts"
    )
    assert figure == figure_at_fill
    revalued = 0
    for hours in (10, 12):  # the first start revalues with the extra, the second keeps it once
        at_ms = EXPIRY_DAY_START_MS + hours * HOUR_MS
        with _restart(database, master, at_ms, revalued) as after:
            revalued = _check_revalued(database, after, master)
    assert revalued >= 1
