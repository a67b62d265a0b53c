"""Admin routes are for admins: a caller without the ADMIN role is refused 403 ``FORBIDDEN``
on every route the registry declares ``access="admin"``, before its handler runs, so no admin
route depends on its handler remembering to check.

It runs last, just before the handler, where the admin handlers used to check the role first:
a non-admin is refused after the session, CSRF, rate-limit, password-change and body checks of
the middlewares above it, in the order they always ran.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.auth import USER_KEY, Handler, RouteKey, route_key
from gateway.errors import forbidden


def admin_middleware(admin_routes: frozenset[RouteKey]) -> Middleware:
    """Refuse a caller without the ADMIN role on ``admin_routes`` (method, path)."""

    @web.middleware
    async def admins_only(request: web.Request, handler: Handler) -> web.StreamResponse:
        method, path = route_key(request)
        if method == "HEAD":  # aiohttp answers HEAD on a GET route with the GET handler
            method = "GET"
        if (method, path) in admin_routes:
            user = request.get(USER_KEY)  # set by auth_middleware: admin routes need a session
            if user is None or not user.is_admin:
                return forbidden("This route is for admins.")
        return await handler(request)

    return admins_only
