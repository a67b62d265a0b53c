"""The route registry is the one place a route's facts are kept: the sets of (method, path) the
middlewares and the session check read are derived from the routes' declarations, hold exactly
the routes they held when each was a hand-kept list, and every route is in exactly the sets its
declaration puts it in."""

from __future__ import annotations

import pytest
from aiohttp import web

from gateway.route_table import Route
from gateway.routes.registry import (
    ADMIN_ROUTES,
    BEFORE_PASSWORD_CHANGE_ROUTES,
    ORDERS_LIMIT_ROUTES,
    ORIGIN_CHECKED_ROUTES,
    PUBLIC_ROUTES,
    ROUTES,
)

RouteKeys = frozenset[tuple[str, str]]

# Each derived set, and the routes it held before the facts moved onto the routes (where it
# was kept then: the public routes were derived already, the rest kept by hand).
HAND_KEPT: dict[str, tuple[RouteKeys, set[tuple[str, str]]]] = {
    "public (gateway/auth.py)": (
        PUBLIC_ROUTES,
        {
            ("GET", "/"),
            ("GET", "/api/health"),
            ("GET", "/api/instruments"),
            ("GET", "/api/openapi.json"),
            ("GET", "/api/optionchain"),  # market data, public as quotes are (added since)
            ("GET", "/api/market/candles"),
            ("GET", "/api/quotes"),
            ("GET", "/api/underlyings"),  # added with the option chain
            ("GET", "/api/expiries"),  # added with the exchange calendar
            ("POST", "/api/auth/login"),
            ("POST", "/api/auth/register"),
        },
    ),
    "admin (each handler's require_admin)": (
        ADMIN_ROUTES,
        {
            ("GET", "/api/admin/deposits"),
            ("GET", "/api/admin/stats"),
            ("GET", "/api/admin/users"),
            ("GET", "/api/admin/withdrawals"),
            ("GET", "/api/health/detailed"),
            ("GET", "/api/monitoring/performance"),
            ("DELETE", "/api/monitoring/performance"),
            ("POST", "/api/admin/accounts/reset"),
            ("POST", "/api/admin/deposits"),
            ("POST", "/api/admin/funds/add"),
            ("POST", "/api/admin/funds/withdraw"),
            ("POST", "/api/admin/withdrawals"),
            ("POST", "/api/trading/funds"),
        },
    ),
    "ALLOWED_BEFORE_PASSWORD_CHANGE (gateway/middleware/password_change.py)": (
        BEFORE_PASSWORD_CHANGE_ROUTES,
        {("POST", "/api/auth/logout"), ("GET", "/api/auth/session"), ("POST", "/api/console")},
    ),
    "ORIGIN_CHECKED_ROUTES (gateway/middleware/origin_check.py)": (
        ORIGIN_CHECKED_ROUTES,
        {("POST", "/api/auth/login"), ("POST", "/api/auth/register")},
    ),
    "ORDER_ROUTE (gateway/auth.py)": (ORDERS_LIMIT_ROUTES, {("POST", "/api/trading/orders")}),
}


@pytest.mark.parametrize("name", HAND_KEPT)
def test_derived_set_when_registry_built_then_holds_the_routes_once_kept_by_hand(name: str) -> None:
    derived, hand_kept = HAND_KEPT[name]
    assert derived == hand_kept


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_route_when_declared_then_in_exactly_the_sets_its_declaration_says(route: Route) -> None:
    key = (route.method, route.path)
    assert (key in PUBLIC_ROUTES) == (route.access == "public")
    assert (key in ADMIN_ROUTES) == (route.access == "admin")
    assert (key in BEFORE_PASSWORD_CHANGE_ROUTES) == route.before_password_change
    assert (key in ORIGIN_CHECKED_ROUTES) == route.origin_checked
    assert (key in ORDERS_LIMIT_ROUTES) == (route.rate_bucket == "orders")


def test_routes_when_registry_built_then_each_method_and_path_declared_once() -> None:
    keys = [(route.method, route.path) for route in ROUTES]
    assert len(keys) == len(set(keys))  # else two declarations could disagree on a fact


async def _handler(request: web.Request) -> web.Response:
    return web.Response()


@pytest.mark.parametrize(
    "facts", [{"before_password_change": True}, {"rate_bucket": "orders"}], ids=str
)
def test_public_route_when_declaring_a_session_fact_then_assertion(
    facts: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="public route"):
        Route("GET", "/api/anything", _handler, "public", None, **facts)  # type: ignore[arg-type]
