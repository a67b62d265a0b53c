"""SQL-side invariants shared by the integration tests (run on a connection of their own)."""

from __future__ import annotations

import asyncpg

from persistence.recovery import verify_account
from tests.integration.conftest import fetch, fetchval, run

BLOCKED_FROM_PARTS = """
SELECT a.id,
       a.blocked_paise,
       coalesce((SELECT sum(margin_blocked_paise) FROM orders o
                 WHERE o.trading_account_id = a.id AND o.status = 'PENDING'), 0)
     + coalesce((SELECT sum(margin_paise) FROM positions p
                 WHERE p.trading_account_id = a.id AND p.status = 'OPEN'), 0)
     + coalesce((SELECT sum(cost_paise) FROM holdings h
                 WHERE h.trading_account_id = a.id), 0)
     + coalesce((SELECT sum(amount_paise) FROM fund_blocks f
                 WHERE f.trading_account_id = a.id AND f.status = 'BLOCKED'), 0)
     + coalesce((SELECT sum(value::bigint) FROM jsonb_each_text(a.portfolio_margin)), 0)
       AS parts
FROM trading_accounts a
"""

LEDGER_BY_ACCOUNT = """
SELECT a.id, a.balance_paise, a.blocked_paise, a.deposits_paise, a.withdrawals_paise,
       a.realized_pnl_paise, a.charges_paise,
       coalesce(sum(t.amount_paise) FILTER (WHERE t.book = 'CASH'), 0) AS cash,
       coalesce(sum(t.amount_paise) FILTER (WHERE t.book = 'BLOCKED'), 0) AS blocked,
       coalesce(sum(t.amount_paise), 0) AS all_legs,
       coalesce(sum(t.amount_paise) FILTER (WHERE t.kind = 'PNL' AND t.book = 'CASH'), 0)
           AS pnl,
       coalesce(sum(t.amount_paise)
                FILTER (WHERE t.book IN ('BROKERAGE', 'TAXES', 'PENALTIES')), 0) AS charges
FROM trading_accounts a LEFT JOIN transactions t ON t.trading_account_id = a.id
GROUP BY a.id
"""

LAST_BALANCE_AFTER = """
SELECT DISTINCT ON (trading_account_id, book) trading_account_id, book, balance_after_paise
FROM transactions WHERE book IN ('CASH', 'BLOCKED')
ORDER BY trading_account_id, book, account_seq DESC, leg DESC
"""


def assert_ledger_and_funds(dsn: str) -> int:
    """Check, in SQL, the ledger and the funds identity of every account; return accounts.

    System-wide the legs sum to zero; per account SUM(CASH) is the balance, SUM(BLOCKED) the
    blocked total, the last ``balance_after`` agrees with both, ``balance = deposits -
    withdrawals + realized - charges`` and blocked equals its parts in the projections.
    """
    assert fetchval(dsn, "SELECT coalesce(sum(amount_paise), 0) FROM transactions") == 0
    rows = fetch(dsn, LEDGER_BY_ACCOUNT)
    for r in rows:
        assert r["all_legs"] == 0, dict(r)
        assert r["cash"] == r["balance_paise"], dict(r)
        assert r["blocked"] == r["blocked_paise"], dict(r)
        assert r["pnl"] == r["realized_pnl_paise"], dict(r)
        assert r["charges"] == r["charges_paise"], dict(r)
        identity = (
            r["deposits_paise"]
            - r["withdrawals_paise"]
            + r["realized_pnl_paise"]
            - r["charges_paise"]
        )
        assert r["balance_paise"] == identity, dict(r)
    balances = {r["id"]: r for r in rows}
    for r in fetch(dsn, LAST_BALANCE_AFTER):
        column = "balance_paise" if r["book"] == "CASH" else "blocked_paise"
        assert r["balance_after_paise"] == balances[r["trading_account_id"]][column], dict(r)
    for r in fetch(dsn, BLOCKED_FROM_PARTS):
        assert r["blocked_paise"] == r["parts"], dict(r)
    return len(rows)


def verify_all_accounts(dsn: str) -> dict[str, bool]:
    """For every trading account: does replaying its journal give its projections' state?"""

    async def verify() -> dict[str, bool]:
        conn = await asyncpg.connect(dsn)
        try:
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM trading_accounts ORDER BY id")]
            return {account_id: await verify_account(conn, account_id) for account_id in ids}
        finally:
            await conn.close()

    return run(verify())
