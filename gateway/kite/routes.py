"""Every route of the Kite facade, joined for its listener."""

from __future__ import annotations

from aiohttp import web

from gateway.kite import market_routes, order_routes, portfolio_routes, session_routes
from gateway.kite.history_routes import routes as history_routes

KITE_ROUTES: tuple[web.AbstractRouteDef, ...] = (
    *session_routes.routes,
    *order_routes.routes,
    *portfolio_routes.routes,
    *market_routes.routes,
    *history_routes,
)
