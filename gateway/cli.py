"""The ``paperdesk`` command: ``paperdesk serve [--config FILE] [--host] [--port] [--data-dir]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvloop
from aiohttp import web

from engine.config import DEFAULT_INSTRUMENTS_PATH, load_config
from engine.instruments import InstrumentMaster, read_instruments_csv
from gateway.app import create_app


def _serve(args: argparse.Namespace) -> None:
    overrides: dict[str, dict[str, object]] = {"server": {}}
    if args.host:
        overrides["server"]["host"] = args.host
    if args.port:
        overrides["server"]["port"] = args.port
    if args.data_dir:
        overrides["server"]["data_dir"] = args.data_dir
    config = load_config(Path(args.config) if args.config else None, **overrides)
    master = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
    app = create_app(config, master)
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        loop=uvloop.new_event_loop(),
        print=lambda text: logging.getLogger("paperdesk").info(text.strip()),
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="paperdesk", description="Paper-trading server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--config", help="TOML file overlaid on configs/default.toml")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
