"""The websocket hub: quotes at every tick for what each client subscribed to, and each user's
own order, position and funds changes as they happen.

Producers live on other threads (the market actor, account actors); they hand work to the
event loop with ``call_soon_threadsafe``. Each client has a bounded send queue drained by its
own task; a client whose queue is full is disconnected rather than allowed to grow memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import WSCloseCode, web

from engine import events as ev
from engine.account import AccountState
from engine.instruments import InstrumentMaster
from engine.market_data import MarketData, MarketSnapshot
from engine.money import paise_to_rupees
from gateway.views import funds_view, iso_ms, order_change, position_view, unrealized_paise

logger = logging.getLogger(__name__)


class WsClient:
    """One connected websocket and what it watches."""

    def __init__(
        self, ws: web.WebSocketResponse, account_ids: frozenset[str], queue_max: int
    ) -> None:
        self.ws = ws
        self.account_ids = account_ids
        self.subscriptions: set[int] = set()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_max)
        self.dropped = False

    def offer(self, message: bytes) -> bool:
        """Queue a message; False when the client is too slow (its queue is full)."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    async def pump(self) -> None:
        """Send queued messages until the socket closes."""
        while True:
            message = await self.queue.get()
            await self.ws.send_str(message.decode())  # JSON goes out as text frames


class WebSocketHub:
    """Fans quotes and account updates out to connected clients."""

    def __init__(
        self,
        market: MarketData,
        master: InstrumentMaster,
        send_queue_max: int,
        subscriptions_max: int,
    ) -> None:
        self.market = market
        self.master = master
        self.send_queue_max = send_queue_max
        self.subscriptions_max = subscriptions_max
        self.clients: set[WsClient] = set()
        self._by_account: dict[str, set[WsClient]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Future[Any]] = set()
        self.dropped_total = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # -- clients ----------------------------------------------------------------------------

    def register(self, client: WsClient) -> None:
        self.clients.add(client)
        for account_id in client.account_ids:
            self._by_account.setdefault(account_id, set()).add(client)

    def unregister(self, client: WsClient) -> None:
        self.clients.discard(client)
        for account_id in client.account_ids:
            watchers = self._by_account.get(account_id)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self._by_account[account_id]

    def subscribe(self, client: WsClient, ids: list[str]) -> tuple[list[str], list[str]]:
        """Subscribe to instruments; return the ids that are unknown and those left out
        because the client already has ``subscriptions_max``."""
        unknown, left_out = [], []
        for key in ids:
            index = self.master.index_of(key)
            if index is None:
                unknown.append(key)
            elif index in client.subscriptions:
                continue
            elif len(client.subscriptions) < self.subscriptions_max:
                client.subscriptions.add(index)
            else:
                left_out.append(key)
        return unknown, left_out

    def unsubscribe(self, client: WsClient, ids: list[str]) -> None:
        for key in ids:
            index = self.master.index_of(key)
            if index is not None:
                client.subscriptions.discard(index)

    def _drop(self, client: WsClient) -> None:
        if client.dropped:
            return
        client.dropped = True
        self.dropped_total += 1
        self.unregister(client)
        closing = asyncio.ensure_future(
            client.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"slow consumer")
        )
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        for client in list(self.clients):
            self.unregister(client)
            with contextlib.suppress(Exception):
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    # -- quotes (market thread -> loop) -----------------------------------------------------

    def on_tick(self, snapshot: MarketSnapshot) -> None:
        loop = self._loop
        if loop is not None and self.clients:
            loop.call_soon_threadsafe(self._fan_out_quotes, snapshot)

    def _fan_out_quotes(self, snapshot: MarketSnapshot) -> None:
        encoded: dict[int, bytes] = {}
        for client in list(self.clients):
            for index in client.subscriptions:
                message = encoded.get(index)
                if message is None:
                    message = encoded[index] = self._quote_message(snapshot, index)
                if not client.offer(message):
                    self._drop(client)
                    break

    def _quote_message(self, snapshot: MarketSnapshot, index: int) -> bytes:
        ltp = int(snapshot.ltp[index])
        close = int(self.market.previous_close[index])
        return orjson.dumps(
            {
                "type": "quote",
                "data": {
                    "instrumentId": self.master.at(index).instrument_id,
                    "ltp": paise_to_rupees(ltp),
                    "bid": paise_to_rupees(int(snapshot.bid[index])),
                    "ask": paise_to_rupees(int(snapshot.ask[index])),
                    "change": paise_to_rupees(ltp - close) if ltp else 0.0,
                    "timestamp": iso_ms(snapshot.at_ms),
                },
            }
        )

    # -- account updates (account actor thread -> loop) ------------------------------------

    def on_account_events(
        self, account_id: str, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> None:
        """Called inside the account's actor turn: build the payloads from consistent state."""
        loop = self._loop
        if loop is None or account_id not in self._by_account:
            return
        messages = [orjson.dumps(m) for m in self._account_messages(events, state)]
        loop.call_soon_threadsafe(self._deliver, account_id, messages)

    def _account_messages(
        self, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        positions: set[str] = set()
        for event in events:
            change = order_change(event, state, self.master)
            if change is not None:
                messages.append({"type": "order", "data": change})
            if isinstance(event, ev.OrderFilled | ev.PositionRiskSet) and event.position_id:
                positions.add(event.position_id)
        for position_id in positions:
            position = state.positions.get(position_id)
            if position is not None:
                data = position_view(position, state.account_id, self.master, self.market)
            else:
                data = {"id": position_id, "tradingAccountId": state.account_id, "status": "CLOSED"}
            messages.append({"type": "position", "data": data})
        unrealized = unrealized_paise(state, self.master, self.market)
        funds = funds_view(state, unrealized) | {"tradingAccountId": state.account_id}
        messages.append({"type": "funds", "data": funds})
        return messages

    def _deliver(self, account_id: str, messages: list[bytes]) -> None:
        for client in list(self._by_account.get(account_id, ())):
            for message in messages:
                if not client.offer(message):
                    self._drop(client)
                    break
