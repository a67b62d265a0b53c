"""The password-change gate: a user who must change their password (the first admin, whose
password was generated and printed) is held to the routes that let them do it.

They sign in as usual, told so by ``passwordChangeRequired``; until the change,
:func:`password_change_middleware` answers 403 ``PASSWORD_CHANGE_REQUIRED`` on every route but
logout, the session and the console's CHANGE_PASSWORD (which the console route checks).
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth import USER_KEY, Handler, route_key
from gateway.errors import password_change_required
from gateway.keys import USERS

# What a user who must change their password may still do. POST /api/console is let through
# for its CHANGE_PASSWORD action only: the console route refuses its other actions.
ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset(
    {
        ("POST", "/api/auth/logout"),
        ("GET", "/api/auth/session"),
        ("POST", "/api/console"),
    }
)


@web.middleware
async def password_change_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hold a user who must change their password to the routes that let them do it."""
    user = request.get(USER_KEY)  # set by auth_middleware on every route that needs a session
    if (
        user is not None
        and request.app[USERS].password_change_due(user.user_id)
        and route_key(request) not in ALLOWED_BEFORE_PASSWORD_CHANGE
    ):
        return password_change_required()
    return await handler(request)
