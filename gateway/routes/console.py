"""The user's own console (docs/API.md "Console"): profile, bank accounts, deposits, withdrawals,
and resetting the trading account (``RESET_ACCOUNT``, see :mod:`gateway.resets`)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
from aiohttp import web

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.enums import Rejection
from engine.domain.money import paise_to_rupees
from gateway import replies
from gateway.auth import current_user
from gateway.decoding import convert_query, decode_tagged, field_failure
from gateway.errors import (
    ApiError,
    NotFoundError,
    error_response,
    json_response,
    outcome_unknown,
    password_change_required,
    rate_limited,
    rejected,
)
from gateway.faults import crash_point
from gateway.funds_views import funds_of, request_view, transaction_view
from gateway.identity.passwords import password_refusal, password_refused
from gateway.identity.users import user_view
from gateway.keys import BRIDGE, DB, ENGINE, HASHER, SESSIONS, USERS
from gateway.login_limit import count_password_check
from gateway.outcomes import check_outcome
from gateway.ownership import check_body_user, owned_account
from gateway.resets import resets_summary, submit_reset
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    AddBankAccount,
    ChangePassword,
    ConsoleBody,
    FieldError,
    RemoveBankAccount,
    RequestDeposit,
    RequestWithdrawal,
    ResetAccount,
    UpdateProfile,
    to_paise,
)
from gateway.since import Since, since_seq
from gateway.views import iso_moment, iso_ms
from persistence import bank_accounts
from persistence.read_models.ledger import latest_cash_entries
from persistence.read_models.requests import RequestTable, latest_requests, request_by_id

routes = RouteTable()

RECENT = 50
REQUEST_ID_NAMESPACE = uuid.UUID("2b0f3c5e-8d1a-4f7e-9c62-5a4e1d7b3f90")


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


class ConsoleQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    since: Since | None = None  # the ledger after the last reset only
    trading_account_id: str | None = None  # the caller's first account when absent


@routes.get(
    "/api/console",
    Operation(
        "Profile, funds, bank accounts, requests, ledger (since=reset: after the last reset)"
        " and resets",
        query=ConsoleQuery,
        refusals=(404,),
        reply=replies.Console,
    ),
)
async def console(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), ConsoleQuery)
    user = current_user(request)
    account_id = await owned_account(request, query.trading_account_id)
    pool = request.app[DB].pool
    after_seq = await since_seq(request, account_id, query.since) or 0
    profile, funds, banks, deposits, withdrawals, transactions, resets = await asyncio.gather(
        request.app[USERS].by_id(user.user_id),
        funds_of(request, account_id),
        bank_accounts.latest_bank_accounts(pool, user.user_id, RECENT),
        latest_requests(pool, "deposits", account_id, RECENT),
        latest_requests(pool, "withdrawals", account_id, RECENT),
        latest_cash_entries(pool, account_id, RECENT, after_seq),
        resets_summary(request, account_id),
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
            "resets": resets,
        }
    )


async def owned_bank_account(request: web.Request, bank_account_id: str) -> Any:
    row = await bank_accounts.users_bank_account(
        request.app[DB].pool, bank_account_id, current_user(request).user_id
    )
    if row is None:
        raise NotFoundError("bank account")
    return row


def amount_of(value: float) -> int:
    try:
        return to_paise(value, "$.amount")
    except FieldError as error:
        raise field_failure(error) from None


@routes.post(
    "/api/console",
    Operation(
        "A console action, named by its action field; answers the object it changed",
        body=ConsoleBody,
        refusals=(404, 409, 422, 429),
        reply=replies.ConsoleChange,
    ),
    before_password_change=True,  # for CHANGE_PASSWORD only: the handler refuses the rest
)
async def console_action(request: web.Request) -> web.Response:
    action: ConsoleBody = decode_tagged(await request.read(), ConsoleBody)
    check_body_user(request, action.user_id)
    user = current_user(request)
    pool = request.app[DB].pool
    change_due = request.app[USERS].password_change_due(user.user_id)
    if change_due and not isinstance(action, ChangePassword):
        return password_change_required()
    if isinstance(action, UpdateProfile):
        return json_response(
            {"user": user_view(await request.app[USERS].set_name(user.user_id, action.name))}
        )
    if isinstance(action, ChangePassword):
        # A stolen session must not guess the current password faster than a login could.
        if not count_password_check(request, user.user_id):
            return rate_limited()
        row = await request.app[USERS].by_id(user.user_id)
        refusal = password_refusal(action.new_password, row["email"])
        if refusal is not None:
            return password_refused(refusal, "$.newPassword")
        if change_due and action.new_password == action.current_password:
            # The password to replace was printed on a terminal: keeping it defeats the change.
            return error_response(
                422,
                "PASSWORD_UNCHANGED",
                "The new password must differ from the current one.",
                [{"path": "$.newPassword", "message": "must differ from the current password"}],
            )
        hasher = request.app[HASHER]
        if not await hasher.verify(action.current_password, row["password_hash"]):
            # The body is valid (400 is for that): the caller may not make this change (403).
            return error_response(
                403,
                "FORBIDDEN",
                "The current password is wrong.",
                [{"path": "$.currentPassword", "message": "the current password is wrong"}],
            )
        await request.app[USERS].change_password(
            user.user_id, await hasher.hash(action.new_password)
        )
        await request.app[SESSIONS].revoke_all_for(user.user_id, keep=user.token_hash)
        return json_response({"user": user_view(row)})
    if isinstance(action, AddBankAccount):
        row = await bank_accounts.add_bank_account(
            pool,
            bank_account_id=str(uuid.uuid4()),
            user_id=user.user_id,
            bank_name=action.bank_name,
            account_number=action.account_number,
            ifsc=action.ifsc,
            account_holder=action.account_holder,
        )
        return json_response({"bankAccount": bank_account_view(row)})
    if isinstance(action, RemoveBankAccount):
        await owned_bank_account(request, action.bank_account_id)
        row = await bank_accounts.remove_bank_account(pool, action.bank_account_id)
        return json_response({"bankAccount": bank_account_view(row)})
    if isinstance(action, ResetAccount):
        return await reset_own_account(request, action)
    account_id = await owned_account(request, action.trading_account_id)
    if isinstance(action, RequestDeposit):
        if action.bank_account_id is not None:
            await owned_bank_account(request, action.bank_account_id)
        deposit = cmd.RequestDepositRequest(
            deposit_id=request_id(request, account_id, "deposit", action.idempotency_key),
            amount_paise=amount_of(action.amount),
            bank_account_id=action.bank_account_id,
            reference=action.reference,
        )
        return await requested(request, account_id, "deposit", deposit)
    assert isinstance(action, RequestWithdrawal)
    await owned_bank_account(request, action.bank_account_id)
    withdrawal = cmd.RequestWithdrawalRequest(
        withdrawal_id=request_id(request, account_id, "withdrawal", action.idempotency_key),
        amount_paise=amount_of(action.amount),
        bank_account_id=action.bank_account_id,
    )
    return await requested(request, account_id, "withdrawal", withdrawal)


async def reset_own_account(request: web.Request, action: ResetAccount) -> web.Response:
    """Reset the caller's account once they have typed its name (its id) to confirm."""
    account_id = await owned_account(request, action.trading_account_id)
    if action.confirm.strip() != account_id:
        raise ApiError(
            error_response(
                422,
                "RESET_NOT_CONFIRMED",
                "Type the account's name exactly to confirm the reset.",
                [{"path": "$.confirm", "message": "must be the trading account's name (its id)"}],
            )
        )
    return await submit_reset(request, account_id, current_user(request).user_id, "USER")


def request_id(request: web.Request, account_id: str, name: str, key: str | None) -> str:
    """A new request's id: derived from the caller's idempotency key, so a retry names the
    same request; a fresh one from the engine without one."""
    if key is None:
        return request.app[ENGINE].new_id()
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, f"{account_id}:{name}:{key}"))


async def existing_request(
    request: web.Request, name: str, request_id: str, command: cmd.AccountRequest
) -> web.Response | None:
    """The stored request a retry names (200 with it), 409 if the key was used for another
    amount; None if there is none yet."""
    table: RequestTable = "deposits" if name == "deposit" else "withdrawals"
    row = await request_by_id(request.app[DB].pool, table, request_id)
    if row is None:
        return None
    if row["amount_paise"] != getattr(command, "amount_paise", None):
        raise ApiError(
            error_response(409, "DUPLICATE", "This idempotencyKey was used for another request.")
        )
    return json_response({name: request_view(row)})


async def requested(
    request: web.Request,
    account_id: str,
    name: str,
    command: cmd.RequestDepositRequest | cmd.RequestWithdrawalRequest,
) -> web.Response:
    """Submit a deposit or withdrawal request to the account: the request row, and for a
    withdrawal the block of its amount, are projections of one journaled event."""
    request_id = (
        command.deposit_id
        if isinstance(command, cmd.RequestDepositRequest)
        else command.withdrawal_id
    )
    if (stored := await existing_request(request, name, request_id, command)) is not None:
        return stored
    crash_point(f"{name}-request:submitting")
    outcome = await request.app[BRIDGE].submit(account_id, command)
    crash_point(f"{name}-request:committed")
    check_outcome(outcome)
    if outcome.rejection is Rejection.DUPLICATE:  # its first attempt is in flight or just done
        if (stored := await existing_request(request, name, request_id, command)) is not None:
            return stored
        raise ApiError(outcome_unknown())
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    (event,) = outcome.events
    assert isinstance(event, ev.DepositRequested | ev.WithdrawalRequested)
    view: dict[str, Any] = {
        "id": event.deposit_id if isinstance(event, ev.DepositRequested) else event.withdrawal_id,
        "tradingAccountId": account_id,
        "bankAccountId": command.bank_account_id,
        "amount": paise_to_rupees(command.amount_paise),
        "status": "PENDING",
        "remarks": None,
        "createdAt": iso_ms(event.at_ms),
        "decidedAt": None,
    }
    if isinstance(command, cmd.RequestDepositRequest):
        view["reference"] = command.reference
    return json_response({name: view})
