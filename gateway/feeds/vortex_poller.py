"""Poll Vortex quotes for the instruments in use and push them into the engine.

Every ``poll_interval_ms`` one round asks for the instruments in use (resting orders, exits,
queued market orders, open positions, subscriptions; the whole master when it is small enough to
cost one request), in batches of at most ``batch_max`` ids, through :class:`VortexClient`
(which keeps to the rate limit and retries). Quotes go to the engine's
:class:`~engine.market.pushed_quotes.PushedQuoteSource`; a round with any failed batch is recorded
as a failure (stale data, by reason), the next good round as a recovery. Ids the reply leaves out
keep their last reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from engine.actors.clock import Clock
from engine.actors.trading_engine import TradingEngine
from engine.config import VortexConfig
from engine.market.pushed_quotes import PushedQuote, PushedQuoteSource
from gateway.feeds.vortex_client import (
    ACCESS_TOKEN_ENV,
    API_KEY_ENV,
    VortexClient,
    VortexError,
    VortexIds,
    batches,
    quote_from_payload,
)

logger = logging.getLogger(__name__)


class RoundResult:
    """What one polling round did (for logs and tests)."""

    __slots__ = ("failures", "malformed", "missing", "pushed", "requested")

    def __init__(self) -> None:
        self.requested = 0
        self.pushed = 0
        self.missing = 0
        self.malformed = 0
        self.failures: list[VortexError] = []


class VortexPoller:
    """Drive :class:`VortexClient` for one engine; ``run`` until cancelled."""

    def __init__(
        self,
        engine: TradingEngine,
        source: PushedQuoteSource,
        client: VortexClient,
        config: VortexConfig,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.client = client
        self.config = config
        self.clock = clock if clock is not None else engine.clock
        self.ids = VortexIds(engine.master)

    def wanted_indices(self) -> list[int]:
        """The instruments this round asks for, in master order."""
        if len(self.engine.master) <= self.config.poll_all_instruments_max:
            return list(range(len(self.engine.master)))
        return sorted(self.engine.in_use_indices())

    async def poll_once(self) -> RoundResult:
        """Run one round over every batch and record its outcome on the source."""
        result = RoundResult()
        wanted = self.wanted_indices()
        form = self.config.id_form
        for batch in batches((self.ids.id_for(i, form) for i in wanted), self.config.batch_max):
            result.requested += len(batch)
            try:
                data = await self.client.fetch_quotes(batch)
            except VortexError as failure:
                result.failures.append(failure)
                continue
            quotes, missing, malformed = self._convert(batch, data)
            result.pushed += self.source.push(quotes)
            result.missing += missing
            result.malformed += malformed
        now = self.clock.now_ms()
        if result.failures:
            first = result.failures[0]
            self.source.record_failure(now, first.reason, first.message)
            logger.warning(
                "vortex: round failed (%d of its batches/quotes): %s: %s",
                len(result.failures),
                first.reason,
                first.message,
            )
        else:
            self.source.record_success(now, missing=result.missing, malformed=result.malformed)
        return result

    def _convert(
        self, batch: list[str], data: Mapping[str, Any]
    ) -> tuple[list[PushedQuote], int, int]:
        """Quotes for the ids in the reply; count ids left out and entries we cannot use.

        An unusable entry (unknown id, missing or non-numeric price) is skipped and counted,
        like a missing id: its instrument keeps its last reference and the round still counts.
        """
        quotes: list[PushedQuote] = []
        malformed = 0
        asked = set(batch)
        for vortex_id, payload in data.items():
            index = self.ids.index_of(vortex_id)
            if index is None or not isinstance(payload, dict):
                malformed += 1
                continue
            try:
                quotes.append(quote_from_payload(index, payload))
            except (KeyError, ValueError) as error:
                logger.debug("vortex: unusable quote for %s: %s", vortex_id, error)
                malformed += 1
        missing = len(asked - data.keys())
        return quotes, missing, malformed

    async def run(self) -> None:
        """Poll every ``poll_interval_ms`` (measured from round start) until cancelled."""
        loop = asyncio.get_running_loop()
        interval_s = self.config.poll_interval_ms / 1000
        while True:
            started = loop.time()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug must not kill the feed: record it, keep polling
                logger.exception("vortex: polling round crashed")
                self.source.record_failure(self.clock.now_ms(), "internal", repr(error))
            await asyncio.sleep(max(0.0, started + interval_s - loop.time()))


def credentials_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Read ``VORTEX_API_KEY`` and ``VORTEX_ACCESS_TOKEN``; fail loudly if either is missing."""
    env = os.environ if env is None else env
    api_key = env.get(API_KEY_ENV, "")
    access_token = env.get(ACCESS_TOKEN_ENV, "")
    if not api_key or not access_token:
        msg = f'[market] source = "vortex" needs {API_KEY_ENV} and {ACCESS_TOKEN_ENV} set'
        raise RuntimeError(msg)
    return api_key, access_token


def poller_lifecycle(
    engine: TradingEngine, source: PushedQuoteSource, config: VortexConfig
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry: open a client session, poll in a task, close both on shutdown."""
    api_key, access_token = credentials_from_env()

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            client = VortexClient(session, config, api_key=api_key, access_token=access_token)
            poller = VortexPoller(engine, source, client, config)
            task = asyncio.create_task(poller.run(), name="vortex-poller")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifecycle
