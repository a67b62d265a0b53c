"""The SQL of one group commit: journal rows and projection upserts in one transaction."""

from __future__ import annotations

from typing import Any

from persistence.projection import Rows

INSERT_EVENTS = """
INSERT INTO events (account_id, account_seq, type, payload, occurred_at)
SELECT a, s, t, p::jsonb, o
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[])
    WITH ORDINALITY AS e (a, s, t, p, o, n)
ORDER BY n
ON CONFLICT (account_id, account_seq) DO NOTHING
RETURNING account_id, account_seq
"""

UPSERT_ACCOUNTS = """
INSERT INTO trading_accounts (id, last_seq, balance_paise, blocked_paise, deposits_paise,
    withdrawals_paise, realized_pnl_paise, charges_paise, dp_charged_day, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
ON CONFLICT (id) DO UPDATE SET
    last_seq = EXCLUDED.last_seq, balance_paise = EXCLUDED.balance_paise,
    blocked_paise = EXCLUDED.blocked_paise, deposits_paise = EXCLUDED.deposits_paise,
    withdrawals_paise = EXCLUDED.withdrawals_paise,
    realized_pnl_paise = EXCLUDED.realized_pnl_paise, charges_paise = EXCLUDED.charges_paise,
    dp_charged_day = EXCLUDED.dp_charged_day, updated_at = EXCLUDED.updated_at
"""

UPSERT_ORDERS = """
INSERT INTO orders (id, trading_account_id, client_order_id, instrument_id, side, product,
    order_type, validity, quantity, filled_quantity, price_paise, trigger_paise,
    fill_value_paise, average_price_paise, margin_blocked_paise, charges_paise, triggered,
    status, rejection_reason, cancel_reason, created_at, updated_at, executed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
    $20, $21, $22, $23)
ON CONFLICT (id) DO UPDATE SET
    order_type = EXCLUDED.order_type, quantity = EXCLUDED.quantity,
    filled_quantity = EXCLUDED.filled_quantity, price_paise = EXCLUDED.price_paise,
    trigger_paise = EXCLUDED.trigger_paise, fill_value_paise = EXCLUDED.fill_value_paise,
    average_price_paise = EXCLUDED.average_price_paise,
    margin_blocked_paise = EXCLUDED.margin_blocked_paise,
    charges_paise = EXCLUDED.charges_paise, triggered = EXCLUDED.triggered,
    status = EXCLUDED.status, rejection_reason = EXCLUDED.rejection_reason,
    cancel_reason = EXCLUDED.cancel_reason, updated_at = EXCLUDED.updated_at,
    executed_at = EXCLUDED.executed_at
"""

UPSERT_POSITIONS = """
INSERT INTO positions (id, trading_account_id, instrument_id, product, quantity, cost_paise,
    average_price_paise, margin_paise, realized_pnl_paise, stop_loss_paise, target_paise,
    status, close_reason, opened_at, updated_at, closed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (id) DO UPDATE SET
    quantity = EXCLUDED.quantity, cost_paise = EXCLUDED.cost_paise,
    average_price_paise = EXCLUDED.average_price_paise, margin_paise = EXCLUDED.margin_paise,
    realized_pnl_paise = EXCLUDED.realized_pnl_paise,
    stop_loss_paise = EXCLUDED.stop_loss_paise, target_paise = EXCLUDED.target_paise,
    status = EXCLUDED.status, close_reason = EXCLUDED.close_reason,
    updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at
"""

UPSERT_HOLDINGS = """
INSERT INTO holdings (trading_account_id, instrument_id, quantity, cost_paise, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (trading_account_id, instrument_id) DO UPDATE SET
    quantity = EXCLUDED.quantity, cost_paise = EXCLUDED.cost_paise,
    updated_at = EXCLUDED.updated_at
"""

UPSERT_FUND_BLOCKS = """
INSERT INTO fund_blocks (trading_account_id, id, amount_paise, kind, status, created_at,
    released_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (trading_account_id, id) DO UPDATE SET
    status = EXCLUDED.status, released_at = EXCLUDED.released_at
"""

INSERT_LEDGER = """
INSERT INTO transactions (trading_account_id, account_seq, leg, book, counterparty_book, kind,
    amount_paise, balance_after_paise, reference, description, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (trading_account_id, account_seq, leg) DO NOTHING
"""

INSERT_LOGS = """
INSERT INTO trading_logs (trading_account_id, account_seq, category, level, message, details,
    created_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
"""


async def write_rows(conn: Any, rows: Rows) -> int:
    """Write ``rows`` on ``conn`` (inside the caller's transaction); return events inserted.

    Ledger legs and logs are written only for events the journal insert really added, so a
    batch written twice (a retry after an unacknowledged commit) leaves one set of rows.
    """
    if not rows.events:
        return 0
    columns = list(zip(*rows.events, strict=True))
    inserted = await conn.fetch(INSERT_EVENTS, *(list(c) for c in columns))
    fresh = {(r["account_id"], r["account_seq"]) for r in inserted}
    # Accounts first: orders, positions and the ledger reference them.
    await conn.executemany(UPSERT_ACCOUNTS, list(rows.accounts.values()))
    if rows.orders:
        await conn.executemany(UPSERT_ORDERS, list(rows.orders.values()))
    if rows.positions:
        # Closed rows first, so a re-opened key never meets its old OPEN row (unique index).
        positions = sorted(rows.positions.values(), key=lambda row: row[11] == "OPEN")
        await conn.executemany(UPSERT_POSITIONS, positions)
    if rows.holdings:
        await conn.executemany(UPSERT_HOLDINGS, list(rows.holdings.values()))
    if rows.fund_blocks:
        await conn.executemany(UPSERT_FUND_BLOCKS, list(rows.fund_blocks.values()))
    ledger = [row for row in rows.ledger if (row[0], row[1]) in fresh]
    if ledger:
        await conn.executemany(INSERT_LEDGER, ledger)
    logs = [row for row in rows.logs if (row[0], row[1]) in fresh]
    if logs:
        await conn.executemany(INSERT_LOGS, logs)
    return len(fresh)
