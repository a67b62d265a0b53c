"""Prometheus metrics: request latency by route, plus engine figures read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.pushed_quotes import PushedQuoteSource
from engine.trading_engine import TradingEngine

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EngineCollector(Collector):
    """Reads the engine's own counters when Prometheus scrapes (no bookkeeping on hot paths)."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        engine = self.engine
        registry = engine.registry
        yield CounterMetricFamily(
            "paperdesk_market_ticks",
            "Market ticks jittered and published.",
            value=engine.ticks_total,
        )
        yield CounterMetricFamily(
            "paperdesk_actor_messages",
            "Messages handled by the account actor pool.",
            value=engine.pool.messages_total,
        )
        yield GaugeMetricFamily(
            "paperdesk_accounts", "Trading accounts held by the engine.", value=len(registry or ())
        )
        yield GaugeMetricFamily(
            "paperdesk_actors_alive",
            "Account actors currently running (the rest are passivated).",
            value=registry.actors_alive if registry is not None else 0,
        )
        if isinstance(engine.source, PushedQuoteSource):
            yield from _live_feed_metrics(engine, engine.source)


def _live_feed_metrics(
    engine: TradingEngine, source: PushedQuoteSource
) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
    """The live quote feed (source = "vortex"): staleness, rounds, failures by reason."""
    feed = source.status(engine.clock.now_ms())
    yield GaugeMetricFamily(
        "paperdesk_market_data_stale",
        "1 while live market data is stale (the market runs on the last references).",
        value=1 if feed.stale else 0,
    )
    if feed.last_refresh_ms is not None:
        yield GaugeMetricFamily(
            "paperdesk_market_data_last_refresh_timestamp_seconds",
            "When the last successful quote poll finished.",
            value=feed.last_refresh_ms / 1000,
        )
    yield CounterMetricFamily(
        "paperdesk_market_data_polls", "Quote polling rounds.", value=source.rounds_total
    )
    failures = CounterMetricFamily(
        "paperdesk_market_data_poll_failures",
        "Quote polling rounds that failed after retries, by reason.",
        labels=["reason"],
    )
    for reason, count in sorted(source.failures_by_reason().items()):
        failures.add_metric([reason], count)
    yield failures
    yield CounterMetricFamily(
        "paperdesk_market_data_quotes_missing",
        "Ids a successful poll asked for but the reply left out (they keep their reference).",
        value=source.quotes_missing_total,
    )
    yield CounterMetricFamily(
        "paperdesk_market_data_quotes_malformed",
        "Quote entries skipped as unusable (unknown id, missing or bad price).",
        value=source.quotes_malformed_total,
    )


class Metrics:
    """The gateway's registry and its request-latency middleware."""

    def __init__(self, engine: TradingEngine) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(engine))
        self.request_seconds = Histogram(
            "paperdesk_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            self.request_seconds.labels(request.method, route, str(status)).observe(
                time.perf_counter() - started
            )

    async def handle(self, _: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
