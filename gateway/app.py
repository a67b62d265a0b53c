"""Build the aiohttp application: ``create_app(config, master, dsn=...)``.

Resources start in ``cleanup_ctx`` order and stop in reverse: the Prometheus listener (its own
address, ``[metrics]``), the database (migrated), the persistence actor (the engine's event
sink), the engine with every account recovered from the journal, then the Vortex poller when
live quotes are configured. Websockets close in ``on_shutdown``. The public listener itself is
``gateway.listener``'s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from engine.actors.clock import Clock
from engine.actors.trading_engine import TradingEngine
from engine.config import Config
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.instruments import InstrumentMaster
from engine.market.pushed_quotes import PushedQuoteSource
from gateway.auth import auth_middleware, rate_limit_headers
from gateway.bridge import EngineBridge
from gateway.candle_recorder import CandleRecorder
from gateway.database import Database
from gateway.feeds.vortex_poller import poller_lifecycle
from gateway.identity.passwords import REFUSAL_MESSAGES, PasswordHasher, password_refusal
from gateway.identity.sessions import SessionStore
from gateway.identity.users import UserStore
from gateway.keys import (
    BRIDGE,
    CANDLES,
    CONFIG,
    DB,
    ENGINE,
    HASHER,
    HUB,
    JOURNAL,
    KITE_SESSIONS,
    LIMITER,
    METRICS_LISTENER,
    OPENAPI_DOCUMENT,
    PERFORMANCE,
    RECOVERY,
    SESSIONS,
    USERS,
)
from gateway.kite.facade import kite_facade
from gateway.kite.listener import KITE_LISTENER
from gateway.kite.order_updates import KiteOrderUpdates
from gateway.legacy_requests import adopt_legacy_deposits
from gateway.middleware.admin_access import admin_middleware
from gateway.middleware.body_deadline import body_deadline_middleware
from gateway.middleware.failures import error_middleware
from gateway.middleware.json_content_type import json_content_type_middleware
from gateway.middleware.origin_check import origin_middleware
from gateway.middleware.password_change import password_change_middleware
from gateway.middleware.security_headers import security_headers
from gateway.observability.metrics import Metrics
from gateway.observability.metrics_listener import METRICS_TOKEN_ENV, MetricsListener
from gateway.observability.performance import PerformanceMonitor
from gateway.openapi.document import DOCUMENT
from gateway.opening_balances import credit_missing_opening_balances, open_account
from gateway.prices import prices_lifecycle
from gateway.ratelimit import RateLimiter
from gateway.recovery_report import RecoveryReport
from gateway.routes.registry import (
    ADMIN_ROUTES,
    BEFORE_PASSWORD_CHANGE_ROUTES,
    ORDERS_LIMIT_ROUTES,
    ORIGIN_CHECKED_ROUTES,
    PUBLIC_ROUTES,
    add_routes,
)
from gateway.ws_hub import WebSocketHub
from persistence.embedded import EmbeddedPostgres, embedded_serving, resolve_database
from persistence.journal import PersistenceActor
from persistence.recovery import replay_all, verify_account
from persistence.supervisor import supervise
from persistence.trading_accounts import all_account_ids
from persistence.users import EmailTakenError

logger = logging.getLogger(__name__)

ADMIN_EMAIL_ENV = "PAPERDESK_ADMIN_EMAIL"
ADMIN_PASSWORD_ENV = "PAPERDESK_ADMIN_PASSWORD"
# A generated first-admin password: groups of letters and digits without look-alikes (no 0/o,
# 1/l/i), easy to type from a terminal; 4 groups of 5 from 31 symbols are ~99 bits.
GENERATED_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GENERATED_PASSWORD_GROUPS = 4
GENERATED_PASSWORD_GROUP_CHARS = 5


def create_app(
    config: Config,
    master: InstrumentMaster,
    *,
    dsn: str | None = None,
    ticking: bool = True,
    clock: Clock | None = None,
) -> web.Application:
    """The whole server; with no ``dsn``, ``DATABASE_URL`` or the embedded PostgreSQL. The
    engine reads ``clock`` (the wall clock by default) for every market and trading instant."""
    check_admin_password()
    embedded: EmbeddedPostgres | None = None
    if dsn is None:
        dsn, embedded = resolve_database(config.server.data_dir)
    pushed: PushedQuoteSource | None = None
    if config.market.source == "vortex":
        # The poller pushes live quotes into this source; the market actor applies them.
        pushed = PushedQuoteSource(
            stale_after_ms=config.market.vortex.stale_after_ms, circuits=config.circuits
        )
    journal = PersistenceActor(dsn, config.journal)
    engine = TradingEngine(config, master, sink=journal, source=pushed, clock=clock)
    hub = WebSocketHub(engine.market, engine.depth, engine.master, config.websocket, config.risk)
    database = Database(dsn, config.journal.statement_timeout_ms, config.database)
    monitor = PerformanceMonitor()
    metrics = Metrics(engine, journal, hub, monitor)
    kite = kite_facade(config, engine, database, metrics.middleware)

    engine.publish = publisher(metrics, hub, kite.order_updates)  # read when the engine starts
    engine.tick_listeners.append(hub.on_tick)
    app = web.Application(
        middlewares=[
            metrics.middleware,
            error_middleware,
            # Headers only: foreign pages never reach login or register.
            origin_middleware(ORIGIN_CHECKED_ROUTES),
            json_content_type_middleware,
            auth_middleware(PUBLIC_ROUTES, ORDERS_LIMIT_ROUTES),
            # After auth: it needs the session's user.
            password_change_middleware(BEFORE_PASSWORD_CHANGE_ROUTES),
            body_deadline_middleware,  # after auth: anonymous bodies are never waited for
            admin_middleware(ADMIN_ROUTES),  # last: where admin handlers checked the role
        ],
        # Closes connections idle (or sending headers slowly) for this long; aiohttp's own
        # default is an hour.
        handler_args={"keepalive_timeout": config.server.keepalive_timeout_s},
    )
    app[PERFORMANCE] = monitor
    app[RECOVERY] = RecoveryReport()
    app[CONFIG] = config
    app[ENGINE] = engine
    app[JOURNAL] = journal
    app[HUB] = hub
    app[DB] = database
    app[CANDLES] = candles = CandleRecorder(engine, config.history)
    app[BRIDGE] = EngineBridge(engine, config.accounts.ask_timeout_ms / 1000)
    app[LIMITER] = RateLimiter()
    app[HASHER] = hasher = PasswordHasher.from_config(config.auth)
    app[SESSIONS] = SessionStore(
        database, config.auth.session_ttl_hours, config.auth.session_cache_s
    )
    hub.watch_sessions(app[SESSIONS])  # sockets close when their session ends
    app[USERS] = UserStore(database)
    app[KITE_SESSIONS] = kite.sessions
    app[KITE_LISTENER] = kite.listener
    app[METRICS_LISTENER] = metrics_listener = MetricsListener(
        metrics, config.metrics, os.environ.get(METRICS_TOKEN_ENV)
    )

    app.cleanup_ctx.extend(
        [
            metrics_listener.lifecycle,  # first: a taken port fails start-up before recovery
            database_lifecycle(database, embedded),
            journal_lifecycle,
            prices_lifecycle,
            candles.lifecycle(database),  # before the engine: it records the first tick
            engine_lifecycle(ticking),
            kite.listener.lifecycle,  # after the engine: it serves the engine's accounts
        ]
    )
    if pushed is not None:
        app.cleanup_ctx.append(poller_lifecycle(engine, pushed, config.market.vortex))
    app.on_response_prepare.append(rate_limit_headers)
    app.on_response_prepare.append(security_headers)
    app.on_cleanup.append(lambda _: hasher.close())
    app.on_shutdown.append(lambda _: hub.close_all())
    app[OPENAPI_DOCUMENT] = DOCUMENT
    add_routes(app)  # every route of the registry, and the dashboard's static files
    return app


Lifecycle = Callable[[web.Application], AsyncIterator[None]]
Publish = Callable[[str, tuple[ev.AccountEvent, ...], AccountState], Callable[[], None]]


def publisher(metrics: Metrics, hub: WebSocketHub, kite_orders: KiteOrderUpdates) -> Publish:
    """What the engine calls in each account turn that produced events: the messages for the
    dashboard's sockets and the ticker's order updates, built from that turn's state, and their
    delivery with the order metrics once the events are durable."""

    def publish(
        account_id: str, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> Callable[[], None]:
        deliver = hub.on_account_events(account_id, events, state)
        deliver_to_ticker = kite_orders.on_account_events(account_id, events, state)

        def once_durable() -> None:
            metrics.count_order_events(events)
            if deliver is not None:
                deliver()
            if deliver_to_ticker is not None:
                deliver_to_ticker()

        return once_durable

    return publish


def database_lifecycle(database: Database, embedded: EmbeddedPostgres | None) -> Lifecycle:
    """The pool, and the embedded server's supervisor when this process runs one.

    ``embedded`` is the server create_app started, stopped here; the one ``gateway.cli``
    started is found by its DSN, supervised here and stopped by the cli.
    """

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await database.open()
        supervised = embedded or embedded_serving(database.dsn)
        supervisor = database.supervisor = supervise(supervised, app[CONFIG].embedded_database)
        yield
        loop = asyncio.get_running_loop()
        if supervisor is not None:  # after the journal's stop, which it may have helped
            await loop.run_in_executor(None, supervisor.stop)
        await database.close()
        if embedded is not None:
            await loop.run_in_executor(None, embedded.stop)

    return lifecycle


async def journal_lifecycle(app: web.Application) -> AsyncIterator[None]:
    await app[JOURNAL].start_in_running_loop()
    yield
    await app[JOURNAL].stop_in_running_loop()


def engine_lifecycle(ticking: bool) -> Lifecycle:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[ENGINE].start(ticking=ticking)
        app[HUB].attach(asyncio.get_running_loop())
        await recover_accounts(app)
        await ensure_admin(app)
        yield
        app[ENGINE].stop()

    return lifecycle


async def recover_accounts(app: web.Application) -> None:
    """Load every account: journaled ones by replay, the rest (no events yet) empty."""
    engine = app[ENGINE]
    async with app[DB].pool.acquire() as conn:
        states = await replay_all(conn)
        account_ids = await all_account_ids(conn)
    for account_id in account_ids:
        states.setdefault(account_id, AccountState(account_id))
    for state in states.values():
        engine.restore_account(state)
    logger.info("recovered %d trading accounts", len(states))
    # With hours enforced, square-offs and closes missed while the server was down happen now,
    # and so do the cancellations of orders in contracts that expired meanwhile.
    engine.catch_up_sessions()
    # Portfolio margins at today's prices (an expiry day's extra ELM among them).
    engine.revalue_margins()
    engine.catch_up_expiries()
    await adopt_legacy_deposits(app)
    await credit_missing_opening_balances(app)
    # Checking every account's journal against its projections can take a while at scale, so
    # it runs beside the server; /api/health/detailed reports its progress and any mismatch.
    app[RECOVERY].task = asyncio.create_task(verify_projections(app, list(states)))


async def verify_projections(app: web.Application, account_ids: list[str]) -> None:
    """Check each recovered account's journal replay against its projections, by state hash.

    It reads the database only (one snapshot per account): the recovered states themselves
    belong to the account actors, which are already trading.
    """
    report = app[RECOVERY]
    try:
        async with app[DB].pool.acquire() as conn:
            for account_id in account_ids:
                matches = await verify_account(conn, account_id)
                report.checked += 1
                if not matches:
                    report.mismatched.append(account_id)
                    logger.error("account %s: journal replay and projections differ", account_id)
    except Exception:
        logger.exception("verifying projections against the journal failed")
        report.failed = True


class AdminPasswordRefusedError(ValueError):
    """The first admin's password from the environment fails the password policy."""


def check_admin_password() -> None:
    """Refuse to build the server when the environment's admin password is weak."""
    email = os.environ.get(ADMIN_EMAIL_ENV)
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    refusal = password_refusal(password, email) if email and password else None
    if refusal is not None:
        raise AdminPasswordRefusedError(
            f"{ADMIN_PASSWORD_ENV} {REFUSAL_MESSAGES[refusal]} ({refusal.value}); set a stronger"
            " one (or unset it once an admin exists)"
        )


def generated_password(email: str, choice: Callable[[str], str] = secrets.choice) -> str:
    """A random password that ``email``'s owner may use under the password policy."""
    while True:
        groups = (
            "".join(
                choice(GENERATED_PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_GROUP_CHARS)
            )
            for _ in range(GENERATED_PASSWORD_GROUPS)
        )
        password = "-".join(groups)
        if password_refusal(password, email) is None:  # e.g. it spelled the email's name
            return password


async def ensure_admin(app: web.Application) -> None:
    """Create the first admin when there is none yet: from the environment, or else (no
    password there) ``PAPERDESK_ADMIN_EMAIL`` or ``auth.first_admin_email`` with a generated
    password that must be changed at first sign-in.

    The generated password is printed once on stdout, for the operator at the terminal, and
    never logged: the structured log may be shipped and kept where a password must not be.
    """
    users = app[USERS]
    await users.load_password_changes_due()
    if await users.any_admin():
        return
    email = os.environ.get(ADMIN_EMAIL_ENV) or app[CONFIG].auth.first_admin_email
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    generated = not password
    if not password:
        password = generated_password(email)
    try:
        opening_balance = app[CONFIG].accounts.opening_balance_paise
        _, account_id = await users.create(
            email,
            "Administrator",
            await app[HASHER].hash(password),
            "ADMIN",
            must_change_password=generated,
            opening_balance_paise=opening_balance,
        )
    except EmailTakenError:
        # A user (not an admin) already has this email: never promote one implicitly.
        logger.warning(
            "no admin exists and %s is taken by a user: create one with paperdesk create-admin",
            email,
        )
        return
    await open_account(app, account_id, opening_balance)
    if generated:
        print(
            f"paperdesk: first start — admin {email} / {password}"
            " (you must change it at first sign-in)",
            file=sys.stdout,
            flush=True,
        )
        logger.info("created the first admin %s with a generated password (printed once)", email)
    else:
        logger.info("created the first admin %s", email)
