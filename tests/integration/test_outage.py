"""The database going away under the persistence actor.

Proves that when every connection is killed and the database refuses new ones, and when the
embedded server itself is stopped, the actor stops accepting writes, acknowledges nothing it
has not written, holds the unwritten batches in order, and once the database is back writes
all of them: nothing lost, nothing duplicated, projections equal to the journal replay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from engine.config import Config
from engine.domain.account.state import state_fingerprint
from engine.domain.instruments import InstrumentMaster
from engine.domain.rules import AccountRules
from persistence.embedded import EmbeddedPostgres
from persistence.journal import PersistenceActor
from persistence.migrate import migrate
from persistence.recovery import replay_account, verify_account
from tests.integration.conftest import fetch, fetchval, run
from tests.support.scenario import Session, add_decider, every_event_session
from tests.support.sql_checks import assert_ledger_and_funds

pytestmark = pytest.mark.timeout(60)

MakeActor = Callable[..., PersistenceActor]
FAST_RETRIES = {"retries_max": 2, "retry_backoff_ms": 10, "retry_backoff_max_ms": 100}


def wait_until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class Acks:
    """Collects acknowledgements from the writer thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: list[tuple[int, bool]] = []

    def callback(self, index: int) -> Callable[[bool], None]:
        def on_durable(ok: bool) -> None:
            with self.lock:
                self.values.append((index, ok))

        return on_durable

    def count(self) -> int:
        with self.lock:
            return len(self.values)


async def _check_account(dsn: str, account_id: str) -> tuple[str, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        return state_fingerprint(await replay_account(conn, account_id)), await verify_account(
            conn, account_id
        )
    finally:
        await conn.close()


def _run_outage(
    dsn: str,
    actor: PersistenceActor,
    session: Session,
    go_down: Callable[[], None],
    come_back: Callable[[], None],
) -> None:
    batches = session.batches
    half = len(batches) // 2
    acks = Acks()
    for i, batch in enumerate(batches[:half]):
        actor.submit(batch, acks.callback(i))
    assert actor.flush(10)
    assert actor.accepting()
    events_before = fetchval(dsn, "SELECT count(*) FROM events")

    go_down()
    for i, batch in enumerate(batches[half:], start=half):
        actor.submit(batch, acks.callback(i))
    wait_until(lambda: not actor.accepting())
    assert not actor.healthy
    time.sleep(0.3)  # retries keep failing while it is down
    assert acks.count() == half, "nothing written may be acknowledged while down"
    assert actor.stats.outages == 1

    come_back()
    assert actor.flush(20)
    wait_until(actor.accepting)
    assert acks.values == [(i, True) for i in range(len(batches))]  # in order, all durable
    assert actor.stats.batches_failed == 0
    assert fetchval(dsn, "SELECT count(*) FROM events") == sum(len(b.events) for b in batches)
    assert events_before < sum(len(b.events) for b in batches)
    duplicated = (
        "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY account_seq HAVING count(*) > 1) d"
    )
    assert fetchval(dsn, duplicated) == 0
    replayed, verified = run(_check_account(dsn, session.state.account_id))
    assert replayed == state_fingerprint(session.state)
    assert verified
    assert assert_ledger_and_funds(dsn) == 1


def test_connections_killed_and_refused_when_back_then_everything_flushed_once(
    pg_server: str,
    database: str,
    make_actor: MakeActor,
    config: Config,
    rules: AccountRules,
    master: InstrumentMaster,
) -> None:
    add_decider(database)
    session = every_event_session("acct-down", config, rules, master)
    actor = make_actor(database, **FAST_RETRIES)
    name = urlsplit(database).path.lstrip("/")

    def go_down() -> None:
        fetch(pg_server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        killed = fetch(
            pg_server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            name,
        )
        assert killed, "the actor's connection was not found"

    def come_back() -> None:
        fetch(pg_server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    _run_outage(database, actor, session, go_down, come_back)


def test_embedded_server_stopped_when_restarted_then_everything_flushed_once(
    pg_data_dir: Path, config: Config, rules: AccountRules, master: InstrumentMaster
) -> None:
    from tests.integration.conftest import journal_config

    server = EmbeddedPostgres(pg_data_dir)
    dsn = server.start()
    actor: PersistenceActor | None = None
    try:

        async def prepare() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        run(prepare())
        add_decider(dsn)
        session = every_event_session("acct-stop", config, rules, master)
        actor = PersistenceActor(dsn, journal_config(config, **FAST_RETRIES))
        actor.start()

        def come_back() -> None:
            assert server.start() == dsn

        _run_outage(dsn, actor, session, server.stop, come_back)
    finally:
        if actor is not None:
            actor.stop(timeout_s=5)
        server.stop()


def test_transient_errors_when_classified_then_killed_connections_are_retried() -> None:
    from persistence.journal import DatabaseUnavailableError, is_transient

    assert is_transient(DatabaseUnavailableError("down"))
    assert is_transient(ConnectionResetError())
    assert is_transient(asyncpg.exceptions.AdminShutdownError("terminated"))
    assert is_transient(asyncpg.exceptions.SerializationError("conflict"))
    assert is_transient(asyncpg.exceptions.DeadlockDetectedError("deadlock"))
    assert is_transient(asyncpg.exceptions.QueryCanceledError("statement timeout"))
    assert is_transient(asyncpg.exceptions.InternalClientError("another operation"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("bug"))
    assert not is_transient(AssertionError("bug"))
