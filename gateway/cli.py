"""The ``paperdesk`` command.

``paperdesk serve [--config FILE] [--host] [--port] [--data-dir]`` runs the server;
``paperdesk create-admin --email --password`` adds an admin; ``paperdesk import-instruments
FILE`` loads a Vortex ``master.csv`` or Kite instruments CSV into the database, where the
server picks it up at its next start. With no ``DATABASE_URL`` every command uses the embedded
PostgreSQL in the data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiohttp import web
from yarl import URL

from engine.actors.gc_tuning import apply_gc_thresholds, freeze_after_start
from engine.config import DEFAULT_INSTRUMENTS_PATH, Config, load_config
from engine.domain.instruments import InstrumentMaster
from engine.market.instrument_import import read_instruments_csv, read_master
from gateway.app import AdminPasswordRefusedError, create_app
from gateway.database import Database
from gateway.identity.passwords import REFUSAL_MESSAGES, HashParams, hash_password, password_refusal
from gateway.identity.users import UserStore
from gateway.keys import CONFIG
from gateway.kite.listener import KITE_LISTENER
from gateway.listener import start_listener
from gateway.observability.logs import configure_logging
from persistence.embedded import resolve_database
from persistence.instrument_store import load_instruments, upsert_instruments
from persistence.migrate import migrate

logger = logging.getLogger("paperdesk")


def _config(args: argparse.Namespace) -> Config:
    server: dict[str, Any] = {}
    for key in ("host", "port", "data_dir"):
        value = getattr(args, key, None)
        if value:
            server[key] = value
    return load_config(Path(args.config) if args.config else None, server=server)


async def _connect_migrated(dsn: str) -> Any:
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    return conn


async def _load_master(dsn: str) -> InstrumentMaster:
    """The sample master plus every instrument imported into the database."""
    conn = await _connect_migrated(dsn)
    try:
        imported = await load_instruments(conn)
    finally:
        await conn.close()
    master = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
    for instrument in imported:
        if master.index_of(instrument.instrument_id) is None:
            master.add(instrument)
    return master


def _serve(args: argparse.Namespace) -> int:
    config = _config(args)
    configure_logging(config.server.log_format)
    apply_gc_thresholds(config.runtime)
    dsn, embedded = resolve_database(config.server.data_dir)
    try:
        master = asyncio.run(_load_master(dsn))
        try:
            app = create_app(config, master, dsn=dsn)
        except AdminPasswordRefusedError as error:
            print(f"serve: {error}", file=sys.stderr)
            return 2
        # Runs after create_app's start-up contexts, so after recovery has loaded every account.
        app.on_startup.append(_freeze_heap)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_run_until_signalled(app, config))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


async def _run_until_signalled(app: web.Application, config: Config) -> None:
    """Serve ``app`` on the public listener until SIGINT or SIGTERM, then stop it gracefully."""
    # Per-request timings live in the metrics and the performance monitor, not an access log.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = await start_listener(runner, config)
        logger.info("serving on %s (stop with Ctrl-C)", site.name)
        # For the operator at the terminal (stdout, not the structured log on stderr).
        print(
            f"paperdesk: ready — dashboard at {dashboard_url(config.server.host, site.port)}",
            flush=True,
        )
        kite_url = app[KITE_LISTENER].url
        if kite_url is not None:
            print(f"paperdesk: Kite Connect root at {kite_url}", flush=True)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()


def dashboard_url(host: str, port: int) -> str:
    """Where a browser on this machine finds the dashboard of a server listening on ``host``."""
    if host in ("", "0.0.0.0"):  # every IPv4 interface: loopback is one of them
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return str(URL.build(scheme="http", host=host, port=port, path="/"))


async def _freeze_heap(app: web.Application) -> None:
    freeze_after_start(app[CONFIG].runtime)


async def _create_admin(config: Config, dsn: str, email: str, password: str) -> str:
    database = Database(dsn, config.journal.statement_timeout_ms, config.database, pool_max=2)
    await database.open()
    try:
        users = UserStore(database)
        existing = await users.by_email(email)
        if existing is not None:
            await users.set_role(existing["id"], "ADMIN")
            return "promoted"
        params = HashParams.of(config.auth)
        password_hash = await asyncio.to_thread(hash_password, password, params)
        # Credited by the server at its next start (gateway.opening_balances).
        await users.create(
            email,
            "Administrator",
            password_hash,
            "ADMIN",
            opening_balance_paise=config.accounts.opening_balance_paise,
        )
        return "created"
    finally:
        await database.close()


def _create_admin_command(args: argparse.Namespace) -> int:
    refusal = password_refusal(args.password, args.email)
    if refusal is not None:
        print(f"create-admin: the password {REFUSAL_MESSAGES[refusal]}", file=sys.stderr)
        return 2
    config = _config(args)
    dsn, embedded = resolve_database(config.server.data_dir)
    try:
        outcome = asyncio.run(_create_admin(config, dsn, args.email, args.password))
    finally:
        if embedded is not None:
            embedded.stop()
    print(f"admin {args.email}: {outcome}")
    return 0


async def _import(dsn: str, path: Path) -> tuple[int, dict[str, int], str]:
    result = read_master(path)
    conn = await _connect_migrated(dsn)
    try:
        async with conn.transaction():
            stored = await upsert_instruments(conn, result.instruments)
    finally:
        await conn.close()
    return stored, dict(result.skipped), result.layout


def _import_command(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"import-instruments: no such file {path}", file=sys.stderr)
        return 2
    config = _config(args)
    dsn, embedded = resolve_database(config.server.data_dir)
    try:
        stored, skipped, layout = asyncio.run(_import(dsn, path))
    except ValueError as error:
        print(f"import-instruments: {error}", file=sys.stderr)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    print(f"imported {stored} instruments ({layout} layout)")
    for reason, count in sorted(skipped.items()):
        print(f"  skipped {count}: {reason}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML file overlaid on configs/default.toml")
    parser.add_argument("--data-dir", help="where the embedded PostgreSQL lives (default ./var)")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(
        prog="paperdesk", description="Paper trading for Indian markets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)
    admin = commands.add_parser("create-admin", help="create (or promote) an admin user")
    _common(admin)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.set_defaults(run=_create_admin_command)
    importer = commands.add_parser("import-instruments", help="import a Vortex or Kite master CSV")
    _common(importer)
    importer.add_argument("file")
    importer.set_defaults(run=_import_command)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
