"""Checking an email and password, as every sign-in does (the dashboard's login and the Kite
login form): limited per client address and email and in the distinct emails one address
tries (``rate_limits``), timed the same whether or not the user exists, and upgrading an
outdated password hash once the password is known."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.auth import VERDICT_KEY
from gateway.errors import ApiError, error_response, rate_limited
from gateway.keys import CONFIG, HASHER, LIMITER, USERS
from gateway.login_limit import LOGIN_WINDOW_S
from gateway.ratelimit import Limit


async def signed_in_user(request: web.Request, email: str, password: str) -> Any:
    """The user row ``email`` and ``password`` sign in as; ``ApiError`` 429 over the login
    limit, 401 when either is wrong."""
    app = request.app
    limits = app[CONFIG].rate_limits
    client, email = request.remote or "", email.lower()
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
        raise ApiError(rate_limited())
    row = await app[USERS].by_email(email)
    hasher = app[HASHER]
    # With no such user the hasher checks a dummy hash: the answer takes as long either way.
    valid = await hasher.verify(password, None if row is None else row["password_hash"])
    if row is None or not valid:
        raise ApiError(error_response(401, "UNAUTHENTICATED", "The email or password is wrong."))
    if hasher.needs_rehash(row["password_hash"]) and hasher.has_room():
        # An older or weaker hash: store one with today's parameters now the password is known.
        await app[USERS].set_password_hash(row["id"], await hasher.hash(password))
    return row
