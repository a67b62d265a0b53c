"""Auth routes (API.md "Auth"): register, login, logout, session."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine import commands as cmd
from engine.account import AccountState
from gateway.auth import COOKIE_NAME, VERDICT_KEY, current_user, rate_limited
from gateway.decoding import InvalidRequestError, decode_body
from gateway.errors import error_response, json_response
from gateway.keys import BRIDGE, CONFIG, ENGINE, LIMITER, SESSIONS, USERS
from gateway.passwords import hash_password_async, verify_password_async
from gateway.schemas import LoginBody, RegisterBody
from gateway.users import EmailTakenError, user_view
from gateway.views import iso_moment

routes = web.RouteTableDef()

# Verifying against this when the email is unknown keeps login timing the same either way.
_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)

LOGIN_WINDOW_S = 15 * 60


async def open_trading_account(request: web.Request, account_id: str) -> None:
    """Register a new account with the engine and credit the configured opening balance."""
    app = request.app
    app[ENGINE].add_account(AccountState(account_id))
    opening = app[CONFIG].accounts.opening_balance_paise
    if opening > 0:
        credit = cmd.CreditFunds(
            now_ms=0, amount_paise=opening, kind="OPENING_BALANCE", reference=account_id
        )
        await app[BRIDGE].submit(account_id, credit)


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    try:
        body = decode_body(await request.read(), RegisterBody)
    except InvalidRequestError as error:
        return error.response
    password_hash = await hash_password_async(body.password)
    try:
        row, account_id = await request.app[USERS].create(body.email, body.name, password_hash)
    except EmailTakenError:
        return error_response(409, "DUPLICATE", "An account with this email already exists.")
    await open_trading_account(request, account_id)
    return json_response(
        {"user": user_view(row), "tradingAccount": {"id": account_id, "userId": row["id"]}},
        status=201,
    )


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    try:
        body = decode_body(await request.read(), LoginBody)
    except InvalidRequestError as error:
        return error.response
    app = request.app
    limit = app[CONFIG].rate_limits.login_per_15_minutes
    verdict = app[LIMITER].hit(
        "login", f"{request.remote}|{body.email.lower()}", limit, LOGIN_WINDOW_S
    )
    request[VERDICT_KEY] = verdict
    if not verdict.allowed:
        return rate_limited()
    row = await app[USERS].by_email(body.email)
    valid = await verify_password_async(body.password, row["password_hash"] if row else _DUMMY_HASH)
    if row is None or not valid:
        return error_response(401, "UNAUTHENTICATED", "The email or password is wrong.")
    token, csrf, expires_at = await app[SESSIONS].create(row["id"])
    payload: dict[str, Any] = {
        "token": token,
        "csrfToken": csrf,
        "expiresAt": iso_moment(expires_at),
        "user": user_view(row),
    }
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


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    await request.app[SESSIONS].revoke(current_user(request).token_hash)
    response = web.Response(status=204)
    response.del_cookie(COOKIE_NAME, path="/")
    return response


@routes.get("/api/auth/session")
async def session(request: web.Request) -> web.Response:
    user = current_user(request)
    row = await request.app[USERS].by_id(user.user_id)
    return json_response({"user": user_view(row), "expiresAt": iso_moment(user.expires_at)})
