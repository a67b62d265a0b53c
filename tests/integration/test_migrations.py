"""Migrations and the embedded server.

Proves that the numbered migrations apply in order to an empty database, record themselves
in ``schema_migrations`` and apply nothing the second time (also when two migrators race),
that the schema has the tables and indexes the API reads with, and that the embedded
PostgreSQL keeps its data across a stop and a restart of the same data directory.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from persistence.embedded import EmbeddedPostgres
from persistence.migrate import discover, migrate
from tests.integration.conftest import fetch, fetchval, run

pytestmark = pytest.mark.timeout(60)

TABLES = {
    "users",
    "sessions",
    "trading_accounts",
    "instruments",
    "orders",
    "positions",
    "holdings",
    "fund_blocks",
    "transactions",
    "deposits",
    "withdrawals",
    "bank_accounts",
    "trading_logs",
    "events",
    "admin_fund_operations",
    "account_resets",
    "gtts",
    "trades",
    "order_history",
    "api_apps",
    "kite_request_tokens",
    "kite_access_tokens",
    "candles",
    "candle_seeds",
    "schema_migrations",
}


async def _migrate(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def test_empty_database_when_migrated_twice_then_applied_once(empty_database: str) -> None:
    names = [m.name for m in discover()]
    assert names[0] == "0001_initial.sql"
    assert run(_migrate(empty_database)) == names
    assert run(_migrate(empty_database)) == []
    recorded = fetch(empty_database, "SELECT version, name FROM schema_migrations ORDER BY 1")
    assert [(r["version"], r["name"]) for r in recorded] == list(enumerate(names, start=1))
    tables = {
        r["tablename"]
        for r in fetch(
            empty_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    }
    assert tables == TABLES


def test_two_migrators_when_racing_then_each_migration_applied_once(
    empty_database: str,
) -> None:
    async def race() -> list[list[str]]:
        return list(await asyncio.gather(_migrate(empty_database), _migrate(empty_database)))

    first, second = run(race())
    # Each migration takes the lock in its own transaction, so the two may share the work;
    # every migration is applied by exactly one of them, each in version order.
    names = [m.name for m in discover()]
    assert sorted(first + second) == names
    assert first == sorted(first) and second == sorted(second)
    assert fetchval(empty_database, "SELECT count(*) FROM schema_migrations") == len(discover())


def test_schema_when_migrated_then_api_queries_have_indexes(database: str) -> None:
    indexes = {
        r["indexname"]: r["indexdef"]
        for r in fetch(
            database, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        )
    }
    assert "trading_account_id, created_at DESC" in indexes["orders_account_created_idx"]
    assert "trading_account_id, status" in indexes["orders_account_status_idx"]
    assert "trading_account_id, status" in indexes["positions_account_status_idx"]
    assert "trading_account_id, account_seq, leg" in indexes["transactions_pkey"]
    assert "brin (created_at)" in indexes["trading_logs_time_brin_idx"]
    assert "status" in indexes["deposits_status_idx"]
    assert "status" in indexes["withdrawals_status_idx"]
    assert "account_id, account_seq" in indexes["events_account_id_account_seq_key"]
    assert "trading_account_id, executed_at DESC, id DESC" in indexes["trades_account_time_idx"]
    assert "order_id, account_seq" in indexes["trades_order_idx"]
    assert "order_id, account_seq" in indexes["order_history_order_idx"]
    money = fetch(
        database,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name LIKE '%paise'",
    )
    assert money and all(r["data_type"] == "bigint" for r in money)


def test_orders_when_migrated_then_after_market_flag_is_a_boolean_false_by_default(
    database: str,
) -> None:
    """Migration 0019: orders placed before after-market orders existed read as regular."""
    (column,) = fetch(
        database,
        "SELECT data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_name = 'orders' AND column_name = 'after_market'",
    )
    assert (column["data_type"], column["is_nullable"], column["column_default"]) == (
        "boolean",
        "NO",
        "false",
    )


def test_embedded_server_when_stopped_and_restarted_then_data_kept(pg_data_dir: Path) -> None:
    server = EmbeddedPostgres(pg_data_dir)
    dsn = server.start()
    first_start_s = server.started_in_s
    run(_migrate(dsn))
    fetch(dsn, "INSERT INTO users (id, email, name, password_hash) VALUES ('u1', 'a@b', 'A', 'h')")
    server.stop()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        fetch(dsn, "SELECT 1")
    began = time.perf_counter()
    dsn_again = server.start()
    restart_s = time.perf_counter() - began
    try:
        assert dsn_again == dsn
        assert fetchval(dsn, "SELECT email FROM users WHERE id = 'u1'") == "a@b"
        assert run(_migrate(dsn)) == []
        assert restart_s < max(first_start_s, 0.5) + 1.0  # a restart skips initdb
    finally:
        server.stop()


def test_account_with_ledger_when_deleted_then_refused(database: str) -> None:
    async def attempt() -> None:
        conn = await asyncpg.connect(database)
        try:
            await conn.execute("INSERT INTO trading_accounts (id) VALUES ('acct-1')")
            await conn.execute(
                "INSERT INTO transactions (trading_account_id, account_seq, leg, book,"
                " counterparty_book, kind, amount_paise, created_at)"
                " VALUES ('acct-1', 1, 0, 'CASH', 'EXTERNAL', 'DEPOSIT', 100, now())"
            )
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await conn.execute("DELETE FROM trading_accounts WHERE id = 'acct-1'")
            await conn.execute("INSERT INTO trading_accounts (id) VALUES ('acct-2')")
            await conn.execute("DELETE FROM trading_accounts WHERE id = 'acct-2'")  # no ledger
        finally:
            await conn.close()

    run(attempt())
