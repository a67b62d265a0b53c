"""The one list of routes: every route module's table, in the order the app adds them.

It feeds aiohttp's router (:func:`add_routes`, called by ``gateway.app``), the routes that need
no session (:data:`PUBLIC_ROUTES`, given to ``gateway.auth.auth_middleware``) and the OpenAPI
document (``gateway.openapi.document``). Each route's method, path, handler, access and OpenAPI
facts are declared once, on its handler (``gateway.route_table``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.route_table import Route
from gateway.routes import (
    admin,
    auth,
    console,
    dashboard,
    funds,
    health,
    market,
    monitoring,
    openapi,
    orders,
    positions,
    websocket,
)

ROUTES: tuple[Route, ...] = (
    *auth.routes,
    *orders.routes,
    *positions.routes,
    *funds.routes,
    *console.routes,
    *admin.routes,
    *market.routes,
    *health.routes,
    *monitoring.routes,
    *openapi.routes,
    *websocket.routes,
    *dashboard.routes,
)
# (method, path) of the routes anyone may call, signed in or not.
PUBLIC_ROUTES = frozenset((r.method, r.path) for r in ROUTES if r.access == "public")


def add_routes(app: web.Application) -> None:
    """Add every route to ``app``'s router, then the dashboard's static files."""
    app.add_routes([web.route(r.method, r.path, r.handler) for r in ROUTES])
    dashboard.serve_files(app)
