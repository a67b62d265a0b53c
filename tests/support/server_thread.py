"""The real server (``create_app`` on a loopback port, a real PostgreSQL database) on an event
loop of its own thread, for tests whose driver is synchronous (Hypothesis, schemathesis)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from engine.config import Config
from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import running_server

T = TypeVar("T")
START_TIMEOUT_S = 60
CALL_TIMEOUT_S = 30


class ServerThread:
    """Start the server at construction; ``base`` is its URL, ``run`` runs a coroutine on its
    loop (for clients that must share it), ``close`` stops it."""

    def __init__(self, dsn: str, master: InstrumentMaster, config: Config) -> None:
        self.base = ""
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(self._serve(dsn, master, config),),
            name="e2e-server",
            daemon=True,  # never keeps pytest alive after a failed fixture
        )
        self._thread.start()
        assert self._ready.wait(START_TIMEOUT_S), "the server did not start"
        if self._failure is not None:
            raise self._failure

    async def _serve(self, dsn: str, master: InstrumentMaster, config: Config) -> None:
        self._stop = asyncio.Event()
        try:
            async with running_server(dsn, config, master) as base:
                self.base = base
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:  # reported to the constructor's caller
            self._failure = error
            self._ready.set()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_TIMEOUT_S)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=CALL_TIMEOUT_S)
        self.loop.close()
