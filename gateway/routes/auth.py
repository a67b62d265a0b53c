"""Auth routes (docs/API.md "Auth"): register, login, logout, session.

Registration is limited per client address and across the server, and refuses weak passwords;
login is limited per address and email, and in the distinct emails one address tries (the login
limit, which current-password checks elsewhere count against too, is :mod:`gateway.login_limit`).
Every password hash runs on the :class:`~gateway.identity.passwords.PasswordHasher`.

A user who must change their password (the first admin, whose password was generated and
printed) signs in as usual, told so by ``passwordChangeRequired``; until the change,
:mod:`gateway.middleware.password_change` holds them to the routes that let them change it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import replies
from gateway.auth import COOKIE_NAME, VERDICT_KEY, current_user
from gateway.decoding import decode_body
from gateway.errors import (
    ApiError,
    InvalidRequestError,
    error_response,
    json_response,
    rate_limited,
)
from gateway.identity.passwords import password_refusal, password_refused
from gateway.identity.sign_in import signed_in_user
from gateway.identity.users import user_view
from gateway.keys import CONFIG, HASHER, LIMITER, SESSIONS, USERS
from gateway.opening_balances import open_account
from gateway.ratelimit import Limit
from gateway.route_table import Operation, RouteTable
from gateway.schemas import LoginBody, RegisterBody
from gateway.views import iso_moment
from persistence.users import EmailTakenError

routes = RouteTable()

REGISTER_WINDOW_S = 60 * 60
REGISTER_GLOBAL_WINDOW_S = 60


def with_password_change(request: web.Request, user_id: str, payload: dict[str, Any]) -> None:
    """Add ``passwordChangeRequired`` to a login or session reply when it applies.

    Only then: every other reply keeps the shape ``gateway.replies`` describes.
    """
    if request.app[USERS].password_change_due(user_id):
        payload["passwordChangeRequired"] = True


@routes.post(
    "/api/auth/register",
    Operation(
        "Register a user and open a trading account",
        body=RegisterBody,
        status=201,
        # 403 for a foreign Origin, 409 for a taken email, 422 for a refused password,
        # 429 past the registration limits.
        refusals=(403, 409, 422, 429),
        reply=replies.Registered,
    ),
    access="public",
    origin_checked=True,
)
async def register(request: web.Request) -> web.Response:
    try:
        body = decode_body(await request.read(), RegisterBody)
    except InvalidRequestError as error:
        return error.response
    app = request.app
    limits = app[CONFIG].rate_limits
    client = request.remote or ""
    verdict = app[LIMITER].hit_all(
        [
            Limit("register", client, limits.registrations_per_hour, REGISTER_WINDOW_S),
            Limit(
                "register_global",
                "",
                limits.registrations_global_per_minute,
                REGISTER_GLOBAL_WINDOW_S,
            ),
        ]
    )
    request[VERDICT_KEY] = verdict
    if not verdict.allowed:
        return rate_limited()
    refusal = password_refusal(body.password, body.email)
    if refusal is not None:
        return password_refused(refusal, "$.password")
    password_hash = await app[HASHER].hash(body.password)
    opening_balance = app[CONFIG].accounts.opening_balance_paise
    try:
        row, account_id = await app[USERS].create(
            body.email, body.name, password_hash, opening_balance_paise=opening_balance
        )
    except EmailTakenError:
        return error_response(409, "DUPLICATE", "An account with this email already exists.")
    await open_account(app, account_id, opening_balance)
    return json_response(
        {"user": user_view(row), "tradingAccount": {"id": account_id, "userId": row["id"]}},
        status=201,
    )


@routes.post(
    "/api/auth/login",
    Operation(
        "Log in; returns a bearer token and a CSRF token, and sets the pd_session cookie",
        body=LoginBody,
        refusals=(401, 403, 429),
        reply=replies.LoggedIn,
    ),
    access="public",
    origin_checked=True,
)
async def login(request: web.Request) -> web.Response:
    try:
        body = decode_body(await request.read(), LoginBody)
    except InvalidRequestError as error:
        return error.response
    app = request.app
    try:
        row = await signed_in_user(request, body.email, body.password)
    except ApiError as error:
        return error.response
    token, csrf, expires_at = await app[SESSIONS].create(row["id"])
    payload: dict[str, Any] = {
        "token": token,
        "csrfToken": csrf,
        "expiresAt": iso_moment(expires_at),
        "user": user_view(row),
    }
    with_password_change(request, row["id"], payload)
    response = json_response(payload)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(app[SESSIONS].ttl.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=app[CONFIG].auth.cookie_secure,
        path="/",
    )
    return response


@routes.post(
    "/api/auth/logout", Operation("Revoke the session", status=204), before_password_change=True
)
async def logout(request: web.Request) -> web.Response:
    await request.app[SESSIONS].revoke(current_user(request).token_hash)
    response = web.Response(status=204)
    response.del_cookie(COOKIE_NAME, path="/")
    return response


@routes.get(
    "/api/auth/session",
    Operation("The signed-in user", reply=replies.SessionInfo),
    before_password_change=True,
)
async def session(request: web.Request) -> web.Response:
    user = current_user(request)
    row = await request.app[USERS].by_id(user.user_id)
    payload = {"user": user_view(row), "expiresAt": iso_moment(user.expires_at)}
    with_password_change(request, user.user_id, payload)
    return json_response(payload)
