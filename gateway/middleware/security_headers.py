"""Headers every answer carries: no MIME sniffing, no caching of personal data, no banner.

aiohttp names itself and its version in ``Server`` ("Python/3.x aiohttp/3.x"), which tells a
scanner which advisories to try; the server says only "paperdesk". Everything under ``/api/``
may carry personal data (orders, funds, sessions), so no browser or proxy may store it; the
dashboard's static files keep their own caching (``gateway.routes.dashboard``).
"""

from __future__ import annotations

from aiohttp import web

SERVER_NAME = "paperdesk"
API_PREFIX = "/api/"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the headers on ``response`` (an ``on_response_prepare`` hook)."""
    response.headers["Server"] = SERVER_NAME
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith(API_PREFIX):
        response.headers["Cache-Control"] = "no-store"
