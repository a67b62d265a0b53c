"""Admin routes (docs/API.md "Admin"): fund adjustments, deposit and withdrawal decisions, account
resets, users, stats. Every route is declared ``access="admin"``: anyone else gets 403 before the
handler runs (``gateway.middleware.admin_access``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import FundOperation
from engine.domain.enums import FundKind, Rejection
from engine.domain.money import paise_to_rupees
from gateway import replies
from gateway.auth import current_user
from gateway.decoding import convert_query, decode_body, field_failure
from gateway.errors import (
    ApiError,
    NotFoundError,
    error_response,
    json_response,
    outcome_unknown,
    rejected,
    validation_failure,
)
from gateway.faults import crash_point
from gateway.funds_views import funds_of, operation_result, request_view
from gateway.identity.users import user_view
from gateway.keys import BRIDGE, DB, ENGINE
from gateway.outcomes import check_outcome
from gateway.ownership import decode_own_body, refuse_own_account
from gateway.paging import decode_cursor, page_of
from gateway.resets import submit_reset
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    AdminFundsBody,
    AdminResetBody,
    DepositDecisionBody,
    FieldError,
    WithdrawalDecisionBody,
    to_paise,
)
from gateway.views import iso_ms
from persistence.read_models.admin_stats import system_stats
from persistence.read_models.requests import RequestTable, request_page, request_with_owner
from persistence.read_models.user_accounts import users_with_accounts
from persistence.trading_accounts import account_by_id, first_account_of_user

routes = RouteTable()


async def target_account(
    request: web.Request, body: AdminFundsBody | AdminResetBody
) -> tuple[str, str]:
    """(account id, owner's user id) of the account an admin route names; 404 if none."""
    pool = request.app[DB].pool
    if body.trading_account_id is not None:
        found = await account_by_id(pool, body.trading_account_id)
    elif body.user_id is not None:
        found = await first_account_of_user(pool, body.user_id)
    else:
        raise validation_failure("$.tradingAccountId", "give tradingAccountId or userId")
    if found is None:
        raise NotFoundError("trading account")
    return str(found["id"]), str(found["user_id"])


async def adjust_funds(request: web.Request, operation: Literal["ADD", "WITHDRAW"]) -> web.Response:
    """An admin credit or debit; with an ``idempotencyKey``, done at most once: the key is
    recorded by the same event that moves the money, so a retry (after a timeout, a 503 or a
    crash) answers what the first attempt did, or does it if the first never happened."""
    body = decode_body(await request.read(), AdminFundsBody)
    account_id, owner = await target_account(request, body)
    refuse_own_account(request, owner)  # 403: another admin must
    try:
        amount = to_paise(body.amount, "$.amount")
    except FieldError as error:
        raise field_failure(error) from None
    key = body.idempotency_key or ""
    if key and (done := await recorded_operation(request, account_id, key)) is not None:
        return await replayed_operation(
            request, account_id, key, done, operation=operation, amount=amount
        )
    admin_id = current_user(request).user_id
    reference = key or request.app[ENGINE].new_id()
    command: cmd.AccountRequest
    if operation == "ADD":
        command = cmd.CreditFundsRequest(
            amount_paise=amount,
            kind=FundKind.ADJUSTMENT,
            reference=reference,
            operation_key=key,
            operator_id=admin_id,
        )
    else:
        command = cmd.DebitFundsRequest(
            amount_paise=amount,
            kind=FundKind.ADJUSTMENT,
            reference=reference,
            operation_key=key,
            operator_id=admin_id,
        )
    crash_point(f"adjust-{operation.lower()}:submitting")
    outcome = await request.app[BRIDGE].submit(account_id, command)
    crash_point(f"adjust-{operation.lower()}:committed")
    check_outcome(outcome)
    if outcome.rejection is Rejection.DUPLICATE and key:
        # Another request with this key got there first: answer what it did.
        done = await recorded_operation(request, account_id, key)
        assert done is not None, "the engine refuses a key only once it is recorded"
        return await replayed_operation(
            request, account_id, key, done, operation=operation, amount=amount
        )
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    return json_response(await operation_result(request, account_id, outcome))


async def recorded_operation(
    request: web.Request, account_id: str, key: str
) -> FundOperation | None:
    """The adjustment made with ``key`` on the account, as the account holds it."""
    record: FundOperation | None = await request.app[BRIDGE].inspect(
        account_id, lambda state: state.fund_operations.get(key)
    )
    return record


async def replayed_operation(
    request: web.Request,
    account_id: str,
    key: str,
    done: FundOperation,
    *,
    operation: str,
    amount: int,
) -> web.Response:
    """The first attempt's answer (its ledger entry as it was, funds as they are now), or 409
    if the key was used for another operation."""
    if (done.operation, done.amount_paise) != (operation, amount):
        raise ApiError(
            error_response(409, "DUPLICATE", "This idempotencyKey was used for another operation.")
        )
    signed = done.amount_paise if done.operation == "ADD" else -done.amount_paise
    transaction = {
        "id": None,
        "accountSeq": done.account_seq,
        "tradingAccountId": account_id,
        "book": "CASH",
        "kind": "ADJUSTMENT",
        "amount": paise_to_rupees(signed),
        "balanceAfter": paise_to_rupees(done.balance_after_paise),
        "reference": key,
        "description": "FundsCredited" if done.operation == "ADD" else "FundsDebited",
        "createdAt": iso_ms(done.at_ms),
    }
    funds = await funds_of(request, account_id)
    return json_response({"funds": funds, "transaction": transaction, "replayed": True})


@routes.post(
    "/api/admin/funds/add",
    Operation(
        "Admin: add funds",
        body=AdminFundsBody,
        refusals=(404, 409, 422),
        reply=replies.FundsMoved,
    ),
    access="admin",
)
async def add_funds(request: web.Request) -> web.Response:
    return await adjust_funds(request, "ADD")


@routes.post(
    "/api/admin/funds/withdraw",
    Operation(
        "Admin: withdraw funds",
        body=AdminFundsBody,
        refusals=(404, 409, 422),
        reply=replies.FundsMoved,
    ),
    access="admin",
)
async def withdraw_funds(request: web.Request) -> web.Response:
    return await adjust_funds(request, "WITHDRAW")


@routes.post(
    "/api/admin/accounts/reset",
    Operation(
        "Admin: reset a trading account (cancel, close and sell at market, cancel pending"
        " withdrawals, cash back to the opening balance); 422 RESET_LIMIT_REACHED past the"
        " daily limit",
        body=AdminResetBody,
        refusals=(404, 422),
        reply=replies.AccountResetDone,
    ),
    access="admin",
)
async def reset_account(request: web.Request) -> web.Response:
    """Reset any trading account (as a user's own console reset does, without the typed
    confirmation); the reset's event names the admin, and its trading log line audits it."""
    body = decode_body(await request.read(), AdminResetBody)
    account_id, _ = await target_account(request, body)
    return await submit_reset(request, account_id, current_user(request).user_id, "ADMIN")


class StatusQuery(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["PENDING", "APPROVED", "REJECTED", "CANCELLED"] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = None


async def list_requests(request: web.Request, table: RequestTable) -> web.Response:
    query = convert_query(dict(request.query), StatusQuery)
    after, after_id = decode_cursor(query.cursor)
    rows = await request_page(
        request.app[DB].pool,
        table,
        status=query.status,
        before=after,
        before_id=after_id,
        limit=query.limit + 1,
    )
    page, next_cursor = page_of(rows, query.limit)
    return json_response({"items": [request_view(r) for r in page], "nextCursor": next_cursor})


@routes.get(
    "/api/admin/deposits",
    Operation(
        "Admin: deposit requests, newest first", query=StatusQuery, reply=replies.RequestPage
    ),
    access="admin",
)
async def list_deposits(request: web.Request) -> web.Response:
    return await list_requests(request, "deposits")


@routes.get(
    "/api/admin/withdrawals",
    Operation(
        "Admin: withdrawal requests, newest first", query=StatusQuery, reply=replies.RequestPage
    ),
    access="admin",
)
async def list_withdrawals(request: web.Request) -> web.Response:
    return await list_requests(request, "withdrawals")


async def request_row(request: web.Request, table: RequestTable, request_id: str) -> Any:
    """The request a decision names; 404, or 403 on the admin's own account (a read: the
    decision itself is the account's, see ``decide``).

    No admin decides a request on their own account, whichever way (403). Approving one's own
    would move money with nobody else's say; rejecting is refused too, although no money moves,
    so that ``decided_by`` is never the requester and the audit trail reads one way: a
    requester who wants out needs a cancel of their own, not an admin decision.
    """
    row = await request_with_owner(request.app[DB].pool, table, request_id)
    if row is None:
        raise NotFoundError(table[:-1])
    refuse_own_account(request, row["owner"], "decide a request on")
    return row


def decided_already(request: web.Request, table: str, row: Any, approve: bool) -> web.Response:
    """A decided request: the same decision by the same admin is a retry and answers the
    request as decided (200); anything else is 409."""
    wanted = "APPROVED" if approve else "REJECTED"
    if row["status"] == wanted and row["decided_by"] == current_user(request).user_id:
        return json_response({table[:-1]: request_view(row)})
    raise ApiError(error_response(409, "DUPLICATE", f"This request is already {row['status']}."))


async def decide(
    request: web.Request, table: RequestTable, request_id: str, approve: bool, remarks: str
) -> web.Response:
    """Submit a decision to the request's account: the status change and the money it moves
    are one journaled event, so both happen or neither does."""
    row = await request_row(request, table, request_id)
    if row["status"] != "PENDING":
        return decided_already(request, table, row, approve)
    admin_id = current_user(request).user_id
    command: cmd.AccountRequest = (
        cmd.DecideDepositRequest(
            deposit_id=request_id,
            approve=approve,
            admin_user_id=admin_id,
            remarks=remarks,
        )
        if table == "deposits"
        else cmd.DecideWithdrawalRequest(
            withdrawal_id=request_id,
            approve=approve,
            admin_user_id=admin_id,
            remarks=remarks,
        )
    )
    flow = f"{table[:-1]}-{'approve' if approve else 'reject'}"
    crash_point(f"{flow}:submitting")
    outcome = await request.app[BRIDGE].submit(row["trading_account_id"], command)
    crash_point(f"{flow}:committed")
    check_outcome(outcome)
    if outcome.rejection is Rejection.DUPLICATE:
        # Decided meanwhile (another admin, or this request's own earlier attempt).
        row = await request_row(request, table, request_id)
        if row["status"] == "PENDING":  # decided in the account, not yet committed
            raise ApiError(outcome_unknown())
        return decided_already(request, table, row, approve)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    (event,) = outcome.events
    assert isinstance(event, ev.DepositDecided | ev.WithdrawalDecided)
    view = request_view(row)
    view.update(
        status="APPROVED" if event.approved else "REJECTED",
        remarks=event.remarks,
        decidedAt=iso_ms(event.at_ms),
    )
    return json_response({table[:-1]: view})


@routes.post(
    "/api/admin/deposits",
    Operation(
        "Admin: approve or reject a deposit",
        body=DepositDecisionBody,
        refusals=(404, 409, 422),
        reply=replies.DepositDecided,
    ),
    access="admin",
)
async def decide_deposit(request: web.Request) -> web.Response:
    body = await decode_own_body(request, DepositDecisionBody)
    return await decide(
        request, "deposits", body.deposit_id, body.action == "APPROVE", body.remarks
    )


@routes.post(
    "/api/admin/withdrawals",
    Operation(
        "Admin: approve or reject a withdrawal",
        body=WithdrawalDecisionBody,
        refusals=(404, 409, 422),
        reply=replies.WithdrawalDecided,
    ),
    access="admin",
)
async def decide_withdrawal(request: web.Request) -> web.Response:
    body = await decode_own_body(request, WithdrawalDecisionBody)
    return await decide(
        request, "withdrawals", body.withdrawal_id, body.action == "APPROVE", body.remarks
    )


class UserQuery(msgspec.Struct, forbid_unknown_fields=True):
    search: Annotated[str, msgspec.Meta(max_length=100)] = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=100)] | None = None


@routes.get(
    "/api/admin/users",
    Operation("Admin: users with their account summary", query=UserQuery, reply=replies.UserPage),
    access="admin",
)
async def list_users(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), UserQuery)
    rows = await users_with_accounts(
        request.app[DB].pool, query.search, query.cursor, query.limit + 1
    )
    page = rows[: query.limit]
    items = [
        user_view(r)
        | {
            "tradingAccount": None
            if r["account_id"] is None
            else {
                "id": r["account_id"],
                "balance": paise_to_rupees(r["balance_paise"]),
                "blockedMargin": paise_to_rupees(r["blocked_paise"]),
                "availableMargin": paise_to_rupees(r["balance_paise"] - r["blocked_paise"]),
                "realizedPnl": paise_to_rupees(r["realized_pnl_paise"]),
            }
        }
        for r in page
    ]
    next_cursor = page[-1]["email"] if len(rows) > query.limit else None
    return json_response({"items": items, "nextCursor": next_cursor})


@routes.get(
    "/api/admin/stats", Operation("Admin: system statistics", reply=replies.Stats), access="admin"
)
async def stats(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    trade_day = engine.rules.trade_day(engine.clock.now_ms())  # the day resets are limited by
    row = await system_stats(request.app[DB].pool, trade_day)
    return json_response(
        {
            "users": row["users"],
            "tradingAccounts": row["trading_accounts"],
            "ordersToday": row["orders_today"],
            "executedToday": row["executed_today"],
            "openPositions": row["open_positions"],
            "totalBalance": paise_to_rupees(row["total_balance"]),
            "totalBlockedMargin": paise_to_rupees(row["total_blocked"]),
            "pendingDeposits": row["pending_deposits"],
            "pendingWithdrawals": row["pending_withdrawals"],
            "resetsToday": row["resets_today"],
            "resetsTotal": row["resets_total"],
        }
    )
