"""Stored positions (the ``positions`` projection): whose account one is, and an account's
closed positions."""

from __future__ import annotations

from datetime import datetime

from asyncpg import Record

from persistence.pool import Pool

# Positions have no sequence number of their own: those after a reset are the ones its
# account's journal names in a fill after the reset's event (exact, where a time comparison
# would not be for what happens in the reset's own millisecond).
POSITIONS_SINCE = (
    "SELECT payload->>'position_id' FROM events WHERE account_id = {account}"
    " AND account_seq > {seq} AND type = 'OrderFilled'"
)

CLOSED_POSITIONS = f"""
SELECT * FROM positions
WHERE trading_account_id = $1 AND status = 'CLOSED'
  AND ($2::bigint IS NULL OR id IN ({POSITIONS_SINCE.format(account="$1", seq="$2")}))
ORDER BY closed_at DESC NULLS LAST LIMIT 500
"""


async def account_of_position(pool: Pool, position_id: str) -> str | None:
    """The trading account a stored position belongs to; None if there is no such position."""
    account_id: str | None = await pool.fetchval(
        "SELECT trading_account_id FROM positions WHERE id = $1", position_id
    )
    return account_id


async def closed_positions(pool: Pool, account_id: str, after_seq: int | None) -> list[Record]:
    """The account's last 500 closed positions, latest closed first: only those opened after
    the journal's ``after_seq`` when it is given."""
    return await pool.fetch(CLOSED_POSITIONS, account_id, after_seq)


async def positions_closed_since(
    pool: Pool, account_id: str, since: datetime, limit: int
) -> list[Record]:
    """The account's positions closed by trading at or after ``since`` (not those settled into
    holdings), in the order they closed, at most ``limit``: a broker's day positions show them
    with their realised P&L."""
    return await pool.fetch(
        "SELECT * FROM positions WHERE trading_account_id = $1 AND status = 'CLOSED'"
        " AND close_reason IS DISTINCT FROM 'SETTLED' AND closed_at >= $2"
        " ORDER BY closed_at, id LIMIT $3",
        account_id,
        since,
        limit,
    )
