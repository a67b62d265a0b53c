"""Build the aiohttp application: ``create_app(config, master)``.

Resources start and stop in ``cleanup_ctx``: the engine (worker pool, market actor, ticker)
starts with the app and stops with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from engine.config import Config
from engine.instruments import InstrumentMaster
from engine.trading_engine import TradingEngine
from gateway import health_routes, market_routes
from gateway.bridge import EngineBridge
from gateway.keys import BRIDGE, CONFIG, ENGINE
from gateway.metrics import Metrics


def create_app(
    config: Config, master: InstrumentMaster, *, ticking: bool = True
) -> web.Application:
    engine = TradingEngine(config, master)
    metrics = Metrics(engine)
    app = web.Application(middlewares=[metrics.middleware])
    app[CONFIG] = config
    app[ENGINE] = engine
    app[BRIDGE] = EngineBridge(engine, config.accounts.ask_timeout_ms / 1000)

    async def engine_lifecycle(_: web.Application) -> AsyncIterator[None]:
        engine.start(ticking=ticking)
        yield
        engine.stop()

    app.cleanup_ctx.append(engine_lifecycle)
    app.add_routes(health_routes.routes)
    app.add_routes(market_routes.routes)
    app.router.add_get("/metrics", metrics.handle)
    return app
