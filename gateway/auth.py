"""Authentication, CSRF and rate limiting as middleware, secure by default.

Every route needs a session unless the route registry declares it public (its
``PUBLIC_ROUTES``, which :func:`auth_middleware` is given); paths outside ``/api/`` (the
dashboard's files) need none either. The session comes from
``Authorization: Bearer <token>`` or the ``pd_session`` cookie; a cookie-authenticated unsafe
request must also carry ``X-CSRF-Token``. The acting user is stored on the request and handlers
read it from there only (:func:`current_user`); the ADMIN role of admin routes is checked after
it, by ``gateway.middleware.admin_access``. Each request counts against the orders limit when
the registry declares its route so (``ORDERS_LIMIT_ROUTES``), else the general one; the
verdict is kept on the request too, and :func:`rate_limit_headers` (an ``on_response_prepare``
hook) puts its headers on whatever response the request gets: the handler's, or an error raised
anywhere below.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.errors import error_response, rate_limited, unauthenticated
from gateway.identity.sessions import SessionUser
from gateway.keys import CONFIG, LIMITER, SESSIONS
from gateway.ratelimit import Verdict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RouteKey = tuple[str, str]

COOKIE_NAME = "pd_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USER_KEY = web.RequestKey("user", SessionUser)
VERDICT_KEY = web.RequestKey("rate_limit", Verdict)


def route_key(request: web.Request) -> RouteKey:
    resource = request.match_info.route.resource
    return request.method, resource.canonical if resource is not None else request.path


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and len(header) > 7:
        return header[7:].strip()
    return None


def current_user(request: web.Request) -> SessionUser:
    return request[USER_KEY]


async def rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Send the ``X-RateLimit-*`` headers (and ``Retry-After`` on 429) of a counted request."""
    verdict = request.get(VERDICT_KEY)
    if verdict is not None:
        response.headers.update(verdict.headers())


def auth_middleware(
    public_routes: frozenset[RouteKey], orders_limit_routes: frozenset[RouteKey]
) -> Middleware:
    """The session check of every route but ``public_routes`` (method, path); requests to
    ``orders_limit_routes`` count against the orders limit, the rest against the general one."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = route_key(request)
        if key in public_routes or not request.path.startswith("/api/"):
            return await handler(request)
        return await authenticated(request, handler, key in orders_limit_routes)

    return authenticate


async def authenticated(
    request: web.Request, handler: Handler, counts_as_order: bool
) -> web.StreamResponse:
    """Resolve the caller's session, check CSRF and count the request, then call ``handler``."""
    token = bearer_token(request)
    if token is None and request.path == "/api/ws":
        token = request.query.get("token")  # browsers cannot set headers on websockets
    via_cookie = token is None
    if token is None:
        token = request.cookies.get(COOKIE_NAME)
    if not token:
        return unauthenticated()
    user = await request.app[SESSIONS].resolve(token)
    if user is None:
        return unauthenticated()
    if via_cookie and request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
            return error_response(403, "CSRF_FAILED", "The CSRF token is missing or wrong.")
    request[USER_KEY] = user
    limits = request.app[CONFIG].rate_limits
    limiter = request.app[LIMITER]
    if counts_as_order:
        verdict = limiter.hit("orders", user.user_id, limits.orders_per_minute, 60)
    else:
        verdict = limiter.hit("general", user.user_id, limits.general_per_minute, 60)
    request[VERDICT_KEY] = verdict
    if not verdict.allowed:
        return rate_limited()
    return await handler(request)
