"""Per-user limits on rows a user creates (trading accounts, API apps), counted and taken
under a transaction-scoped advisory lock of that user, so two requests at once cannot both
take the last place."""

from __future__ import annotations

from typing import Any


async def has_room(conn: Any, scope: str, user_id: str, count_sql: str, limit: int) -> bool:
    """Whether ``user_id`` holds fewer than ``limit`` rows (``count_sql``, ``$1`` the user) of
    ``scope``; call inside the transaction that then inserts, which holds the lock until it
    ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1 || ':' || $2))", scope, user_id)
    held: int = await conn.fetchval(count_sql, user_id)
    return held < limit
