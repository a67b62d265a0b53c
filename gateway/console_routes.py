"""The user's own console (API.md "Console"): profile, bank accounts, deposits, withdrawals."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from engine import commands as cmd
from engine.money import paise_to_rupees
from gateway.auth import current_user
from gateway.decoding import decode_tagged, field_failure, validation_failure
from gateway.errors import ApiError, error_response, json_response
from gateway.funds_routes import funds_of, transaction_view
from gateway.keys import BRIDGE, DB, SESSIONS, USERS
from gateway.order_routes import check_outcome, rejected
from gateway.ownership import NotFoundError, check_body_user, owned_account
from gateway.passwords import hash_password_async, verify_password_async
from gateway.schemas import (
    AddBankAccount,
    ChangePassword,
    ConsoleBody,
    FieldError,
    RemoveBankAccount,
    RequestDeposit,
    RequestWithdrawal,
    UpdateProfile,
    to_paise,
)
from gateway.users import user_view
from gateway.views import iso_moment

routes = web.RouteTableDef()

RECENT = 50


def bank_account_view(row: Any) -> dict[str, Any]:
    number = row["account_number"]
    return {
        "id": row["id"],
        "bankName": row["bank_name"],
        "accountNumber": "•" * max(0, len(number) - 4) + number[-4:],
        "ifsc": row["ifsc"],
        "accountHolder": row["account_holder"],
        "createdAt": iso_moment(row["created_at"]),
        "removedAt": iso_moment(row["removed_at"]),
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


@routes.get("/api/console")
async def console(request: web.Request) -> web.Response:
    user = current_user(request)
    account_id = await owned_account(request, None)
    pool = request.app[DB].pool

    async def rows(sql: str, *args: Any) -> list[Any]:
        return list(await pool.fetch(sql, *args))

    profile, funds, banks, deposits, withdrawals, transactions = await asyncio.gather(
        request.app[USERS].by_id(user.user_id),
        funds_of(request, account_id),
        rows(
            "SELECT * FROM bank_accounts WHERE user_id = $1 AND removed_at IS NULL"
            " ORDER BY created_at DESC LIMIT $2",
            user.user_id,
            RECENT,
        ),
        rows(
            "SELECT * FROM deposits WHERE trading_account_id = $1"
            " ORDER BY created_at DESC LIMIT $2",
            account_id,
            RECENT,
        ),
        rows(
            "SELECT * FROM withdrawals WHERE trading_account_id = $1"
            " ORDER BY created_at DESC LIMIT $2",
            account_id,
            RECENT,
        ),
        rows(
            "SELECT * FROM transactions"
            " WHERE trading_account_id = $1 AND balance_after_paise IS NOT NULL"
            " ORDER BY account_seq DESC, leg DESC LIMIT $2",
            account_id,
            RECENT,
        ),
    )
    return json_response(
        {
            "user": user_view(profile),
            "tradingAccount": {"id": account_id, "userId": user.user_id},
            "funds": funds,
            "bankAccounts": [bank_account_view(r) for r in banks],
            "deposits": [request_view(r) for r in deposits],
            "withdrawals": [request_view(r) for r in withdrawals],
            "transactions": [transaction_view(r) for r in transactions],
        }
    )


async def owned_bank_account(request: web.Request, bank_account_id: str) -> Any:
    row = await request.app[DB].pool.fetchrow(
        "SELECT * FROM bank_accounts WHERE id = $1 AND user_id = $2 AND removed_at IS NULL",
        bank_account_id,
        current_user(request).user_id,
    )
    if row is None:
        raise NotFoundError("bank account")
    return row


def amount_of(value: float) -> int:
    try:
        return to_paise(value, "$.amount")
    except FieldError as error:
        raise field_failure(error) from None


@routes.post("/api/console")
async def console_action(request: web.Request) -> web.Response:
    action: ConsoleBody = decode_tagged(await request.read(), ConsoleBody)
    check_body_user(request, action.user_id)
    user = current_user(request)
    pool = request.app[DB].pool
    if isinstance(action, UpdateProfile):
        return json_response(
            {"user": user_view(await request.app[USERS].set_name(user.user_id, action.name))}
        )
    if isinstance(action, ChangePassword):
        row = await request.app[USERS].by_id(user.user_id)
        if not await verify_password_async(action.current_password, row["password_hash"]):
            raise validation_failure("$.currentPassword", "the current password is wrong")
        await request.app[USERS].set_password_hash(
            user.user_id, await hash_password_async(action.new_password)
        )
        await request.app[SESSIONS].revoke_all_for(user.user_id, keep=user.token_hash)
        return json_response({"user": user_view(row)})
    if isinstance(action, AddBankAccount):
        row = await pool.fetchrow(
            "INSERT INTO bank_accounts"
            " (id, user_id, bank_name, account_number, ifsc, account_holder)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            str(uuid.uuid4()),
            user.user_id,
            action.bank_name,
            action.account_number,
            action.ifsc,
            action.account_holder,
        )
        return json_response({"bankAccount": bank_account_view(row)})
    if isinstance(action, RemoveBankAccount):
        await owned_bank_account(request, action.bank_account_id)
        row = await pool.fetchrow(
            "UPDATE bank_accounts SET removed_at = now() WHERE id = $1 RETURNING *",
            action.bank_account_id,
        )
        return json_response({"bankAccount": bank_account_view(row)})
    account_id = await owned_account(request, None)
    if isinstance(action, RequestDeposit):
        if action.bank_account_id is not None:
            await owned_bank_account(request, action.bank_account_id)
        row = await pool.fetchrow(
            "INSERT INTO deposits"
            " (id, trading_account_id, bank_account_id, amount_paise, reference)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING *",
            str(uuid.uuid4()),
            account_id,
            action.bank_account_id,
            amount_of(action.amount),
            action.reference,
        )
        return json_response({"deposit": request_view(row)})
    assert isinstance(action, RequestWithdrawal)
    return await request_withdrawal(request, account_id, action)


async def request_withdrawal(
    request: web.Request, account_id: str, action: RequestWithdrawal
) -> web.Response:
    """Block the amount in the engine first; the request exists only once the block is durable."""
    await owned_bank_account(request, action.bank_account_id)
    amount = amount_of(action.amount)
    withdrawal_id = str(uuid.uuid4())
    block = cmd.BlockFunds(now_ms=0, block_id=withdrawal_id, amount_paise=amount, kind="WITHDRAWAL")
    outcome = await request.app[BRIDGE].submit(account_id, block)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    try:
        row = await request.app[DB].pool.fetchrow(
            "INSERT INTO withdrawals"
            " (id, trading_account_id, bank_account_id, amount_paise, block_id)"
            " VALUES ($1, $2, $3, $4, $1) RETURNING *",
            withdrawal_id,
            account_id,
            action.bank_account_id,
            amount,
        )
    except Exception:
        await request.app[BRIDGE].submit(
            account_id, cmd.ReleaseFunds(now_ms=0, block_id=withdrawal_id)
        )
        raise ApiError(
            error_response(503, "UNAVAILABLE", "The request could not be recorded.")
        ) from None
    return json_response({"withdrawal": request_view(row)})
