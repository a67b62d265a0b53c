"""Account resets as stored (the ``account_resets`` projection): where and when an account's
last reset happened."""

from __future__ import annotations

from datetime import datetime

from persistence.pool import Pool


async def last_reset_seq(pool: Pool, account_id: str) -> int | None:
    """The account sequence number of the account's last reset's event; None if never reset."""
    seq: int | None = await pool.fetchval(
        "SELECT max(account_seq) FROM account_resets WHERE trading_account_id = $1", account_id
    )
    return seq


async def last_reset_at(pool: Pool, account_id: str) -> datetime | None:
    """When the account was last reset; None if never."""
    last: datetime | None = await pool.fetchval(
        "SELECT max(created_at) FROM account_resets WHERE trading_account_id = $1", account_id
    )
    return last
