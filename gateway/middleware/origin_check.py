"""Login and register only from this site's own pages (or configured ones), by ``Origin``.

A browser names the page that sent a request in ``Origin`` and a page cannot forge it, so a
foreign origin on a route the registry declares ``origin_checked`` (login and register) is a
cross-site request: refused with 403 before the body is read. Same-origin is the request's own
scheme, host and port (what the browser addressed); ``server.allowed_origins`` adds others,
e.g. the public https origin behind a TLS-terminating proxy. A request without ``Origin`` comes
from a non-browser client and goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware
from yarl import URL

from gateway.errors import error_response
from gateway.keys import CONFIG

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OriginKey = tuple[str, str, int | None]


def origin_key(text: str) -> OriginKey | None:
    """Scheme, host and port of an origin (default port filled in); None when not one."""
    try:
        url = URL(text)
    except ValueError:
        return None
    if not url.absolute or not url.host or url.path not in ("", "/") or url.query_string:
        return None
    return url.scheme.lower(), url.host.lower(), url.port


def origin_allowed(request: web.Request, origin: str, allowed: tuple[str, ...]) -> bool:
    key = origin_key(origin)
    if key is None:  # "null" (sandboxed frames, file: pages) or garbage
        return False
    own = (request.scheme, (request.url.host or "").lower(), request.url.port)
    return key == own or key in {origin_key(a) for a in allowed}


def foreign_origin(origin: str) -> web.Response:
    return error_response(
        403,
        "FORBIDDEN",
        "Sign in and register only from this site's own pages: the Origin header names a site"
        " that is not allowed.",
        {"header": "Origin", "origin": origin},
    )


def origin_middleware(checked_routes: frozenset[tuple[str, str]]) -> Middleware:
    """Refuse a foreign ``Origin`` on ``checked_routes`` (method, path)."""

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and (request.method, request.path) in checked_routes:
            allowed = request.app[CONFIG].server.allowed_origins
            if not origin_allowed(request, origin, allowed):
                return foreign_origin(origin)
        return await handler(request)

    return check_origin
