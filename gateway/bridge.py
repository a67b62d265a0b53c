"""The one bridge from asyncio to the actors: an account request becomes an awaitable.

The actor calls the reply on its own thread, which hands the result to the event loop with
``call_soon_threadsafe``; the persistence actor, once a batch commits, calls it on the loop's
own thread, where it resolves the awaitable at once. Nothing here ever blocks the loop, and
every ask has a timeout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from engine.actors.account_actor import BasketPreview, Outcome, Preview
from engine.actors.trading_engine import TradingEngine
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState

T = TypeVar("T")


class EngineTimeoutError(TimeoutError):
    """The engine did not answer within the ask timeout."""


class OutcomeUnknownError(EngineTimeoutError):
    """A submitted request was not answered in time: it may yet be carried out."""


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if future.done():
        return
    if isinstance(value, Exception):  # an inspect function that raised inside the actor
        future.set_exception(value)
    else:
        future.set_result(value)


class EngineBridge:
    """Awaitable access to a :class:`TradingEngine` from one event loop."""

    def __init__(self, engine: TradingEngine, timeout_s: float) -> None:
        self.engine = engine
        self.timeout_s = timeout_s

    def _reply_into(self, future: asyncio.Future[Any]) -> Callable[[Any], None]:
        loop = future.get_loop()
        loop_thread = threading.get_ident()

        def reply(value: Any) -> None:
            # A reply from the loop's own thread (the journal writer's commit in "commit"
            # durability) resolves at once; one from an actor's thread is handed over.
            if threading.get_ident() == loop_thread:
                _resolve(future, value)
            else:
                loop.call_soon_threadsafe(_resolve, future, value)

        return reply

    async def _wait(self, future: asyncio.Future[T], submitted: bool = False) -> T:
        # A timer on the future itself: ``asyncio.wait_for`` wraps every ask in more objects
        # and callbacks, a cost each request pays. A reply after the timeout finds the future
        # done and is dropped (``_resolve``).
        timer = future.get_loop().call_later(self.timeout_s, self._expire, future, submitted)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, future: asyncio.Future[Any], submitted: bool) -> None:
        if not future.done():
            error = OutcomeUnknownError if submitted else EngineTimeoutError
            future.set_exception(error(f"no answer within {self.timeout_s} s"))

    async def submit(self, account_id: str, request: cmd.AccountRequest) -> Outcome:
        """Send a request to an account and await its outcome."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.engine.submit(account_id, request, self._reply_into(future))
        return await self._wait(future, submitted=True)

    async def preview(self, account_id: str, request: cmd.PlaceOrderRequest) -> Preview:
        """Value a new order on an account as placing it would, placing nothing."""
        future: asyncio.Future[Preview] = asyncio.get_running_loop().create_future()
        self.engine.preview(account_id, request, self._reply_into(future))
        return await self._wait(future)

    async def preview_basket(
        self, account_id: str, requests: tuple[cmd.PlaceOrderRequest, ...]
    ) -> BasketPreview:
        """Value a basket of new orders on an account, each alone and all together."""
        future: asyncio.Future[BasketPreview] = asyncio.get_running_loop().create_future()
        self.engine.preview_basket(account_id, requests, self._reply_into(future))
        return await self._wait(future)

    async def inspect(self, account_id: str, fn: Callable[[AccountState], T]) -> T:
        """Run ``fn`` on an account's state inside its actor and await the result."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.engine.inspect(account_id, fn, self._reply_into(future))
        return await self._wait(future)
