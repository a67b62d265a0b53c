"""Stored orders (the ``orders`` projection): one by id, whose account it is, the pages of an
account's orders, newest first, and an order's history (the ``order_history`` projection)."""

from __future__ import annotations

from datetime import datetime

from asyncpg import Record

from persistence.pool import Pool

# Orders have no sequence number of their own: those after a reset are the ones its account's
# journal names after the reset's event (exact, where a time comparison would not be for what
# happens in the reset's own millisecond).
ORDERS_SINCE = (
    "SELECT payload->>'order_id' FROM events WHERE account_id = {account} AND account_seq > {seq}"
    " AND type IN ('OrderAccepted', 'OrderRejected')"
)

ORDER_LIST = f"""
SELECT * FROM orders
WHERE trading_account_id = $1
  AND ($2::text IS NULL OR status = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
  AND ($6::bigint IS NULL OR id IN ({ORDERS_SINCE.format(account="$1", seq="$6")}))
ORDER BY created_at DESC, id DESC
LIMIT $5
"""


async def order_by_id(pool: Pool, order_id: str | None) -> Record | None:
    return await pool.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)


async def account_of_order(pool: Pool, order_id: str) -> str | None:
    """The trading account a stored order belongs to; None if there is no such order."""
    account_id: str | None = await pool.fetchval(
        "SELECT trading_account_id FROM orders WHERE id = $1", order_id
    )
    return account_id


async def order_page(
    pool: Pool,
    account_id: str,
    *,
    status: str | None,
    before: datetime | None,
    before_id: str,
    limit: int,
    after_seq: int | None,
) -> list[Record]:
    """At most ``limit`` of the account's orders, newest first: those with ``status`` (any
    when None), before the cursor ``(before, before_id)`` (from the newest when ``before`` is
    None), placed after the journal's ``after_seq`` (whenever, when None)."""
    return await pool.fetch(ORDER_LIST, account_id, status, before, before_id, limit, after_seq)


async def order_history(pool: Pool, order_id: str) -> list[Record]:
    """Every change of an order, first first: what it became, its filled quantity and terms."""
    return await pool.fetch(
        "SELECT * FROM order_history WHERE order_id = $1 ORDER BY account_seq", order_id
    )


async def day_orders(pool: Pool, account_id: str, day_start: datetime, limit: int) -> list[Record]:
    """The account's orders placed since ``day_start`` and those still working from before,
    oldest first (a broker's order book), at most ``limit`` of them."""
    return await pool.fetch(
        "SELECT * FROM orders WHERE trading_account_id = $1"
        " AND (created_at >= $2 OR status = 'PENDING')"
        " ORDER BY created_at, id LIMIT $3",
        account_id,
        day_start,
        limit,
    )
