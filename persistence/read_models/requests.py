"""Stored deposit and withdrawal requests (the ``deposits`` and ``withdrawals`` projections):
one by id, with or without its account's owner, an account's latest, the admin's pages, the
deposits made before requests were journaled, and whether a block is a withdrawal's."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from asyncpg import Record

from persistence.pool import Pool

RequestTable = Literal["deposits", "withdrawals"]

# The request tables; their names are the only text ever formatted into SQL here, and only
# from this set (values always go as parameters).
REQUEST_TABLES = frozenset({"deposits", "withdrawals"})


async def request_by_id(pool: Pool, table: RequestTable, request_id: str) -> Record | None:
    assert table in REQUEST_TABLES
    return await pool.fetchrow(
        f"SELECT * FROM {table} WHERE id = $1",  # table is one of two literals
        request_id,
    )


async def request_with_owner(pool: Pool, table: RequestTable, request_id: str) -> Record | None:
    """The request with ``owner``, the user id owning its trading account; None if none."""
    assert table in REQUEST_TABLES
    return await pool.fetchrow(
        f"SELECT r.*, a.user_id AS owner FROM {table} r"
        " JOIN trading_accounts a ON a.id = r.trading_account_id WHERE r.id = $1",
        request_id,
    )


async def latest_requests(
    pool: Pool, table: RequestTable, account_id: str, limit: int
) -> list[Record]:
    """The account's ``limit`` latest requests, newest first."""
    assert table in REQUEST_TABLES
    return await pool.fetch(
        f"SELECT * FROM {table} WHERE trading_account_id = $1 ORDER BY created_at DESC LIMIT $2",
        account_id,
        limit,
    )


async def request_page(
    pool: Pool,
    table: RequestTable,
    *,
    status: str | None,
    before: datetime | None,
    before_id: str,
    limit: int,
) -> list[Record]:
    """At most ``limit`` requests, newest first: those with ``status`` (any when None), before
    the cursor ``(before, before_id)`` (from the newest when ``before`` is None)."""
    assert table in REQUEST_TABLES
    return await pool.fetch(
        f"SELECT * FROM {table} WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        status,
        before,
        before_id,
        limit,
    )


async def unjournaled_pending_deposits(pool: Pool) -> list[Record]:
    """PENDING deposits written before requests were journaled events, oldest first: ``id``,
    ``trading_account_id``, ``amount_paise``, ``bank_account_id``, ``reference``."""
    return await pool.fetch(
        "SELECT id, trading_account_id, amount_paise, bank_account_id, reference FROM deposits"
        " WHERE status = 'PENDING' AND NOT journaled ORDER BY created_at, id"
    )


async def block_held_by_withdrawal(pool: Pool, account_id: str, block_id: str) -> bool:
    """Whether the account's fund block ``block_id`` is a withdrawal's: named by a withdrawal
    row, or of kind WITHDRAWAL (a withdrawal blocks its amount before its row is written)."""
    held: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM withdrawals WHERE trading_account_id = $1 AND block_id = $2)"
        " OR EXISTS (SELECT 1 FROM fund_blocks"
        "  WHERE trading_account_id = $1 AND id = $2 AND kind = 'WITHDRAWAL')",
        account_id,
        block_id,
    )
    return held
