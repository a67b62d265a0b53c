"""Prometheus metrics: request latency by route, plus engine figures read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.actors.trading_engine import TradingEngine
from engine.domain import events as ev
from engine.market.pushed_quotes import PushedQuoteSource
from gateway.observability.performance import PerformanceMonitor
from gateway.ws_hub import WebSocketHub
from persistence.journal import PersistenceActor

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
        resolutions = CounterMetricFamily(
            "paperdesk_price_resolutions",
            "Prices resolved, by the tier that served them (docs/DOMAIN.md §5).",
            labels=["tier"],
        )
        for tier, count in sorted(engine.market.resolutions.items()):
            resolutions.add_metric([tier.value], count)
        yield resolutions
        refused = CounterMetricFamily(
            "paperdesk_refused_executions",
            "Fills and triggers the market sent that the order's current terms refused.",
            labels=["command", "reason"],
        )
        for (command, reason), count in sorted(engine.refused_executions.snapshot().items()):
            refused.add_metric([command, reason.value], count)
        yield refused
        yield GaugeMetricFamily(
            "paperdesk_accounts", "Trading accounts held by the engine.", value=len(registry or ())
        )
        yield GaugeMetricFamily(
            "paperdesk_actors_alive",
            "Account actors currently running (the rest are passivated).",
            value=registry.actors_alive if registry is not None else 0,
        )
        marks = engine.risk.latest
        yield GaugeMetricFamily(
            "paperdesk_open_positions",
            "Open positions marked to market at the last tick.",
            value=marks.positions,
        )
        yield GaugeMetricFamily(
            "paperdesk_unrealized_pnl_rupees",
            "Unrealized P&L of every open position at its last traded price, last tick.",
            value=marks.unrealized_paise / 100,
        )
        yield GaugeMetricFamily(
            "paperdesk_accounts_in_loss",
            "Accounts whose open positions add up to an unrealized loss at the last tick.",
            value=marks.accounts_in_loss,
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


class JournalCollector(Collector):
    """The persistence actor's counters, read at scrape time."""

    def __init__(self, journal: PersistenceActor, hub: WebSocketHub) -> None:
        self.journal = journal
        self.hub = hub

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.journal.stats
        counters: dict[str, tuple[str, float]] = {
            "paperdesk_journal_transactions": ("Group-commit transactions.", stats.transactions),
            "paperdesk_journal_events_written": ("Events journaled.", stats.events_written),
            "paperdesk_journal_batches_failed": (
                "Batches that could not be written.",
                stats.batches_failed,
            ),
            "paperdesk_journal_retries": ("Transient database errors retried.", stats.retries),
            "paperdesk_journal_groups_isolated": (
                "Group statements refused and retried batch by batch.",
                stats.groups_isolated,
            ),
            "paperdesk_journal_outages": ("Times the journal became degraded.", stats.outages),
            "paperdesk_journal_invariant_violations": (
                "Batches refused for breaking an invariant (a bug; account quarantined).",
                stats.invariant_violations,
            ),
            "paperdesk_journal_inbox_full_episodes": (
                "Times the journal's inbox reached journal.inbox_max (user writes refused).",
                stats.inbox_full_episodes,
            ),
            "paperdesk_journal_mirrors_replayed": (
                "Account mirrors replayed from the journal by the writer.",
                stats.mirrors_replayed,
            ),
            "paperdesk_journal_mirrors_evicted": (
                "Account mirrors dropped as least recently written or idle.",
                stats.mirrors_evicted,
            ),
        }
        for name, (text, value) in counters.items():
            yield CounterMetricFamily(name, text, value=value)
        average = stats.events_written / stats.transactions if stats.transactions else 0.0
        gauges: dict[str, tuple[str, float]] = {
            "paperdesk_journal_backlog_batches": (
                "Batches waiting to be written (lag).",
                self.journal.backlog,
            ),
            "paperdesk_journal_degraded": (
                "1 while the database is unreachable.",
                0 if self.journal.healthy else 1,
            ),
            "paperdesk_journal_inbox_refusing": (
                "1 while the journal's inbox is full and user writes are refused.",
                1 if self.journal.inbox_full else 0,
            ),
            "paperdesk_journal_mirrors": (
                "Account mirrors the journal writer holds.",
                self.journal.mirrors,
            ),
            "paperdesk_journal_accounts_quarantined": (
                "Accounts refusing writes since a batch of theirs failed to journal.",
                self.journal.stats.accounts_quarantined,
            ),
            "paperdesk_journal_batch_events_average": ("Events per group commit.", average),
            "paperdesk_journal_batch_events_max": ("Largest group commit.", stats.group_events_max),
            "paperdesk_journal_last_commit_seconds": (
                "Duration of the last commit.",
                stats.last_commit_ms / 1000,
            ),
            "paperdesk_websocket_clients": ("Connected websocket clients.", len(self.hub.clients)),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=value)
        yield CounterMetricFamily(
            "paperdesk_websocket_dropped",
            "Slow websocket clients disconnected.",
            value=self.hub.dropped_total,
        )


# Any other method a client sends is counted as OTHER, so it cannot grow the label sets.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

ORDER_OUTCOMES: dict[type, str] = {
    ev.OrderAccepted: "accepted",
    ev.OrderRejected: "rejected",
    ev.OrderCancelled: "cancelled",
}


class Metrics:
    """The gateway's registry, its request middleware and the order-outcome counter."""

    def __init__(
        self,
        engine: TradingEngine,
        journal: PersistenceActor,
        hub: WebSocketHub,
        monitor: PerformanceMonitor,
    ) -> None:
        self.registry = CollectorRegistry()
        self.monitor = monitor
        self.registry.register(EngineCollector(engine))
        self.registry.register(JournalCollector(journal, hub))
        self.orders = Counter(
            "paperdesk_orders", "Orders by outcome.", ["outcome"], registry=self.registry
        )
        self.request_seconds = Histogram(
            "paperdesk_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        # (method, route, status) -> its histogram child: ``labels()`` takes a lock and
        # builds its key on every call; the set of routes and statuses is small and fixed.
        self._request_children: dict[tuple[str, str, int], Histogram] = {}

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
            elapsed = time.perf_counter() - started
            method = request.method if request.method in METHODS else "OTHER"
            key = (method, route, status)
            child = self._request_children.get(key)
            if child is None:
                child = self._request_children[key] = self.request_seconds.labels(
                    method, route, str(status)
                )
            child.observe(elapsed)
            self.monitor.record(f"{method} {route}", elapsed * 1000, status)

    def count_order_events(self, events: tuple[ev.AccountEvent, ...]) -> None:
        """Count order outcomes (called inside account actor turns; counters are thread-safe)."""
        for event in events:
            outcome = ORDER_OUTCOMES.get(type(event))
            if outcome is None and isinstance(event, ev.OrderFilled):
                outcome = "executed" if event.status_after.value == "EXECUTED" else None
            if outcome is not None:
                self.orders.labels(outcome).inc()

    async def handle(self, _: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
