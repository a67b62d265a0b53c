"""The ledger as the console shows it (the ``transactions`` projection): an account's latest
entries that moved its cash."""

from __future__ import annotations

from asyncpg import Record

from persistence.pool import Pool


async def latest_cash_entries(
    pool: Pool, account_id: str, limit: int, after_seq: int
) -> list[Record]:
    """The account's ``limit`` latest ledger legs with a balance after them (its cash legs),
    journaled after ``after_seq``, newest first."""
    return await pool.fetch(
        "SELECT * FROM transactions"
        " WHERE trading_account_id = $1 AND balance_after_paise IS NOT NULL"
        " AND account_seq > $3"
        " ORDER BY account_seq DESC, leg DESC LIMIT $2",
        account_id,
        limit,
        after_seq,
    )
