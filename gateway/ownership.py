"""Ownership checks: another user's account, order or position answers 404, never 403; and the
self-dealing guard, which refuses an admin their own account (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from asyncpg import Record

from engine.domain.enums import Rejection
from gateway.auth import current_user
from gateway.decoding import decode_body
from gateway.errors import ApiError, ForbiddenError, NotFoundError, error_response, rejected
from gateway.keys import DB, USERS
from gateway.schemas import SessionBody
from persistence.pool import Pool
from persistence.read_models.orders import account_of_order, order_by_id
from persistence.read_models.positions import account_of_position

SessionBodyT = TypeVar("SessionBodyT", bound=SessionBody)


def check_body_user(request: web.Request, user_id: str | None) -> None:
    """A body ``userId`` is ignored when it is the caller and refused when it is not."""
    if user_id is not None and user_id != current_user(request).user_id:
        raise ForbiddenError("userId does not match the signed-in user.")


async def decode_own_body(request: web.Request, schema: type[SessionBodyT]) -> SessionBodyT:
    """The body of ``request`` decoded into ``schema`` (400 naming the field at fault), with
    its ``userId``, if any, checked against the caller (403)."""
    body = decode_body(await request.read(), schema)
    check_body_user(request, body.user_id)
    return body


async def owned_account(request: web.Request, account_id: str | None) -> str:
    """The caller's trading account: the one named, or their first when none is named."""
    user = current_user(request)
    owned = await request.app[USERS].accounts_of(user.user_id)
    if account_id is None:
        if not owned:
            raise NotFoundError("trading account")
        return owned[0]
    if account_id not in owned:
        raise NotFoundError("trading account")
    return account_id


# The stored rows an id may name, each with the query of the account it belongs to.
_ROW_LOOKUPS: dict[str, Callable[[Pool, str], Awaitable[str | None]]] = {
    "order": account_of_order,
    "position": account_of_position,
}


async def require_owned_row(request: web.Request, what: str, row_id: str) -> None:
    """404 unless the stored order or position ``row_id`` is the caller's."""
    owned = await request.app[USERS].accounts_of(current_user(request).user_id)
    account_id = await _ROW_LOOKUPS[what](request.app[DB].pool, row_id)
    if account_id not in owned:
        raise NotFoundError(what)


async def owned_order(request: web.Request, order_id: str) -> Record:
    """The stored order ``order_id``, any status, if it is the caller's; else 404."""
    owned = await request.app[USERS].accounts_of(current_user(request).user_id)
    row = await order_by_id(request.app[DB].pool, order_id)
    if row is None or row["trading_account_id"] not in owned:
        raise NotFoundError("order")
    return row


async def holding_account(
    request: web.Request, what: str, row_id: str, located: str | None, finished: Rejection
) -> str:
    """The caller's account that holds the working order or open position ``row_id``, as the
    engine located it (``located``); else ``finished`` (409) if the stored row is the caller's,
    404 if it is unknown or not theirs."""
    user_id = current_user(request).user_id
    if located is not None and located in await request.app[USERS].accounts_of(user_id):
        return located
    await require_owned_row(request, what, row_id)
    raise rejected(finished)


def refuse_own_account(
    request: web.Request, owner: str, what: str = "operate on the funds of"
) -> None:
    """No admin moves money on their own trading account, directly or by deciding their own
    deposit or withdrawal (403): another admin must."""
    if owner == current_user(request).user_id:
        raise ApiError(
            error_response(
                403, "SELF_APPROVAL_FORBIDDEN", f"Another admin must {what} your own account."
            )
        )
