"""The public HTTP listener: bind ``server.host``, cap open connections, warn about risks.

``server.connections_max`` bounds the connections open at once, websockets included: each one
costs a file descriptor, buffers and a handler, and slow clients can open them faster than
timeouts close them. The connection past the cap is answered 503 at once and closed, before a
byte of it is read. aiohttp has no such setting; its ``Server.connection_made`` is the one call
every accepted connection goes through, so the cap wraps it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
import time

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from engine.config import Config

logger = logging.getLogger(__name__)

# Descriptors the process needs besides client connections: database pool, logs, listeners.
FILE_DESCRIPTORS_RESERVED = 256
REFUSAL_LOG_INTERVAL_S = 60.0
_REFUSAL_BODY = orjson.dumps(
    {
        "error": {
            "code": "UNAVAILABLE",
            "message": "The server has too many open connections; try again shortly.",
        }
    }
)
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n"
    b"Retry-After: 1\r\n"
    b"Cache-Control: no-store\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"Connection: close\r\n"
    b"\r\n" + _REFUSAL_BODY
)


class ConnectionCap:
    """Admit connections to one aiohttp server up to ``connections_max``; refuse the rest."""

    def __init__(self, server: web.Server, connections_max: int) -> None:
        self.server = server
        self.connections_max = connections_max
        self.refused_total = 0
        self._admit = server.connection_made
        self._refusals_logged = 0
        self._logged_at_s = -REFUSAL_LOG_INTERVAL_S

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self.server.connections) < self.connections_max:
            self._admit(handler, transport)
            return
        # Not registered with the server: the handler's own connection_lost cleans it up.
        transport.write(REFUSAL)
        transport.close()
        self.refused_total += 1
        now_s = time.monotonic()
        if now_s - self._logged_at_s >= REFUSAL_LOG_INTERVAL_S:
            logger.warning(
                "server.connections_max (%d) reached: refused %d connections since the last report",
                self.connections_max,
                self.refused_total - self._refusals_logged,
            )
            self._logged_at_s, self._refusals_logged = now_s, self.refused_total


def cap_connections(server: web.Server, connections_max: int) -> ConnectionCap:
    """Put ``server`` under a :class:`ConnectionCap` (before it accepts anything)."""
    cap = ConnectionCap(server, connections_max)
    server.connection_made = cap.connection_made  # type: ignore[method-assign]
    return cap


def reserve_file_descriptors(connections_max: int) -> None:
    """Raise the soft open-files limit to what ``connections_max`` needs, up to the hard one."""
    needed = connections_max + FILE_DESCRIPTORS_RESERVED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        logger.warning(
            "open files are limited to %d: fewer than server.connections_max (%d) connections"
            " will be served; raise the limit (ulimit -n) or lower connections_max",
            target,
            connections_max,
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name, or "" for every interface
        return False


def warn_if_exposed(config: Config, host: str) -> None:
    """Warn when sessions would travel in cookies without ``Secure`` beyond this machine."""
    if not is_loopback(host) and not config.auth.cookie_secure:
        logger.warning(
            "listening on %s (not loopback) with auth.cookie_secure = false: session cookies"
            " will be sent over plain HTTP; serve over HTTPS and set cookie_secure = true",
            host or "every interface",
        )


async def start_listener(
    runner: web.AppRunner, config: Config, *, port: int | None = None
) -> web.TCPSite:
    """Serve ``runner``'s app on ``server.host`` and ``server.port`` (or ``port``)."""
    server = runner.server
    assert server is not None, "set the runner up first"
    cap_connections(server, config.server.connections_max)
    reserve_file_descriptors(config.server.connections_max)
    host = config.server.host
    warn_if_exposed(config, host)
    site = web.TCPSite(runner, host, config.server.port if port is None else port)
    await site.start()
    return site
