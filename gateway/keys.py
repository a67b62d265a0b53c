"""Typed application keys shared by the gateway's modules."""

from __future__ import annotations

from aiohttp import web

from engine.config import Config
from engine.trading_engine import TradingEngine
from gateway.bridge import EngineBridge

CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", TradingEngine)
BRIDGE = web.AppKey("bridge", EngineBridge)
