"""Typed application keys shared by the gateway's modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.actors.trading_engine import TradingEngine
from engine.config import Config
from gateway.bridge import EngineBridge
from gateway.candle_recorder import CandleRecorder
from gateway.database import Database
from gateway.identity.passwords import PasswordHasher
from gateway.identity.sessions import SessionStore
from gateway.identity.users import UserStore
from gateway.kite.sessions import KiteSessions
from gateway.observability.metrics_listener import MetricsListener
from gateway.observability.performance import PerformanceMonitor
from gateway.ratelimit import RateLimiter
from gateway.recovery_report import RecoveryReport
from gateway.ws_hub import WebSocketHub
from persistence.journal import PersistenceActor

CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", TradingEngine)
BRIDGE = web.AppKey("bridge", EngineBridge)
LIMITER = web.AppKey("limiter", RateLimiter)
HASHER = web.AppKey("hasher", PasswordHasher)
SESSIONS = web.AppKey("sessions", SessionStore)
USERS = web.AppKey("users", UserStore)
DB = web.AppKey("db", Database)
JOURNAL = web.AppKey("journal", PersistenceActor)
HUB = web.AppKey("hub", WebSocketHub)
PERFORMANCE = web.AppKey("performance", PerformanceMonitor)
RECOVERY = web.AppKey("recovery", RecoveryReport)
METRICS_LISTENER = web.AppKey("metrics_listener", MetricsListener)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict[str, Any])
KITE_SESSIONS = web.AppKey("kite_sessions", KiteSessions)
# Minute candles: recorded from the ticks, read merged with the minute in progress.
CANDLES = web.AppKey("candles", CandleRecorder)
