"""The trading dashboard: ``GET /`` serves the page, ``/static/`` its CSS and ES modules.

The page is plain files shipped as package data (no build step, nothing fetched from a CDN), so
it works offline. It talks to the server only through the public API and the websocket. These
paths sit outside ``/api/`` and so need no session (``gateway.auth`` lets them through); the
API calls the page makes stay authenticated.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway.route_table import RouteTable

routes = RouteTable()

STATIC_DIR = Path(__file__).parent.parent / "static"
INDEX = STATIC_DIR / "index.html"
STATIC_PREFIX = "/static/"

# The page loads only its own files and talks only to its own origin (HTTP and websocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page is small; always revalidating keeps a deploy from mixing old and new modules.
    "Cache-Control": "no-cache",
}


@routes.get("/", None, access="public")  # not an API route: the OpenAPI document leaves it out
async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(INDEX, headers=PAGE_HEADERS)


async def static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Send the page's security and caching headers with its static files too."""
    if request.path.startswith(STATIC_PREFIX):
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)


def serve_files(app: web.Application) -> None:
    """Serve the page's files under ``/static/`` from ``app``, with the page's headers."""
    app.router.add_static(STATIC_PREFIX, STATIC_DIR)
    app.on_response_prepare.append(static_headers)
