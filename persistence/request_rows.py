"""Projection rows of fund requests, keyed admin adjustments and account resets:
``deposits``, ``withdrawals``, ``admin_fund_operations`` and ``account_resets``.

These rows are written in the same statement as the events that decide them (one write path
for money, docs/ARCHITECTURE.md): a request and its block, a decision and its credit or debit, an
adjustment and its idempotency record commit together or not at all. A request row carries
every column when its request event is projected; a decision fills in only the decision's
columns (``ON CONFLICT DO UPDATE`` leaves the others as the request wrote them).
"""

from __future__ import annotations

from typing import Any

from engine.domain import events as ev
from engine.domain.account.state import AccountState
from persistence.rows import Rows

# Column order of a request row (see writer.UPSERT_DEPOSITS / UPSERT_WITHDRAWALS).
REQUEST_FIELDS = (
    "id",
    "account",
    "bank",
    "amount",
    "reference",
    "status",
    "remarks",
    "created",
    "decided",
    "decided_by",
)


def request_row(
    rows: dict[str, dict[str, Any]], request_id: str, account_id: str, amount_paise: int
) -> dict[str, Any]:
    """The row of ``request_id`` in this group, started from defaults if new to it."""
    row = rows.get(request_id)
    if row is None:
        row = rows[request_id] = dict.fromkeys(REQUEST_FIELDS)
        row.update(id=request_id, account=account_id, amount=amount_paise, reference="")
    return row


def project_request(
    state: AccountState,
    account_seq: int,
    event: ev.AccountEvent,
    when: Any,
    rows: Rows,
) -> None:
    """Add the request rows ``event`` (already applied to ``state``) writes, if any."""
    account_id = state.account_id
    deposits, withdrawals = rows.deposits, rows.withdrawals
    if isinstance(event, ev.DepositRequested):
        row = request_row(deposits, event.deposit_id, account_id, event.amount_paise)
        row.update(
            bank=event.bank_account_id, reference=event.reference, status="PENDING", created=when
        )
    elif isinstance(event, ev.WithdrawalRequested):
        row = request_row(withdrawals, event.withdrawal_id, account_id, event.amount_paise)
        row.update(bank=event.bank_account_id, status="PENDING", created=when)
    elif isinstance(event, ev.DepositDecided | ev.WithdrawalDecided):
        table, request_id = (
            (deposits, event.deposit_id)
            if isinstance(event, ev.DepositDecided)
            else (withdrawals, event.withdrawal_id)
        )
        row = request_row(table, request_id, account_id, event.amount_paise)
        row.update(
            status="APPROVED" if event.approved else "REJECTED",
            remarks=event.remarks,
            decided=when,
            decided_by=event.decided_by,
        )
        if row["created"] is None:
            row["created"] = when  # only read if the row is new, which a decision's never is
    elif isinstance(event, ev.WithdrawalCancelled):
        # Nobody decided it: ``decided_by`` names admins only (the payload names the user).
        row = request_row(withdrawals, event.withdrawal_id, account_id, event.amount_paise)
        row.update(status="CANCELLED", remarks="cancelled by an account reset", decided=when)
        if row["created"] is None:
            row["created"] = when  # only read if the row is new, which it never is
    elif isinstance(event, ev.AccountReset):
        rows.resets.append(
            (
                event.reset_id,
                account_id,
                account_seq,
                event.trade_day,
                event.by_user_id,
                event.by_role,
                event.opening_balance_paise,
                event.adjustment_paise,
                when,
            )
        )
    elif isinstance(event, ev.FundsCredited | ev.FundsDebited) and event.operation_key:
        record = state.fund_operations[event.operation_key]
        rows.fund_operations.append(
            (
                event.operation_key,
                account_id,
                record.operation,
                record.amount_paise,
                record.operator_id,
                record.balance_after_paise,
                account_seq,
                when,
            )
        )


def request_values(rows: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """The rows as arrays in ``REQUEST_FIELDS`` order, for the group statement."""
    return [[row[name] for name in REQUEST_FIELDS] for row in rows.values()]
