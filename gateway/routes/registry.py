"""The one list of routes: every route module's table, in the order the app adds them.

It feeds aiohttp's router (:func:`add_routes`, called by ``gateway.app``), the sets of routes
``gateway.app`` gives the middlewares that treat routes apart, and the OpenAPI document
(``gateway.openapi.document``). Each route's method, path, handler, access, OpenAPI description
and the facts the middlewares read are declared once, on its handler (``gateway.route_table``);
no middleware keeps a list of routes of its own.
"""

from __future__ import annotations

from aiohttp import web

from gateway.route_table import Route
from gateway.routes import (
    accounts,
    admin,
    api_apps,
    auth,
    console,
    dashboard,
    funds,
    gtt,
    health,
    market,
    monitoring,
    openapi,
    options,
    orders,
    positions,
    trades,
    websocket,
)

ROUTES: tuple[Route, ...] = (
    *auth.routes,
    *accounts.routes,
    *orders.routes,
    *trades.routes,
    *positions.routes,
    *gtt.routes,
    *funds.routes,
    *console.routes,
    *api_apps.routes,
    *admin.routes,
    *market.routes,
    *options.routes,
    *health.routes,
    *monitoring.routes,
    *openapi.routes,
    *websocket.routes,
    *dashboard.routes,
)
# Each a set of (method, path), as ``gateway.auth.route_key`` names a request's route.
# The routes anyone may call, signed in or not (``gateway.auth.auth_middleware``).
PUBLIC_ROUTES = frozenset((r.method, r.path) for r in ROUTES if r.access == "public")
# The routes only an admin may call (``gateway.middleware.admin_access``).
ADMIN_ROUTES = frozenset((r.method, r.path) for r in ROUTES if r.access == "admin")
# What a user who must change their password may still call
# (``gateway.middleware.password_change``).
BEFORE_PASSWORD_CHANGE_ROUTES = frozenset(
    (r.method, r.path) for r in ROUTES if r.before_password_change
)
# The routes refused to a foreign ``Origin`` (``gateway.middleware.origin_check``).
ORIGIN_CHECKED_ROUTES = frozenset((r.method, r.path) for r in ROUTES if r.origin_checked)
# The routes counted against the orders limit, not the general one (``gateway.auth``).
ORDERS_LIMIT_ROUTES = frozenset((r.method, r.path) for r in ROUTES if r.rate_bucket == "orders")


def add_routes(app: web.Application) -> None:
    """Add every route to ``app``'s router, then the dashboard's static files."""
    app.add_routes([web.route(r.method, r.path, r.handler) for r in ROUTES])
    dashboard.serve_files(app)
