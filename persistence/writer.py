"""The SQL of one group commit: journal rows and every projection in ONE statement.

A group is written by a single ``WITH`` statement whose data-modifying parts each write one
table set-based, ``INSERT .. SELECT FROM unnest($n::text[], ..)``, and which runs as its own
implicit transaction: one round trip that executes and commits (no BEGIN, no COMMIT, no
statement per table). The parts share one snapshot and run in no fixed order; foreign keys
are checked at the end of the statement, so an order may name an account the same statement
inserts.

:class:`~persistence.projection.Rows` already holds one row per key (the last state of an
order, position or account in the group), which ``ON CONFLICT DO UPDATE`` requires: it may
not touch a row twice in one statement. ``WITH ORDINALITY .. ORDER BY n`` keeps the rows in
the order given. Ledger legs and trading logs are inserted only for events the journal part
really added (``fresh``), so a group written twice (a retry after a commit whose
acknowledgement was lost) leaves one set of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
SELECT id, last_seq, balance, blocked, deposits, withdrawals, pnl, charges, dp::jsonb, at
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
    $7::bigint[], $8::bigint[], $9::text[], $10::timestamptz[])
    WITH ORDINALITY AS r (id, last_seq, balance, blocked, deposits, withdrawals, pnl, charges,
        dp, at, n)
ORDER BY n
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
SELECT id, account, client_id, instrument, side, product, order_type, validity, quantity,
    filled, price, trigger_price, fill_value, average_price, margin, charges, triggered,
    status, rejection, cancel, created, updated, executed
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
    $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::boolean[], $18::text[],
    $19::text[], $20::text[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[])
    WITH ORDINALITY AS r (id, account, client_id, instrument, side, product, order_type,
        validity, quantity, filled, price, trigger_price, fill_value, average_price, margin,
        charges, triggered, status, rejection, cancel, created, updated, executed, n)
ORDER BY n
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

# Rows go in the order given: closed rows first (see ``write_rows``).
UPSERT_POSITIONS = """
INSERT INTO positions (id, trading_account_id, instrument_id, product, quantity, cost_paise,
    average_price_paise, margin_paise, realized_pnl_paise, stop_loss_paise, target_paise,
    status, close_reason, opened_at, updated_at, closed_at)
SELECT id, account, instrument, product, quantity, cost, average_price, margin, pnl,
    stop_loss, target, status, close_reason, opened, updated, closed
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
    $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[],
    $13::text[], $14::timestamptz[], $15::timestamptz[], $16::timestamptz[])
    WITH ORDINALITY AS r (id, account, instrument, product, quantity, cost, average_price,
        margin, pnl, stop_loss, target, status, close_reason, opened, updated, closed, n)
ORDER BY n
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
SELECT account, instrument, quantity, cost, updated
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[])
    WITH ORDINALITY AS r (account, instrument, quantity, cost, updated, n)
ORDER BY n
ON CONFLICT (trading_account_id, instrument_id) DO UPDATE SET
    quantity = EXCLUDED.quantity, cost_paise = EXCLUDED.cost_paise,
    updated_at = EXCLUDED.updated_at
"""

UPSERT_FUND_BLOCKS = """
INSERT INTO fund_blocks (trading_account_id, id, amount_paise, kind, status, created_at,
    released_at)
SELECT account, id, amount, kind, status, created, released
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
    $6::timestamptz[], $7::timestamptz[])
    WITH ORDINALITY AS r (account, id, amount, kind, status, created, released, n)
ORDER BY n
ON CONFLICT (trading_account_id, id) DO UPDATE SET
    status = EXCLUDED.status, released_at = EXCLUDED.released_at
"""

# No ON CONFLICT: legs are written only for events this statement journaled, so none can
# exist yet (a speculative insert costs an extra pre-check and WAL record per row); the
# unique key still turns a bug into an error instead of a second set of legs.
INSERT_LEDGER = """
INSERT INTO transactions (trading_account_id, account_seq, leg, book, counterparty_book, kind,
    amount_paise, balance_after_paise, reference, description, created_at)
SELECT account, seq, leg, book, counterparty, kind, amount, balance_after, reference,
    description, created
FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::text[], $5::text[], $6::text[],
    $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::timestamptz[])
    WITH ORDINALITY AS r (account, seq, leg, book, counterparty, kind, amount, balance_after,
        reference, description, created, n)
WHERE (account, seq) IN (SELECT account_id, account_seq FROM fresh)
ORDER BY n
"""

INSERT_LOGS = """
INSERT INTO trading_logs (trading_account_id, account_seq, category, level, message, details,
    created_at)
SELECT account, seq, category, level, message, details::jsonb, created
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[])
    WITH ORDINALITY AS r (account, seq, category, level, message, details, created, n)
WHERE (account, seq) IN (SELECT account_id, account_seq FROM fresh)
ORDER BY n
"""


_PARAMETER = re.compile(r"\$(\d+)")


def _parameters(sql: str) -> int:
    return max(int(n) for n in _PARAMETER.findall(sql))


def _shifted(sql: str, offset: int) -> str:
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


# (CTE name, statement): the order of the statement's parameters, one array per column.
PARTS = (
    ("fresh", INSERT_EVENTS),
    ("accounts", UPSERT_ACCOUNTS),
    ("orders", UPSERT_ORDERS),
    ("positions", UPSERT_POSITIONS),
    ("holdings", UPSERT_HOLDINGS),
    ("fund_blocks", UPSERT_FUND_BLOCKS),
    ("ledger", INSERT_LEDGER),
    ("logs", INSERT_LOGS),
)
WIDTHS = tuple(_parameters(sql) for _, sql in PARTS)


def _write_group_sql() -> str:
    ctes, offset = [], 0
    for (name, sql), width in zip(PARTS, WIDTHS, strict=True):
        ctes.append(f"{name} AS ({_shifted(sql.strip(), offset)})")
        offset += width
    return "WITH " + ",\n".join(ctes) + "\nSELECT count(*) FROM fresh"


WRITE_GROUP = _write_group_sql()


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Transpose rows into ``width`` column lists, one ``unnest`` array each."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def group_arguments(rows: Rows) -> list[list[Any]]:
    """The parameters of :data:`WRITE_GROUP` for ``rows``, in the order of :data:`PARTS`."""
    # The ledger has no foreign key to trading_accounts (migration 0004): this is the check.
    assert {row[0] for row in rows.ledger} <= rows.accounts.keys(), "a leg without its account"
    # Closed rows first, so a re-opened key never meets its old OPEN row (unique index).
    positions = sorted(rows.positions.values(), key=lambda row: row[11] == "OPEN")
    tables: tuple[Sequence[Sequence[Any]], ...] = (
        rows.events,
        list(rows.accounts.values()),
        list(rows.orders.values()),
        positions,
        list(rows.holdings.values()),
        list(rows.fund_blocks.values()),
        rows.ledger,
        rows.logs,
    )
    return [
        column
        for table, width in zip(tables, WIDTHS, strict=True)
        for column in columns(table, width)
    ]


async def write_rows(conn: Any, rows: Rows) -> int:
    """Write ``rows`` on ``conn`` in one statement (its own transaction); return events added."""
    if not rows.events:
        return 0
    inserted: int = await conn.fetchval(WRITE_GROUP, *group_arguments(rows))
    return inserted
