"""``/metrics`` on a listener of its own (``[metrics]``), never on the public one.

The figures (accounts, counters, journal lag, request rates by route) are for the operator's
Prometheus, not for the internet. As exporters do, they are served on their own port, on
loopback by default; when ``PAPERDESK_METRICS_TOKEN`` is set, a scrape must also carry
``Authorization: Bearer <token>`` (Prometheus' ``authorization`` setting), which a listener
reachable beyond this machine should require.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from yarl import URL

from engine.config import MetricsConfig
from gateway.errors import error_response
from gateway.listener import is_loopback
from gateway.middleware.security_headers import security_headers
from gateway.observability.metrics import Metrics

logger = logging.getLogger(__name__)

METRICS_TOKEN_ENV = "PAPERDESK_METRICS_TOKEN"
METRICS_PATH = "/metrics"


class MetricsListener:
    """Serves ``metrics`` while the main app runs; ``url`` says where (None when disabled)."""

    def __init__(self, metrics: Metrics, config: MetricsConfig, token: str | None) -> None:
        self.metrics = metrics
        self.config = config
        self.token = token or None
        self.url: str | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.token is not None:
            header = request.headers.get("Authorization", "")
            sent = header[7:].strip() if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(sent.encode(), self.token.encode()):
                return error_response(
                    401,
                    "UNAUTHENTICATED",
                    "Scrapes need the metrics token as a bearer token.",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return await self.metrics.handle(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(METRICS_PATH, self.handle)
        app.on_response_prepare.append(security_headers)
        return app

    async def lifecycle(self, _: web.Application) -> AsyncIterator[None]:
        """Listen beside the main app (a ``cleanup_ctx``); a port that is taken stops start-up."""
        config = self.config
        if not config.enabled:
            logger.info("metrics are disabled ([metrics] enabled = false)")
            yield
            return
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, config.host, config.port)
            await site.start()
            host = config.host or "0.0.0.0"
            self.url = str(URL.build(scheme="http", host=host, port=site.port, path=METRICS_PATH))
            logger.info("Prometheus metrics at %s", self.url)
            if not is_loopback(config.host) and self.token is None:
                logger.warning(
                    "metrics listen on %s (not loopback) without a token: set %s",
                    config.host,
                    METRICS_TOKEN_ENV,
                )
            yield
        finally:
            self.url = None
            await runner.cleanup()
