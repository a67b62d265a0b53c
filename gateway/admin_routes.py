"""Admin routes (API.md "Admin"): fund adjustments, deposit and withdrawal decisions, users,
stats. Every route checks the ADMIN role; everyone else gets 403."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
import orjson
from aiohttp import web

from engine import commands as cmd
from engine.money import paise_to_rupees
from gateway.auth import current_user, forbidden
from gateway.console_routes import request_view
from gateway.decoding import convert_query, decode_body, field_failure, validation_failure
from gateway.errors import ApiError, error_response, json_response
from gateway.funds_routes import operation_result
from gateway.keys import BRIDGE, DB
from gateway.order_routes import check_outcome, rejected
from gateway.ownership import NotFoundError, decode_own_body
from gateway.paging import decode_cursor, page_of
from gateway.schemas import (
    AdminFundsBody,
    DepositDecisionBody,
    FieldError,
    WithdrawalDecisionBody,
    to_paise,
)
from gateway.users import user_view

routes = web.RouteTableDef()

# The request tables; their names are the only text ever formatted into SQL here, and only
# from this set (values always go as parameters).
REQUEST_TABLES = frozenset({"deposits", "withdrawals"})


def require_admin(request: web.Request) -> None:
    if not current_user(request).is_admin:
        raise ApiError(forbidden("This route is for admins."))


async def target_account(request: web.Request, body: AdminFundsBody) -> str:
    pool = request.app[DB].pool
    if body.trading_account_id is not None:
        found = await pool.fetchval(
            "SELECT id FROM trading_accounts WHERE id = $1", body.trading_account_id
        )
    elif body.user_id is not None:
        found = await pool.fetchval(
            "SELECT id FROM trading_accounts WHERE user_id = $1 ORDER BY created_at LIMIT 1",
            body.user_id,
        )
    else:
        raise validation_failure("$.tradingAccountId", "give tradingAccountId or userId")
    if found is None:
        raise NotFoundError("trading account")
    return str(found)


async def adjust_funds(request: web.Request, operation: Literal["ADD", "WITHDRAW"]) -> web.Response:
    require_admin(request)
    body = decode_body(await request.read(), AdminFundsBody)
    account_id = await target_account(request, body)
    try:
        amount = to_paise(body.amount, "$.amount")
    except FieldError as error:
        raise field_failure(error) from None
    pool = request.app[DB].pool
    key = body.idempotency_key
    if key is not None:
        claimed = await pool.fetchval(
            "INSERT INTO admin_fund_operations"
            " (idempotency_key, trading_account_id, operation, amount_paise, admin_user_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1",
            key,
            account_id,
            operation,
            amount,
            current_user(request).user_id,
        )
        if claimed is None:
            return await replay_operation(request, key, account_id, operation, amount)
    reference = key or str(uuid.uuid4())
    command: cmd.AccountCommand
    if operation == "ADD":
        command = cmd.CreditFunds(
            now_ms=0, amount_paise=amount, kind="ADJUSTMENT", reference=reference
        )
    else:
        command = cmd.DebitFunds(
            now_ms=0, amount_paise=amount, kind="ADJUSTMENT", reference=reference
        )
    outcome = await request.app[BRIDGE].submit(account_id, command)
    if outcome.unavailable or outcome.rejection is not None:
        if key is not None:  # nothing moved: let a retry try again
            await pool.execute("DELETE FROM admin_fund_operations WHERE idempotency_key = $1", key)
        check_outcome(outcome)
        assert outcome.rejection is not None
        raise rejected(outcome.rejection)
    result = await operation_result(request, account_id, outcome)
    if key is not None:
        await pool.execute(
            "UPDATE admin_fund_operations SET result = $2::jsonb WHERE idempotency_key = $1",
            key,
            orjson.dumps(result).decode(),
        )
    return json_response(result)


async def replay_operation(
    request: web.Request, key: str, account_id: str, operation: str, amount: int
) -> web.Response:
    row = await request.app[DB].pool.fetchrow(
        "SELECT * FROM admin_fund_operations WHERE idempotency_key = $1", key
    )
    same = (row["trading_account_id"], row["operation"], row["amount_paise"]) == (
        account_id,
        operation,
        amount,
    )
    if not same:
        raise ApiError(
            error_response(409, "DUPLICATE", "This idempotencyKey was used for another operation.")
        )
    if row["result"] is None:
        raise ApiError(error_response(409, "DUPLICATE", "This operation is still in progress."))
    return json_response(orjson.loads(row["result"]))


@routes.post("/api/admin/funds/add")
async def add_funds(request: web.Request) -> web.Response:
    return await adjust_funds(request, "ADD")


@routes.post("/api/admin/funds/withdraw")
async def withdraw_funds(request: web.Request) -> web.Response:
    return await adjust_funds(request, "WITHDRAW")


class StatusQuery(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["PENDING", "APPROVED", "REJECTED"] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = None


async def list_requests(
    request: web.Request, table: Literal["deposits", "withdrawals"]
) -> web.Response:
    require_admin(request)
    assert table in REQUEST_TABLES
    query = convert_query(dict(request.query), StatusQuery)
    after, after_id = decode_cursor(query.cursor)
    rows = await request.app[DB].pool.fetch(
        f"SELECT * FROM {table} WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        query.status,
        after,
        after_id,
        query.limit + 1,
    )
    page, next_cursor = page_of(rows, query.limit)
    return json_response({"items": [request_view(r) for r in page], "nextCursor": next_cursor})


@routes.get("/api/admin/deposits")
async def list_deposits(request: web.Request) -> web.Response:
    return await list_requests(request, "deposits")


@routes.get("/api/admin/withdrawals")
async def list_withdrawals(request: web.Request) -> web.Response:
    return await list_requests(request, "withdrawals")


async def claim(
    request: web.Request, table: str, request_id: str, status: str, remarks: str
) -> Any:
    """Move a PENDING request to its decision exactly once; 404/403/409 otherwise.

    No admin decides a request on their own account, whichever way (403). Approving one's own
    would move money with nobody else's say; rejecting is refused too, although no money moves,
    so that ``decided_by`` is never the requester and the audit trail reads one way: a
    requester who wants out needs a cancel of their own, not an admin decision.
    """
    assert table in REQUEST_TABLES
    pool = request.app[DB].pool
    admin_id = current_user(request).user_id
    # An account's owner never changes, so checking before the claim leaves no race.
    owner = await pool.fetchval(
        f"SELECT a.user_id FROM {table} r JOIN trading_accounts a ON a.id = r.trading_account_id"
        " WHERE r.id = $1",
        request_id,
    )
    if owner is None:
        raise NotFoundError(table[:-1])
    if owner == admin_id:
        raise ApiError(
            error_response(
                403,
                "SELF_APPROVAL_FORBIDDEN",
                "Another admin must decide a request on your own account.",
            )
        )
    row = await pool.fetchrow(
        f"UPDATE {table} SET status = $2, remarks = $3, decided_at = now(), decided_by = $4"
        " WHERE id = $1 AND status = 'PENDING' RETURNING *",
        request_id,
        status,
        remarks,
        admin_id,
    )
    if row is None:
        exists = await pool.fetchval(f"SELECT status FROM {table} WHERE id = $1", request_id)
        if exists is None:
            raise NotFoundError(table[:-1])
        raise ApiError(error_response(409, "DUPLICATE", f"This request is already {exists}."))
    return row


async def unclaim(request: web.Request, table: str, request_id: str) -> None:
    assert table in REQUEST_TABLES
    await request.app[DB].pool.execute(
        f"UPDATE {table} SET status = 'PENDING', decided_at = NULL, decided_by = NULL"
        " WHERE id = $1",
        request_id,
    )


@routes.post("/api/admin/deposits")
async def decide_deposit(request: web.Request) -> web.Response:
    require_admin(request)
    body = await decode_own_body(request, DepositDecisionBody)
    status = "APPROVED" if body.action == "APPROVE" else "REJECTED"
    row = await claim(request, "deposits", body.deposit_id, status, body.remarks)
    if status == "APPROVED":
        credit = cmd.CreditFunds(
            now_ms=0, amount_paise=row["amount_paise"], kind="DEPOSIT", reference=row["id"]
        )
        outcome = await request.app[BRIDGE].submit(row["trading_account_id"], credit)
        if outcome.unavailable or outcome.rejection is not None:
            await unclaim(request, "deposits", row["id"])
            check_outcome(outcome)
            assert outcome.rejection is not None
            raise rejected(outcome.rejection)
    return json_response({"deposit": request_view(row)})


@routes.post("/api/admin/withdrawals")
async def decide_withdrawal(request: web.Request) -> web.Response:
    require_admin(request)
    body = await decode_own_body(request, WithdrawalDecisionBody)
    status = "APPROVED" if body.action == "APPROVE" else "REJECTED"
    row = await claim(request, "withdrawals", body.withdrawal_id, status, body.remarks)
    command: cmd.AccountCommand
    if status == "APPROVED":
        command = cmd.DebitFunds(
            now_ms=0,
            amount_paise=row["amount_paise"],
            kind="WITHDRAWAL",
            reference=row["id"],
            release_block_id=row["block_id"],
        )
    else:
        command = cmd.ReleaseFunds(now_ms=0, block_id=row["block_id"])
    outcome = await request.app[BRIDGE].submit(row["trading_account_id"], command)
    if outcome.unavailable or outcome.rejection is not None:
        await unclaim(request, "withdrawals", row["id"])
        check_outcome(outcome)
        assert outcome.rejection is not None
        raise rejected(outcome.rejection)
    return json_response({"withdrawal": request_view(row)})


class UserQuery(msgspec.Struct, forbid_unknown_fields=True):
    search: Annotated[str, msgspec.Meta(max_length=100)] = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=100)] | None = None


@routes.get("/api/admin/users")
async def list_users(request: web.Request) -> web.Response:
    require_admin(request)
    query = convert_query(dict(request.query), UserQuery)
    pattern = f"%{query.search.lower()}%"
    rows = await request.app[DB].pool.fetch(
        """
        SELECT u.*, a.id AS account_id, a.balance_paise, a.blocked_paise, a.realized_pnl_paise
        FROM users u LEFT JOIN trading_accounts a ON a.user_id = u.id
        WHERE (lower(u.email) LIKE $1 OR lower(u.name) LIKE $1)
          AND ($2::text IS NULL OR u.email > $2)
        ORDER BY u.email LIMIT $3
        """,
        pattern,
        query.cursor,
        query.limit + 1,
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


@routes.get("/api/admin/stats")
async def stats(request: web.Request) -> web.Response:
    require_admin(request)
    row = await request.app[DB].pool.fetchrow(
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
          (SELECT count(*) FROM withdrawals WHERE status = 'PENDING') AS pending_withdrawals
        """
    )
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
        }
    )
