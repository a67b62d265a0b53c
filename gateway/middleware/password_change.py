"""The password-change gate: a user who must change their password (the first admin, whose
password was generated and printed) is held to the routes that let them do it.

They sign in as usual, told so by ``passwordChangeRequired``; until the change, the middleware
of :func:`password_change_middleware` answers 403 ``PASSWORD_CHANGE_REQUIRED`` on every route
but those the registry declares ``before_password_change``: logout, the session and the
console's CHANGE_PASSWORD (``POST /api/console`` is let through for that action only: the
console route refuses its other actions).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.auth import USER_KEY, Handler, RouteKey, route_key
from gateway.errors import password_change_required
from gateway.keys import USERS


def password_change_middleware(allowed_routes: frozenset[RouteKey]) -> Middleware:
    """Hold a user who must change their password to ``allowed_routes`` (method, path)."""

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        user = request.get(USER_KEY)  # set by auth_middleware on every route that needs a session
        if (
            user is not None
            and request.app[USERS].password_change_due(user.user_id)
            and route_key(request) not in allowed_routes
        ):
            return password_change_required()
        return await handler(request)

    return hold
