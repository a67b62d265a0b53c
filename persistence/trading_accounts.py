"""Trading accounts in Postgres (``trading_accounts``): which user owns which, the balance
each opened with, and the accounts whose opening credit is missing. (A new account's row is
written with its user, ``persistence.users.create_user``.)"""

from __future__ import annotations

from typing import Any

from asyncpg import Record

from persistence.pool import Pool
from persistence.user_limits import has_room


async def all_account_ids(conn: Any) -> list[str]:
    """Every trading account's id, journaled or not (at start, on the recovery connection)."""
    rows = await conn.fetch("SELECT id FROM trading_accounts")
    return [row["id"] for row in rows]


async def account_ids_of_user(pool: Pool, user_id: str) -> tuple[str, ...]:
    """The ids of the trading accounts a user owns, oldest first."""
    rows = await pool.fetch(
        "SELECT id FROM trading_accounts WHERE user_id = $1 ORDER BY created_at", user_id
    )
    return tuple(row["id"] for row in rows)


async def owner_of(pool: Pool, account_id: str) -> str | None:
    """The user id owning a trading account; None if there is no such account."""
    owner: str | None = await pool.fetchval(
        "SELECT user_id FROM trading_accounts WHERE id = $1", account_id
    )
    return owner


async def account_by_id(pool: Pool, account_id: str) -> Record | None:
    """``id`` and ``user_id`` of the trading account ``account_id``, or None."""
    return await pool.fetchrow("SELECT id, user_id FROM trading_accounts WHERE id = $1", account_id)


async def first_account_of_user(pool: Pool, user_id: str) -> Record | None:
    """``id`` and ``user_id`` of the user's oldest trading account, or None."""
    return await pool.fetchrow(
        "SELECT id, user_id FROM trading_accounts WHERE user_id = $1 ORDER BY created_at LIMIT 1",
        user_id,
    )


async def opening_balance_of(pool: Pool, account_id: str) -> Any:
    """The balance the account opened with, in paise (``opening_balance_paise``)."""
    return await pool.fetchval(
        "SELECT opening_balance_paise FROM trading_accounts WHERE id = $1", account_id
    )


async def accounts_without_opening_credit(pool: Pool, credit_kind: str) -> list[Record]:
    """``id`` and ``opening_balance_paise`` of each account owed an opening balance with no
    ledger entry of ``credit_kind`` yet, oldest first."""
    return await pool.fetch(
        "SELECT a.id, a.opening_balance_paise FROM trading_accounts a"
        " WHERE a.opening_balance_paise > 0 AND NOT EXISTS ("
        "   SELECT 1 FROM transactions t"
        "   WHERE t.trading_account_id = a.id AND t.kind = $1)"
        " ORDER BY a.created_at, a.id",
        credit_kind,
    )


async def insert_account(
    pool: Pool,
    *,
    account_id: str,
    user_id: str,
    name: str,
    opening_balance_paise: int,
    accounts_max: int,
) -> Record | None:
    """A further trading account of ``user_id`` (owed ``opening_balance_paise``); None when
    the user already holds ``accounts_max``. The user's accounts are counted under a lock of
    theirs, so two requests at once cannot both take the last place."""
    count = "SELECT count(*) FROM trading_accounts WHERE user_id = $1"
    async with pool.acquire() as conn, conn.transaction():
        if not await has_room(conn, "accounts", user_id, count, accounts_max):
            return None
        row: Record = await conn.fetchrow(
            "INSERT INTO trading_accounts (id, user_id, name, opening_balance_paise)"
            " VALUES ($1, $2, $3, $4) RETURNING id, user_id, name, created_at",
            account_id,
            user_id,
            name,
            opening_balance_paise,
        )
    return row


async def accounts_of_user(pool: Pool, user_id: str) -> list[Record]:
    """``id``, ``name`` and ``created_at`` of each of the user's accounts, oldest first."""
    return await pool.fetch(
        "SELECT id, user_id, name, created_at FROM trading_accounts WHERE user_id = $1"
        " ORDER BY created_at, id",
        user_id,
    )
