"""Stored trades (the ``trades`` projection, one per fill): an account's pages of them, newest
first, and an order's, in the order they happened."""

from __future__ import annotations

from datetime import datetime

from asyncpg import Record

from persistence.pool import Pool

TRADE_LIST = """
SELECT * FROM trades
WHERE trading_account_id = $1
  AND ($2::text IS NULL OR order_id = $2)
  AND ($3::timestamptz IS NULL OR (executed_at >= $3 AND executed_at < $4))
  AND ($5::timestamptz IS NULL OR (executed_at, id) < ($5, $6))
ORDER BY executed_at DESC, id DESC
LIMIT $7
"""


async def trade_page(
    pool: Pool,
    account_id: str,
    *,
    order_id: str | None,
    between: tuple[datetime, datetime] | None,
    before: datetime | None,
    before_id: str,
    limit: int,
) -> list[Record]:
    """At most ``limit`` of the account's trades, newest first: of ``order_id`` (any order when
    None), executed in ``[start, end)`` of ``between`` (any time when None), before the cursor
    ``(before, before_id)`` (from the newest when ``before`` is None)."""
    start, end = (None, None) if between is None else between
    return await pool.fetch(TRADE_LIST, account_id, order_id, start, end, before, before_id, limit)


async def trades_of_order(pool: Pool, order_id: str) -> list[Record]:
    """Every trade of an order, first first."""
    return await pool.fetch(
        "SELECT * FROM trades WHERE order_id = $1 ORDER BY account_seq", order_id
    )
