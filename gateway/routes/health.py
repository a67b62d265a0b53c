"""Health checks: a cheap public liveness answer, and a detailed view of each part for admins."""

from __future__ import annotations

import asyncio
import os
import resource
import threading
import time
from typing import Any

from aiohttp import web

from engine.actors.trading_engine import TradingEngine
from engine.market.pushed_quotes import PushedQuoteSource
from gateway import replies
from gateway.errors import json_response
from gateway.keys import DB, ENGINE, JOURNAL, RECOVERY
from gateway.route_table import Operation, RouteTable
from gateway.views import iso_ms
from persistence.pool import ping

routes = RouteTable()

STALE_AFTER_TICKS = 8
DATABASE_CHECK_S = 1.0


def _checks(request: web.Request) -> dict[str, dict[str, Any]]:
    engine = request.app[ENGINE]
    report = request.app[RECOVERY]
    quarantined = request.app[JOURNAL].quarantined_accounts
    snapshot = engine.market.snapshot
    interval_ms = engine.config.market.jitter_interval_ms
    age_ms = engine.clock.now_ms() - snapshot.at_ms
    market_ok = age_ms <= STALE_AFTER_TICKS * interval_ms
    registry = engine.registry
    return {
        "marketData": {
            "status": "healthy" if market_ok else "degraded",
            "source": engine.config.market.source,
            "lastTickAt": iso_ms(snapshot.at_ms),
            "ageMs": age_ms,
            **_live_feed(engine),
        },
        "journal": {
            "status": "unhealthy"
            if not engine.sink.accepting()
            else "degraded"
            if report.mismatched or report.failed or quarantined
            else "healthy",
            "durability": engine.config.journal.durability,
            "verifiedAccounts": report.checked,
            "mismatchedAccounts": report.mismatched[:20],
            "quarantinedAccounts": quarantined[:20],
            "sink": type(engine.sink).__name__,
        },
        "actors": {
            "status": "healthy" if engine.market_ref is not None else "unhealthy",
            "runtime": engine.runtime,
            "accounts": len(registry) if registry is not None else 0,
            "alive": registry.actors_alive if registry is not None else 0,
        },
    }


def _live_feed(engine: TradingEngine) -> dict[str, Any]:
    """Live-feed fields of the market check (none for the simulated source).

    A stale feed degrades the check: the market keeps running on the last references.
    """
    source = engine.source
    if not isinstance(source, PushedQuoteSource):
        return {}
    feed = source.status(engine.clock.now_ms())
    fields: dict[str, Any] = {
        "stale": feed.stale,
        "lastRefreshAt": None if feed.last_refresh_ms is None else iso_ms(feed.last_refresh_ms),
        "error": feed.error,
        "errorReason": feed.error_reason,
        "consecutiveFailures": feed.consecutive_failures,
    }
    if feed.stale:
        fields["status"] = "degraded"
    return fields


@routes.get(
    "/api/health",
    Operation("Liveness", reply=replies.Health, unhealthy=True),
    access="public",
)
async def health(request: web.Request) -> web.Response:
    """Public liveness: 200, or 503 naming the failing parts (``journal`` when writes cannot
    commit, ``database`` when PostgreSQL does not answer within a second), nothing more."""
    checks = _checks(request)
    checks["database"] = await database_check(request)
    failing = sorted(name for name, check in checks.items() if check["status"] == "unhealthy")
    payload: dict[str, Any] = {
        "status": "unhealthy" if failing else "healthy",
        "timestamp": iso_ms(time.time_ns() // 1_000_000),
    }
    if failing:
        payload["failing"] = failing
    return json_response(payload, status=503 if failing else 200)


async def database_check(request: web.Request) -> dict[str, Any]:
    """Ask Postgres directly: the journal alone only notices an outage when it next writes."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(ping(request.app[DB].pool), DATABASE_CHECK_S)
    except Exception as error:
        return {"status": "unhealthy", "error": type(error).__name__}
    return {"status": "healthy", "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


@routes.get(
    "/api/health/detailed",
    Operation("Admin: health of each part", reply=replies.HealthDetailed, unhealthy=True),
    access="admin",
)
async def health_detailed(request: web.Request) -> web.Response:
    checks = _checks(request)
    checks["database"] = await database_check(request)
    supervisor = request.app[DB].supervisor
    if supervisor is not None:  # the embedded server this process restarts when it dies
        stats = supervisor.stats
        checks["database"]["embedded"] = {
            "restarting": supervisor.down,
            "deaths": stats.deaths,
            "restarts": stats.restarts,
            "lastRestartMs": round(stats.last_restart_ms, 1),
        }
    statuses = {c["status"] for c in checks.values()}
    status = (
        "unhealthy"
        if "unhealthy" in statuses
        else "degraded"
        if "degraded" in statuses
        else "healthy"
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    engine = request.app[ENGINE]
    return json_response(
        {
            "status": status,
            "checks": checks,
            "performance": {
                "ticksTotal": engine.ticks_total,
                "actorMessagesTotal": engine.pool.messages_total,
            },
            "system": {
                "pid": os.getpid(),
                "threads": threading.active_count(),
                "maxRssMiB": round(usage.ru_maxrss / 1024, 1),
                "cpuSeconds": round(usage.ru_utime + usage.ru_stime, 3),
            },
        },
        status=503 if status == "unhealthy" else 200,
    )
