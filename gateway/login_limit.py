"""The login limit, and the current-password checks that count against it.

Login is limited per client address and email (``rate_limits.login_per_15_minutes``). A
current-password check elsewhere (the console's CHANGE_PASSWORD) counts against the same limit,
keyed by user: a stolen session must not guess the password faster than a login could.
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth import VERDICT_KEY
from gateway.keys import CONFIG, LIMITER
from gateway.ratelimit import tightest

LOGIN_WINDOW_S = 15 * 60


def count_password_check(request: web.Request, user_id: str) -> bool:
    """Count a current-password check against the login limit, keyed by user; False when over."""
    app = request.app
    limit = app[CONFIG].rate_limits.login_per_15_minutes
    verdict = app[LIMITER].hit("login", f"user|{user_id}", limit, LOGIN_WINDOW_S)
    counted = request.get(VERDICT_KEY)
    request[VERDICT_KEY] = verdict if counted is None else tightest([verdict, counted])
    return verdict.allowed
