"""Users with their trading account's summary (``users`` joined to ``trading_accounts``), the
admin's list of users."""

from __future__ import annotations

from asyncpg import Record

from persistence.pool import Pool


async def users_with_accounts(
    pool: Pool, search: str, after_email: str | None, limit: int
) -> list[Record]:
    """At most ``limit`` users whose email or name contains ``search`` (any case), ordered by
    email after ``after_email`` (from the first when None): each user's columns with
    ``account_id``, ``balance_paise``, ``blocked_paise`` and ``realized_pnl_paise`` of their
    account (None without one)."""
    pattern = f"%{search.lower()}%"
    return await pool.fetch(
        """
        SELECT u.*, a.id AS account_id, a.balance_paise, a.blocked_paise, a.realized_pnl_paise
        FROM users u LEFT JOIN trading_accounts a ON a.user_id = u.id
        WHERE (lower(u.email) LIKE $1 OR lower(u.name) LIKE $1)
          AND ($2::text IS NULL OR u.email > $2)
        ORDER BY u.email LIMIT $3
        """,
        pattern,
        after_email,
        limit,
    )
