"""The Kite Connect facade's parts, built over the engine by ``gateway.app``: its sessions, the
KiteTicker hub (fed every tick), the ticker's order updates and the listener serving both."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.typedefs import Middleware

from engine.actors.trading_engine import TradingEngine
from engine.config import Config
from gateway.database import Database
from gateway.kite.app_secrets import load_key
from gateway.kite.listener import KiteListener
from gateway.kite.order_updates import KiteOrderUpdates
from gateway.kite.routes import KITE_ROUTES
from gateway.kite.sessions import KiteSessions
from gateway.kite.ticker import TickerHub
from gateway.kite.tokens import KiteTokens


@dataclass(frozen=True, slots=True)
class KiteFacade:
    sessions: KiteSessions
    order_updates: KiteOrderUpdates
    listener: KiteListener


def kite_facade(
    config: Config, engine: TradingEngine, database: Database, metrics: Middleware
) -> KiteFacade:
    """The facade's parts; the ticker joins the engine's tick listeners (before it starts),
    and ``metrics`` (the request metrics' middleware) counts the facade's requests too."""
    sessions = KiteSessions(database, config, load_key(config.server.data_dir))
    tokens = KiteTokens(engine.master, config.kite.index_tokens)
    ticker = TickerHub(
        engine.market,
        engine.depth,
        engine.in_use,
        config.kite,
        tokens=tokens,
        authenticate=sessions.authenticate,
        send_queue_max=config.websocket.send_queue_max,
    )
    engine.tick_listeners.append(ticker.on_tick)
    return KiteFacade(
        sessions=sessions,
        order_updates=KiteOrderUpdates(ticker, tokens, engine.rules.sessions),
        listener=KiteListener(KITE_ROUTES, ticker, tokens, metrics),
    )
