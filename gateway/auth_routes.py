"""Auth routes (API.md "Auth"): register, login, logout, session.

Registration is limited per client address and across the server, and refuses weak passwords;
login is limited per address and email, and in the distinct emails one address tries. A
current-password check elsewhere (the console's CHANGE_PASSWORD) counts against the login
limit, keyed by user. Every password hash runs on the :class:`~gateway.passwords.PasswordHasher`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine import commands as cmd
from engine.account import AccountState
from gateway.auth import COOKIE_NAME, VERDICT_KEY, current_user, rate_limited
from gateway.decoding import InvalidRequestError, decode_body
from gateway.errors import error_response, json_response
from gateway.keys import BRIDGE, CONFIG, ENGINE, HASHER, LIMITER, SESSIONS, USERS
from gateway.passwords import REFUSAL_MESSAGES, PasswordRefusal, password_refusal
from gateway.ratelimit import Limit, tightest
from gateway.schemas import LoginBody, RegisterBody
from gateway.users import EmailTakenError, user_view
from gateway.views import iso_moment

routes = web.RouteTableDef()

LOGIN_WINDOW_S = 15 * 60
REGISTER_WINDOW_S = 60 * 60
REGISTER_GLOBAL_WINDOW_S = 60


def password_refused(refusal: PasswordRefusal, path: str) -> web.Response:
    """422 with the refusal's code, naming the field at fault like a validation error does."""
    message = REFUSAL_MESSAGES[refusal]
    return error_response(
        422, refusal.value, f"The password {message}.", [{"path": path, "message": message}]
    )


def count_password_check(request: web.Request, user_id: str) -> bool:
    """Count a current-password check against the login limit, keyed by user; False when over."""
    app = request.app
    limit = app[CONFIG].rate_limits.login_per_15_minutes
    verdict = app[LIMITER].hit("login", f"user|{user_id}", limit, LOGIN_WINDOW_S)
    counted = request.get(VERDICT_KEY)
    request[VERDICT_KEY] = verdict if counted is None else tightest([verdict, counted])
    return verdict.allowed


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
    try:
        row, account_id = await app[USERS].create(body.email, body.name, password_hash)
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
    limits = app[CONFIG].rate_limits
    client, email = request.remote or "", body.email.lower()
    verdict = app[LIMITER].hit_all(
        [
            Limit("login", f"{client}|{email}", limits.login_per_15_minutes, LOGIN_WINDOW_S),
            Limit(
                "login_emails",
                client,
                limits.login_emails_per_client_per_15_minutes,
                LOGIN_WINDOW_S,
                member=email,
            ),
        ]
    )
    request[VERDICT_KEY] = verdict
    if not verdict.allowed:
        return rate_limited()
    row = await app[USERS].by_email(email)
    hasher = app[HASHER]
    # With no such user the hasher checks a dummy hash: the answer takes as long either way.
    valid = await hasher.verify(body.password, None if row is None else row["password_hash"])
    if row is None or not valid:
        return error_response(401, "UNAUTHENTICATED", "The email or password is wrong.")
    if hasher.needs_rehash(row["password_hash"]) and hasher.has_room():
        # An older or weaker hash: store one with today's parameters now the password is known.
        await app[USERS].set_password_hash(row["id"], await hasher.hash(body.password))
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
