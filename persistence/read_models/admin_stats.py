"""The admin's system statistics: counts and sums over users, accounts, orders, positions,
requests and resets, in one statement."""

from __future__ import annotations

from asyncpg import Record

from persistence.pool import Pool


async def system_stats(pool: Pool, trade_day: int) -> Record:
    """``users``, ``trading_accounts``, ``orders_today``, ``executed_today``,
    ``open_positions``, ``total_balance``, ``total_blocked`` (paise), ``pending_deposits``,
    ``pending_withdrawals``, ``resets_today`` (on ``trade_day``) and ``resets_total``."""
    return await pool.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM users) AS users,
          (SELECT count(*) FROM trading_accounts) AS trading_accounts,
          (SELECT count(*) FROM orders
             WHERE created_at >= date_trunc('day', now())) AS orders_today,
          (SELECT count(*) FROM orders WHERE status = 'EXECUTED'
             AND executed_at >= date_trunc('day', now())) AS executed_today,
          (SELECT count(*) FROM positions WHERE status = 'OPEN') AS open_positions,
          (SELECT coalesce(sum(balance_paise), 0)::bigint FROM trading_accounts) AS total_balance,
          (SELECT coalesce(sum(blocked_paise), 0)::bigint FROM trading_accounts) AS total_blocked,
          (SELECT count(*) FROM deposits WHERE status = 'PENDING') AS pending_deposits,
          (SELECT count(*) FROM withdrawals WHERE status = 'PENDING') AS pending_withdrawals,
          (SELECT count(*) FROM account_resets WHERE trade_day = $1) AS resets_today,
          (SELECT count(*) FROM account_resets) AS resets_total
        """,
        trade_day,
    )
