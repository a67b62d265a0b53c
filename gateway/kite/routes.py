"""Every route of the Kite facade, joined for its listener."""

from __future__ import annotations

from aiohttp import web

from gateway.kite import (
    gtt_routes,
    history_routes,
    margin_routes,
    market_routes,
    order_routes,
    portfolio_routes,
    session_routes,
)

KITE_ROUTES: tuple[web.AbstractRouteDef, ...] = (
    *session_routes.routes,
    *order_routes.routes,
    *portfolio_routes.routes,
    *market_routes.routes,
    *margin_routes.routes,
    *history_routes.routes,
    *gtt_routes.routes,
)
