"""The Kite Connect facade's listener (``[kite]``, 127.0.0.1:8081 by default): Kite's routes at
its root, since the ``kiteconnect`` client joins ``/orders`` onto its ``root`` and drops any path
there.

Every answer leaves in Kite's shape. The facade's handlers raise :class:`~gateway.kite.wire.
KiteError` for what is Kite's own (a bad token, a missing parameter); below them the native
error middleware renders whatever paperdesk's shared code raises (an unknown order, an engine
timeout, a database outage) as a docs/API.md error, which :func:`kite_errors` then rewrites as
Kite's error with the matching exception name, so the two APIs refuse the same things.

Requests are counted per app against Kite's limits: orders, quotes, historical data and the rest
each have their own per-second budget (``[kite]``), over which Kite answers 429
``NetworkException``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from yarl import URL

from gateway.keys import (
    BRIDGE,
    CANDLES,
    CONFIG,
    DB,
    ENGINE,
    HASHER,
    HUB,
    KITE_SESSIONS,
    LIMITER,
    SESSIONS,
    USERS,
)
from gateway.kite.access import KITE_ACCESS
from gateway.kite.ticker import TickerHub
from gateway.kite.tokens import KITE_TOKENS, KiteTokens
from gateway.kite.wire import ErrorType, KiteError, error_answer
from gateway.listener import cap_connections, is_loopback
from gateway.middleware.failures import error_middleware
from gateway.middleware.security_headers import security_headers

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What the Kite app shares with the main one: the engine, the database and the stores.
SHARED_KEYS: tuple[web.AppKey[Any], ...] = (
    CONFIG,
    ENGINE,
    BRIDGE,
    DB,
    USERS,
    SESSIONS,
    HASHER,
    LIMITER,
    HUB,
    KITE_SESSIONS,
    CANDLES,  # the historical route's candle store
)
# Routes that authenticate otherwise than by the Authorization header: the login pages, the
# token exchange (by checksum) and the ticker (api_key and access_token in its query).
PUBLIC_PATHS = frozenset({"/connect/login", "/connect/consent", "/session/token", "/", "/ws"})

# A native status's Kite exception (and the status Kite answers it with).
_KITE_ERRORS: dict[int, tuple[int, ErrorType]] = {
    400: (400, ErrorType.INPUT),
    401: (403, ErrorType.TOKEN),
    403: (403, ErrorType.PERMISSION),
    404: (404, ErrorType.GENERAL),
    405: (405, ErrorType.GENERAL),
    408: (400, ErrorType.INPUT),
    409: (400, ErrorType.INPUT),
    413: (400, ErrorType.INPUT),
    422: (400, ErrorType.INPUT),
    429: (429, ErrorType.NETWORK),
    503: (503, ErrorType.NETWORK),
}


def as_kite_error(response: web.Response) -> KiteError:
    """A docs/API.md error answer as Kite's: its message, with the fields at fault named."""
    status, error_type = _KITE_ERRORS.get(response.status, (500, ErrorType.GENERAL))
    message = "Something went wrong on our side."
    try:
        error = orjson.loads(response.body)["error"]  # type: ignore[arg-type]
        message = str(error["message"])
        details = error.get("details")
        if isinstance(details, list):
            faults = [f"{d['path']} {d['message']}" for d in details if isinstance(d, dict)]
            if faults:
                message = f"{message} ({'; '.join(faults)})"
    except (KeyError, TypeError, ValueError):
        pass
    return KiteError(status, error_type, message)


def is_kite_answer(response: web.Response) -> bool:
    try:
        return bool(orjson.loads(response.body).get("status") == "error")  # type: ignore[arg-type]
    except (AttributeError, TypeError, ValueError):
        return False


@web.middleware
async def kite_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error below in Kite's shape (outside all but the request metrics)."""
    response = await handler(request)
    if (
        response.status >= 400
        and isinstance(response, web.Response)
        and response.content_type == "application/json"
        and not is_kite_answer(response)
    ):
        return error_answer(as_kite_error(response))
    return response


def authorization_pair(request: web.Request) -> tuple[str, str] | None:
    """``(api_key, access_token)`` from ``Authorization: token api_key:access_token``."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "token ":
        return None
    api_key, _, access_token = header[6:].strip().partition(":")
    if not api_key or not access_token:
        return None
    return api_key, access_token


@web.middleware
async def kite_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The app and account of every request but the public ones, from its access token; a
    missing, wrong or expired token is 403 ``TokenException`` (the client's session expiry)."""
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    pair = authorization_pair(request)
    access = None if pair is None else await request.app[KITE_SESSIONS].authenticate(*pair)
    if access is None:
        raise KiteError(403, ErrorType.TOKEN, "Incorrect `api_key` or `access_token`.")
    request[KITE_ACCESS] = access
    return await handler(request)


def rate_bucket(method: str, path: str) -> str:
    """Which of Kite's per-second limits a request counts against."""
    if path.startswith("/orders") and method != "GET":
        return "orders"
    if path.startswith("/quote"):
        return "quotes"
    if path.startswith("/instruments/historical"):
        return "historical"
    return "other"


@web.middleware
async def kite_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    access = request.get(KITE_ACCESS)
    if access is not None:
        config = request.app[CONFIG].kite
        bucket = rate_bucket(request.method, request.path)
        per_second = {
            "orders": config.orders_per_second,
            "quotes": config.quotes_per_second,
            "historical": config.historical_per_second,
            "other": config.other_per_second,
        }[bucket]
        verdict = request.app[LIMITER].hit(f"kite_{bucket}", access.app_id, per_second, 1.0)
        if not verdict.allowed:
            raise KiteError(429, ErrorType.NETWORK, "Too many requests.")
    return await handler(request)


def kite_app(
    main: web.Application,
    routes: Iterable[web.AbstractRouteDef],
    ticker: TickerHub,
    tokens: KiteTokens,
    metrics: Middleware,
) -> web.Application:
    """The facade's application over ``main``'s engine, database and stores: the REST routes,
    and KiteTicker at ``/`` (and ``/ws``)."""
    app = web.Application(
        # The native error middleware right inside ``kite_errors``: whatever fails below it,
        # the token check's database read included, is answered, then rewritten as Kite's.
        middlewares=[metrics, kite_errors, error_middleware, kite_auth, kite_limits],
        handler_args={"keepalive_timeout": main[CONFIG].server.keepalive_timeout_s},
    )
    for key in SHARED_KEYS:
        app[key] = main[key]
    app[KITE_TOKENS] = tokens
    app.add_routes(routes)
    app.router.add_get("/", ticker.handle)
    app.router.add_get("/ws", ticker.handle)
    app.on_response_prepare.append(security_headers)
    return app


class KiteListener:
    """Serves the facade while the main app runs; ``url`` says where (None when disabled)."""

    def __init__(
        self,
        routes: Iterable[web.AbstractRouteDef],
        ticker: TickerHub,
        tokens: KiteTokens,
        metrics: Middleware,
    ) -> None:
        self.routes = routes
        self.ticker = ticker
        self.tokens = tokens
        self.metrics = metrics
        self.url: str | None = None

    async def lifecycle(self, main: web.Application) -> AsyncIterator[None]:
        """Listen beside the main app (a ``cleanup_ctx`` after the engine's)."""
        config = main[CONFIG]
        kite = config.kite
        if not kite.enabled:
            logger.info("the Kite Connect facade is disabled ([kite] enabled = false)")
            yield
            return
        self.ticker.attach(asyncio.get_running_loop())
        runner = web.AppRunner(
            kite_app(main, self.routes, self.ticker, self.tokens, self.metrics), access_log=None
        )
        await runner.setup()
        try:
            assert runner.server is not None
            cap_connections(runner.server, config.server.connections_max)
            site = web.TCPSite(runner, kite.host, kite.port)
            await site.start()
            host = kite.host or "0.0.0.0"
            self.url = str(URL.build(scheme="http", host=host, port=site.port))
            logger.info("Kite Connect facade at %s", self.url)
            if not is_loopback(kite.host) and not config.auth.cookie_secure:
                logger.warning(
                    "the Kite facade listens on %s (not loopback) over plain HTTP: access"
                    " tokens travel in the clear; serve it behind HTTPS",
                    kite.host or "every interface",
                )
            yield
        finally:
            await self.ticker.close_all()
            await runner.cleanup()


# Where ``gateway.app`` keeps the facade's listener (its ``url`` once listening).
KITE_LISTENER = web.AppKey("kite_listener", KiteListener)
