"""Answers about an account's money, in the shapes docs/API.md documents: its funds as its actor
holds them, what a fund operation did, its ledger entries and its deposit and withdrawal
requests."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.actors.account_actor import Outcome
from engine.domain import events as ev
from engine.domain.money import paise_to_rupees
from gateway.keys import BRIDGE, ENGINE
from gateway.views import funds_view, iso_moment, iso_ms, marks_of


async def funds_of(request: web.Request, account_id: str) -> dict[str, Any]:
    engine = request.app[ENGINE]
    funds: dict[str, Any] = await request.app[BRIDGE].inspect(
        account_id,
        lambda state: funds_view(
            state, marks_of(state, engine.master, engine.market, engine.rules.risk)
        ),
    )
    return funds


async def operation_result(
    request: web.Request, account_id: str, outcome: Outcome
) -> dict[str, Any]:
    """``{funds, transaction}`` after a fund operation, built from the outcome itself (and the
    account's funds in memory): never re-read from the database, so a reply cannot contradict
    what was committed."""
    funds = await funds_of(request, account_id)
    event = outcome.events[-1]
    account_seq = outcome.first_seq + len(outcome.events) - 1
    cash = isinstance(event, ev.FundsCredited | ev.FundsDebited)
    amount = getattr(event, "amount_paise", 0)
    signed = -amount if isinstance(event, ev.FundsDebited | ev.FundsReleased) else amount
    after = paise_to_rupees(outcome.balance_paise) if cash else funds["blockedMargin"]
    transaction = ledger_entry_view(account_id, event, account_seq, signed, after)
    return {"funds": funds, "transaction": transaction}


def ledger_entry_view(
    account_id: str, event: ev.AccountEvent, account_seq: int, amount_paise: int, after: Any
) -> dict[str, Any]:
    """The ledger entry an event wrote, described from the event (``accountSeq`` names it)."""
    cash = isinstance(event, ev.FundsCredited | ev.FundsDebited)
    return {
        "id": None,
        "accountSeq": account_seq,
        "tradingAccountId": account_id,
        "book": "CASH" if cash else "BLOCKED",
        "kind": getattr(event, "kind", type(event).__name__),
        "amount": paise_to_rupees(amount_paise),
        "balanceAfter": after,
        "reference": getattr(event, "reference", "") or getattr(event, "block_id", ""),
        "description": type(event).__name__,
        "createdAt": iso_ms(event.at_ms),
    }


def transaction_view(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "accountSeq": row["account_seq"],
        "tradingAccountId": row["trading_account_id"],
        "book": row["book"],
        "kind": row["kind"],
        "amount": paise_to_rupees(row["amount_paise"]),
        "balanceAfter": None
        if row["balance_after_paise"] is None
        else paise_to_rupees(row["balance_after_paise"]),
        "reference": row["reference"],
        "description": row["description"],
        "createdAt": iso_moment(row["created_at"]),
    }


def request_view(row: Any) -> dict[str, Any]:
    """A deposit or withdrawal request."""
    view = {
        "id": row["id"],
        "tradingAccountId": row["trading_account_id"],
        "bankAccountId": row["bank_account_id"],
        "amount": paise_to_rupees(row["amount_paise"]),
        "status": row["status"],
        "remarks": row["remarks"],
        "createdAt": iso_moment(row["created_at"]),
        "decidedAt": iso_moment(row["decided_at"]),
    }
    if "reference" in row:
        view["reference"] = row["reference"]
    return view
