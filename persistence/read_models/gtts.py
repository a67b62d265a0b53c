"""Stored GTTs (the ``gtts`` projection, migration 0017): one by id, and the pages of an
account's GTTs, newest first."""

from __future__ import annotations

from datetime import datetime

from asyncpg import Record

from persistence.pool import Pool

GTT_LIST = """
SELECT * FROM gtts
WHERE trading_account_id = $1
  AND ($2::text IS NULL OR status = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
ORDER BY created_at DESC, id DESC
LIMIT $5
"""


async def gtt_by_id(pool: Pool, gtt_id: str) -> Record | None:
    return await pool.fetchrow("SELECT * FROM gtts WHERE id = $1", gtt_id)


async def gtt_page(
    pool: Pool,
    account_id: str,
    *,
    status: str | None,
    before: datetime | None,
    before_id: str,
    limit: int,
) -> list[Record]:
    """At most ``limit`` of the account's GTTs, newest first: those with ``status`` (any when
    None), before the cursor ``(before, before_id)`` (from the newest when ``before`` is
    None)."""
    return await pool.fetch(GTT_LIST, account_id, status, before, before_id, limit)
