"""Integration fixtures: one real PostgreSQL per test session, a fresh database per test.

The server is the embedded pgserver PostgreSQL (started once, ~0.7 s, in a temporary data
directory deleted afterwards) unless ``DATABASE_URL`` points at one; that server must let the
role create databases. Data directories live in ``tempfile.mkdtemp`` directories, not under
pytest's basetemp: pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 and prunes old
basetemps whenever any pytest session starts, which would cut a running server (PostgreSQL
runs as the unprivileged ``pgserver`` user when the tests run as root) off its data.

The schema is migrated once into a template database, and every test gets its own database
copied from it with ``CREATE DATABASE .. TEMPLATE`` (~30 ms): tests
cannot see each other's rows, a test may drop connections or lock out its own database, and
nothing depends on test order. A unique schema per test would be cheaper still but would
leave the migrations' ``schema_migrations`` bookkeeping and ``pg_terminate_backend``
experiments shared between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from engine.actors.clock import FakeClock
from engine.actors.trading_engine import TradingEngine
from engine.config import Config, JournalConfig
from engine.domain.account.state import AccountState
from engine.domain.instruments import InstrumentMaster
from persistence.embedded import DATABASE_URL_ENV, EmbeddedPostgres, dsn_with_database
from persistence.journal import PersistenceActor
from persistence.migrate import migrate
from persistence.recovery import rebuild_from_projections, replay_account, verify_account
from tests.support.engine_driver import EngineDriver, ScriptedSource, exact_config

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion on a fresh loop (tests are synchronous)."""
    return asyncio.run(coro)


async def _fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run a query on a connection of its own (a second client, never the actor's)."""
    return run(_fetch(dsn, sql, *args))


def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    rows = fetch(dsn, sql, *args)
    return rows[0][0] if rows else None


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def data_directory() -> Iterator[Path]:
    """A fresh directory for a PostgreSQL data directory, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="paperdesk-pg-"))
    try:
        yield root / "data"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    """A data directory for a test that runs (and stops) an embedded server of its own."""
    with data_directory() as path:
        yield path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin DSN of the session's PostgreSQL server."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        yield url
        return
    with data_directory() as path:
        embedded = EmbeddedPostgres(path)
        try:
            yield embedded.start()
        finally:
            embedded.stop()


@pytest.fixture(scope="session")
def template_database(pg_server: str) -> Iterator[str]:
    """A migrated database that test databases are copied from."""
    name = f"paperdesk_template_{uuid.uuid4().hex[:8]}"
    run(_admin(pg_server, f'CREATE DATABASE "{name}"'))

    async def apply() -> None:
        conn = await asyncpg.connect(dsn_with_database(pg_server, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    run(apply())
    yield name
    run(_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _new_database(pg_server: str, template: str | None) -> Iterator[str]:
    name = f"paperdesk_test_{uuid.uuid4().hex[:12]}"
    source = f' TEMPLATE "{template}"' if template else ""
    run(_admin(pg_server, f'CREATE DATABASE "{name}"{source}'))
    yield dsn_with_database(pg_server, name)
    run(_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database(pg_server: str, template_database: str) -> Iterator[str]:
    """The DSN of a fresh, migrated database of this test's own."""
    yield from _new_database(pg_server, template_database)


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    """The DSN of a fresh database with no schema at all."""
    yield from _new_database(pg_server, None)


def journal_config(config: Config, **overrides: Any) -> JournalConfig:
    return replace(config.journal, **overrides)


@pytest.fixture
def make_actor(config: Config) -> Iterator[Callable[..., PersistenceActor]]:
    """``make_actor(dsn, **journal_overrides)``: a started actor, stopped after the test."""
    actors: list[PersistenceActor] = []

    def build(dsn: str, **overrides: Any) -> PersistenceActor:
        actor = PersistenceActor(dsn, journal_config(config, **overrides))
        actor.start()
        actors.append(actor)
        return actor

    yield build
    for actor in actors:
        actor.stop(timeout_s=5)


ENGINE_START_MS = 1_795_496_400_000


@pytest.fixture
def driven(
    database: str, master: InstrumentMaster
) -> Iterator[tuple[EngineDriver, PersistenceActor]]:
    """A real pooled ``TradingEngine`` (scripted prices, fake clock, no ticker) whose sink is a
    persistence actor in ``commit`` mode on ``database``; both stopped after the test."""
    exact = exact_config(journal={"durability": "commit"})
    actor = PersistenceActor(database, exact.journal)
    actor.start()
    source = ScriptedSource()
    clock = FakeClock(ENGINE_START_MS)
    engine = TradingEngine(exact, master, sink=actor, clock=clock, source=source, runtime="pooled")
    engine.start(ticking=False)
    try:
        yield EngineDriver(engine, source, clock), actor
    finally:
        engine.stop()
        actor.stop(timeout_s=5)


Server = tuple[EngineDriver, PersistenceActor]


@pytest.fixture
def restartable(
    database: str, master: InstrumentMaster, config: Config
) -> Iterator[Callable[[int], Server]]:
    """``restartable(at_ms)``: a server started on ``database`` at ``at_ms`` (a real pooled
    engine on the module's ``config``, scripted prices, a fake clock, no ticker, its sink a
    persistence actor): a test stops one and starts the next on the same database, as a
    restart does. Each is stopped after the test."""
    started: list[Server] = []

    def start(at_ms: int) -> Server:
        actor = PersistenceActor(database, config.journal)
        actor.start()
        source, clock = ScriptedSource(), FakeClock(at_ms)
        engine = TradingEngine(
            config, master, sink=actor, clock=clock, source=source, runtime="pooled"
        )
        engine.start(ticking=False)
        started.append((EngineDriver(engine, source, clock), actor))
        return started[-1]

    yield start
    for driver, actor in started:
        driver.engine.stop()
        actor.stop(timeout_s=5)


async def _recover(dsn: str, account_id: str) -> tuple[AccountState, AccountState | None, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        replayed = await replay_account(conn, account_id)
        rebuilt = await rebuild_from_projections(conn, account_id)
        return replayed, rebuilt, await verify_account(conn, account_id)
    finally:
        await conn.close()


def recovered(dsn: str, account_id: str) -> tuple[AccountState, AccountState | None, bool]:
    """The account as the journal replays it, as its projections rebuild it, and whether
    the two agree (``verify_account``)."""
    return run(_recover(dsn, account_id))


@pytest.fixture
def postgres(pg_data_dir: Path) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL of this test's own, which the test may stop and start."""
    server = EmbeddedPostgres(pg_data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
