"""Users' bank accounts in Postgres (``bank_accounts``, written by the gateway directly: no
money moves): a user's latest, one of theirs, adding one and removing one (kept, marked
removed)."""

from __future__ import annotations

from asyncpg import Record

from persistence.pool import Pool


async def latest_bank_accounts(pool: Pool, user_id: str, limit: int) -> list[Record]:
    """The user's ``limit`` latest bank accounts not removed, newest first."""
    return await pool.fetch(
        "SELECT * FROM bank_accounts WHERE user_id = $1 AND removed_at IS NULL"
        " ORDER BY created_at DESC LIMIT $2",
        user_id,
        limit,
    )


async def users_bank_account(pool: Pool, bank_account_id: str, user_id: str) -> Record | None:
    """The bank account if it is the user's and not removed; None otherwise."""
    return await pool.fetchrow(
        "SELECT * FROM bank_accounts WHERE id = $1 AND user_id = $2 AND removed_at IS NULL",
        bank_account_id,
        user_id,
    )


async def add_bank_account(
    pool: Pool,
    *,
    bank_account_id: str,
    user_id: str,
    bank_name: str,
    account_number: str,
    ifsc: str,
    account_holder: str,
) -> Record:
    """Store a bank account of the user's; its row."""
    return await pool.fetchrow(
        "INSERT INTO bank_accounts"
        " (id, user_id, bank_name, account_number, ifsc, account_holder)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        bank_account_id,
        user_id,
        bank_name,
        account_number,
        ifsc,
        account_holder,
    )


async def remove_bank_account(pool: Pool, bank_account_id: str) -> Record | None:
    """Mark the bank account removed; its row as it now is."""
    return await pool.fetchrow(
        "UPDATE bank_accounts SET removed_at = now() WHERE id = $1 RETURNING *",
        bank_account_id,
    )
