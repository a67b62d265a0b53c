"""Load accounts back from PostgreSQL, and check the projections against the journal.

Two independent ways to rebuild an account: ``replay_account`` folds its journal through
``engine.domain.account.apply`` (the source of truth); ``rebuild_from_projections`` reads the
``trading_accounts``, ``orders``, ``positions``, ``holdings``, ``fund_blocks``,
``account_resets`` and ``gtts`` rows.
``verify_account`` compares the two by ``state_fingerprint``, i.e. field for field: balance,
blocked, deposits, withdrawals, realized P&L, charges, sequence, every working order,
every open position, holdings, fund blocks, client order ids, DP days and reset counters.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.domain.account.apply import apply
from engine.domain.account.state import AccountState, FundOperation, position_key, state_fingerprint
from engine.domain.enums import OrderStatus, OrderType, Product, Side, Validity
from engine.domain.events import decode_event
from engine.domain.orders import Order
from engine.domain.positions import Holding, Position
from persistence.gtt_rows import gtt_of_row
from persistence.iceberg_rows import iceberg_of_row
from persistence.projection import ms_of


class JournalCorruptError(Exception):
    """An account's journal is not a gapless sequence starting at 1."""


def _fold(state: AccountState, account_seq: int, payload: str) -> None:
    if account_seq != state.seq + 1:
        raise JournalCorruptError(
            f"account {state.account_id}: event {account_seq} follows {state.seq}"
        )
    apply(state, decode_event(payload))


async def replay_account(conn: Any, account_id: str) -> AccountState:
    """Rebuild one account by replaying its journal (an empty state if it has none)."""
    state = AccountState(account_id)
    rows = await conn.fetch(
        "SELECT account_seq, payload::text AS payload FROM events"
        " WHERE account_id = $1 ORDER BY account_seq",
        account_id,
    )
    for row in rows:
        _fold(state, row["account_seq"], row["payload"])
    return state


async def replay_all(conn: Any) -> dict[str, AccountState]:
    """Rebuild every journaled account by replay (streamed, one pass over the journal)."""
    states: dict[str, AccountState] = {}
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = conn.cursor(
            "SELECT account_id, account_seq, payload::text AS payload FROM events"
            " ORDER BY account_id, account_seq",
            prefetch=1000,
        )
        async for row in cursor:
            account_id = row["account_id"]
            state = states.get(account_id)
            if state is None:
                state = states[account_id] = AccountState(account_id)
            _fold(state, row["account_seq"], row["payload"])
    return states


async def rebuild_from_projections(conn: Any, account_id: str) -> AccountState | None:
    """Rebuild one account from the projection tables alone; None if it is unknown."""
    account = await conn.fetchrow("SELECT * FROM trading_accounts WHERE id = $1", account_id)
    if account is None:
        return None
    state = AccountState(
        account_id,
        seq=account["last_seq"],
        balance_paise=account["balance_paise"],
        deposits_paise=account["deposits_paise"],
        withdrawals_paise=account["withdrawals_paise"],
        realized_pnl_paise=account["realized_pnl_paise"],
        charges_paise=account["charges_paise"],
        blocked_paise=account["blocked_paise"],
        dp_charged_day=msgspec.json.decode(account["dp_charged_day"], type=dict[str, int]),
        expiry_margin_day=account["expiry_margin_day"],
        portfolio_margin=msgspec.json.decode(account["portfolio_margin"], type=dict[str, int]),
        margin_called=account["margin_called"],
        futures_settled_day=account["futures_settled_day"],
    )
    orders = await conn.fetch(
        "SELECT * FROM orders WHERE trading_account_id = $1 ORDER BY created_at, id", account_id
    )
    for row in orders:
        if row["client_order_id"] is not None:
            state.client_order_ids[row["client_order_id"]] = row["id"]
        if row["status"] == OrderStatus.PENDING.value:
            state.orders[row["id"]] = _order(row)
    positions = await conn.fetch(
        "SELECT * FROM positions WHERE trading_account_id = $1 AND status = 'OPEN'", account_id
    )
    for row in positions:
        position = _position(row)
        state.positions[position.position_id] = position
        state.position_ids[position_key(position.instrument_id, position.product)] = (
            position.position_id
        )
    holdings = await conn.fetch(
        "SELECT instrument_id, quantity, cost_paise FROM holdings"
        " WHERE trading_account_id = $1 AND quantity > 0",
        account_id,
    )
    for row in holdings:
        state.holdings[row["instrument_id"]] = Holding(
            row["instrument_id"], row["quantity"], row["cost_paise"]
        )
    blocks = await conn.fetch(
        "SELECT id, amount_paise FROM fund_blocks"
        " WHERE trading_account_id = $1 AND status = 'BLOCKED'",
        account_id,
    )
    state.fund_blocks = {row["id"]: row["amount_paise"] for row in blocks}
    gtts = await conn.fetch(
        "SELECT * FROM gtts WHERE trading_account_id = $1 AND status = 'ACTIVE'"
        " ORDER BY created_at, id",
        account_id,
    )
    state.gtts = {row["id"]: gtt_of_row(row, ms_of) for row in gtts}
    await _load_requests(conn, state)
    await _load_resets(conn, state)
    return state


async def _load_resets(conn: Any, state: AccountState) -> None:
    """The reset counters the per-day limit reads, from the ``account_resets`` rows."""
    row = await conn.fetchrow(
        "SELECT count(*) AS total, max(trade_day) AS last_day,"
        " count(*) FILTER (WHERE trade_day = (SELECT max(trade_day) FROM account_resets"
        "   WHERE trading_account_id = $1)) AS on_last_day"
        " FROM account_resets WHERE trading_account_id = $1",
        state.account_id,
    )
    state.resets_total = row["total"]
    state.last_reset_day = row["last_day"] or 0
    state.resets_on_last_day = row["on_last_day"]


async def _load_requests(conn: Any, state: AccountState) -> None:
    """Pending journaled requests and keyed admin adjustments, as the account holds them."""
    account_id = state.account_id
    for table, pending in (
        ("deposits", state.pending_deposits),
        ("withdrawals", state.pending_withdrawals),
    ):
        rows = await conn.fetch(
            f"SELECT id, amount_paise FROM {table}"  # table is one of two literals above
            " WHERE trading_account_id = $1 AND status = 'PENDING' AND journaled",
            account_id,
        )
        pending.update((row["id"], row["amount_paise"]) for row in rows)
    operations = await conn.fetch(
        "SELECT * FROM admin_fund_operations"
        " WHERE trading_account_id = $1 AND account_seq IS NOT NULL ORDER BY account_seq",
        account_id,
    )
    for row in operations:
        state.fund_operations[row["idempotency_key"]] = FundOperation(
            operation=row["operation"],
            amount_paise=row["amount_paise"],
            operator_id=row["admin_user_id"],
            balance_after_paise=row["balance_after_paise"],
            account_seq=row["account_seq"],
            at_ms=ms_of(row["created_at"]),
        )


def _order(row: Any) -> Order:
    return Order(
        order_id=row["id"],
        client_order_id=row["client_order_id"],
        instrument_id=row["instrument_id"],
        side=Side(row["side"]),
        product=Product(row["product"]),
        order_type=OrderType(row["order_type"]),
        validity=Validity(row["validity"]),
        quantity=row["quantity"],
        price_paise=row["price_paise"],
        trigger_paise=row["trigger_paise"],
        status=OrderStatus(row["status"]),
        margin_blocked_paise=row["margin_blocked_paise"],
        created_ms=ms_of(row["created_at"]),
        updated_ms=ms_of(row["updated_at"]),
        filled_quantity=row["filled_quantity"],
        fill_value_paise=row["fill_value_paise"],
        charges_paise=row["charges_paise"],
        triggered=row["triggered"],
        version=row["version"],
        brokerage_paise=row["brokerage_paise"],
        tag=row["tag"],
        after_market=row["after_market"],
        iceberg=iceberg_of_row(row),
    )


def _position(row: Any) -> Position:
    return Position(
        position_id=row["id"],
        instrument_id=row["instrument_id"],
        product=Product(row["product"]),
        quantity=row["quantity"],
        cost_paise=row["cost_paise"],
        margin_paise=row["margin_paise"],
        realized_pnl_paise=row["realized_pnl_paise"],
        opened_ms=ms_of(row["opened_at"]),
        stop_loss_paise=row["stop_loss_paise"],
        target_paise=row["target_paise"],
        buy_brokerage_paise=row["buy_brokerage_paise"],
        buy_taxes_paise=row["buy_taxes_paise"],
    )


async def verify_account(conn: Any, account_id: str) -> bool:
    """True when the journal replay and the projections give the same account state.

    Both are read in one read-only snapshot, so a group committed meanwhile (the server keeps
    trading while it verifies) is in both or in neither.
    """
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        replayed = await replay_account(conn, account_id)
        projected = await rebuild_from_projections(conn, account_id)
    if projected is None:
        return replayed.seq == 0
    return state_fingerprint(replayed) == state_fingerprint(projected)
