"""KiteTicker served by paperdesk: Kite's market-data websocket, binary ticks and order updates,
for the unmodified ``kiteconnect`` client (docs/KITE_TICKER.md).

A client connects to the Kite listener's root with ``?api_key=…&access_token=…``. The pair is
checked before the upgrade, and refused as Kite refuses it: HTTP 403, which the client reports
through ``on_error`` and ``on_close`` (then retries, as it does at Kite). A key's
``ticker_connections_per_key_max`` + 1st connection is refused with HTTP 429 before the upgrade
for the same reason: a refused handshake is what the client surfaces as an error, whatever
frames a server might send after accepting it.

Once open, the client sends JSON text: ``{"a": "subscribe" | "unsubscribe", "v": [tokens]}`` and
``{"a": "mode", "v": ["ltp" | "quote" | "full", [tokens]]}``; a subscription starts in
``quote``, as at Kite. Each market tick, every connection gets one binary frame with a packet
per subscribed token that has a price (``gateway.kite.ticker_packets``), each packet built once
per tick whoever wants it. Malformed messages, unknown tokens and tokens past
``ticker_instruments_max`` are answered ``{"type": "error", "data": "…"}`` (the excess ignored);
nothing a client sends stops the connection. Order updates go out as ``{"type": "order",
"data": {…}}`` to every connection of the order's account.

Producers on other threads (the market actor's ticks) hand work to the loop with
``call_soon_threadsafe``. Each connection's sends go through a bounded queue drained by its own
task, which sends a one-byte heartbeat whenever nothing else went out for
``ticker_heartbeat_s``; a client whose queue is full is dropped, as ``gateway.ws_hub`` drops
one, rather than allowed to grow memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from engine.config import KiteConfig
from engine.domain.quote import DepthLevel
from engine.market.depth import MarketDepth
from engine.market.in_use import InUseInstruments
from engine.market.market_data import MarketData, MarketSnapshot
from gateway.kite.access import Authenticate, KiteAccess
from gateway.kite.ticker_packets import (
    HEARTBEAT,
    Mode,
    TickFigures,
    frame,
    is_index_token,
    ltp_packet,
    packet,
)
from gateway.kite.tokens import KiteTokens

logger = logging.getLogger(__name__)

# aiohttp's protocol-level ping, to find peers that vanished; the client answers it itself.
PING_INTERVAL_S = 30
# A subscribe of ``ticker_instruments_max`` tokens is some 30 KB; bigger messages are refused.
MESSAGE_BYTES_MAX = 1024 * 1024
TOKENS_NAMED_MAX = 20  # tokens an error message lists by number


def kite_error(status: int, message: str, error_type: str) -> web.Response:
    """An HTTP error as Kite answers one (the client sees the status of a refused upgrade)."""
    body = {"status": "error", "message": message, "data": None, "error_type": error_type}
    return web.json_response(body, status=status)


def error_message(text: str) -> str:
    """The text frame Kite sends for bad input; the client passes ``text`` to ``on_error``."""
    return orjson.dumps({"type": "error", "data": text}).decode()


def _named(tokens: list[int]) -> str:
    shown = ", ".join(str(token) for token in tokens[:TOKENS_NAMED_MAX])
    return shown + (
        f" and {len(tokens) - TOKENS_NAMED_MAX} more" if len(tokens) > TOKENS_NAMED_MAX else ""
    )


class TickerClient:
    """One KiteTicker connection: the grant it was opened with, its tokens with their modes,
    and its bounded send queue (text frames as ``str``, binary as ``bytes``)."""

    def __init__(
        self, ws: web.WebSocketResponse, access: KiteAccess, queue_max: int, heartbeat_s: float
    ) -> None:
        self.ws = ws
        self.access = access
        self.heartbeat_s = heartbeat_s
        self.modes: dict[int, Mode] = {}  # subscribed token -> its mode
        self.indices: dict[int, int] = {}  # subscribed token -> the instrument's dense index
        self.queue: asyncio.Queue[bytes | str] = asyncio.Queue(maxsize=queue_max)
        self.ended = False
        self.expiry: asyncio.TimerHandle | None = None
        self._pump: asyncio.Task[None] | None = None

    def offer(self, message: bytes | str) -> bool:
        """Queue a frame; False when the client is too slow (its queue is full)."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    def start_pump(self) -> None:
        """Start sending queued frames (and heartbeats), until :meth:`stop_pump`."""
        self._pump = asyncio.create_task(self._send_queued())

    async def stop_pump(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _send_queued(self) -> None:
        with contextlib.suppress(ConnectionError):  # the socket closed under us
            while True:
                message: bytes | str
                try:
                    async with asyncio.timeout(self.heartbeat_s):
                        message = await self.queue.get()
                except TimeoutError:
                    message = HEARTBEAT  # nothing went out for a heartbeat's interval
                if isinstance(message, str):
                    await self.ws.send_str(message)
                else:
                    await self.ws.send_bytes(message)


class TickPackets:
    """The packets of one tick, each (token, mode) built once however many clients want it;
    the book is read once per instrument, for ``quote`` (its totals) and ``full`` alike."""

    def __init__(self, market: MarketData, depth: MarketDepth, snapshot: MarketSnapshot) -> None:
        self.market = market
        self.depth = depth
        self.snapshot = snapshot
        self._packets: dict[tuple[int, Mode], bytes | None] = {}

    def get(self, token: int, index: int, mode: Mode) -> bytes | None:
        """The packet of ``token`` (at dense ``index``) in ``mode``; None while it has no price."""
        key = (token, mode)
        if key not in self._packets:
            self._packets[key] = self._build(token, index, mode)
        return self._packets[key]

    def _build(self, token: int, index: int, mode: Mode) -> bytes | None:
        snapshot = self.snapshot
        ltp = _at(snapshot.ltp, index)
        if ltp <= 0:
            return None
        if mode is Mode.LTP:
            return ltp_packet(token, ltp)
        market = self.market
        bids: list[DepthLevel] = []
        asks: list[DepthLevel] = []
        if not is_index_token(token):
            bids, asks = self.depth.book(index, snapshot)
        at_s = snapshot.at_ms // 1000
        figures = TickFigures(
            instrument_token=token,
            last_price_paise=ltp,
            # paperdesk's market prints no trades of its own: no last quantity or average.
            volume=_at(market.volume, index),  # what paperdesk's orders traded this session
            total_buy_quantity=sum(level.quantity for level in bids),  # the displayed book
            total_sell_quantity=sum(level.quantity for level in asks),
            open_paise=_at(market.day_open, index),
            high_paise=_at(market.day_high, index),
            low_paise=_at(market.day_low, index),
            close_paise=_at(market.previous_close, index),
            last_trade_time_s=at_s,  # the LTP is set anew at every tick
            exchange_time_s=at_s,
        )
        return packet(figures, mode, bids, asks)


def _at(column: npt.NDArray[np.int64], index: int) -> int:
    return int(column[index]) if index < len(column) else 0


class TickerHub:
    """KiteTicker connections: who is connected for which key and account, what each
    subscribed in which mode, and the fan-out of ticks and order updates to them."""

    def __init__(
        self,
        market: MarketData,
        depth: MarketDepth,
        in_use: InUseInstruments,
        limits: KiteConfig,
        *,
        tokens: KiteTokens,
        authenticate: Authenticate,
        send_queue_max: int,
    ) -> None:
        self.market = market
        self.depth = depth
        self.in_use = in_use
        self.limits = limits
        self.authenticate = authenticate
        self.send_queue_max = send_queue_max
        self.clients: set[TickerClient] = set()
        self._by_key: dict[str, set[TickerClient]] = {}
        self._by_account: dict[str, set[TickerClient]] = {}
        self.tokens = tokens
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Future[Any]] = set()
        self.dropped_total = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on the server's loop: ticks and order updates arrive from other threads."""
        self._loop = loop

    # -- tokens -----------------------------------------------------------------------------

    def index_of_token(self, token: int) -> int | None:
        """The dense index of the instrument with this Kite token; None if none is listed."""
        return self.tokens.index_of_token(token)

    # -- connections ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler of the ticker's websocket (the Kite listener's ``/``)."""
        api_key = request.query.get("api_key", "")
        access_token = request.query.get("access_token", "")
        access = await self.authenticate(api_key, access_token) if api_key else None
        if access is None:
            return kite_error(403, "Incorrect `api_key` or `access_token`.", "TokenException")
        ws = web.WebSocketResponse(heartbeat=PING_INTERVAL_S, max_msg_size=MESSAGE_BYTES_MAX)
        if not ws.can_prepare(request).ok:
            return kite_error(400, "Expected a websocket handshake.", "InputException")
        per_key_max = self.limits.ticker_connections_per_key_max
        if len(self._by_key.get(access.api_key, ())) >= per_key_max:
            message = f"At most {per_key_max} ticker connections per api_key; close one first."
            return kite_error(429, message, "NetworkException")
        client = TickerClient(ws, access, self.send_queue_max, self.limits.ticker_heartbeat_s)
        self._register(client)  # no await since the count: the cap holds under racing upgrades
        try:
            await ws.prepare(request)
            client.start_pump()
            with contextlib.suppress(ConnectionError):  # the socket closed while answering
                await self._serve(client)
        finally:
            self._unregister(client)
            await client.stop_pump()
        return ws

    async def _serve(self, client: TickerClient) -> None:
        async for message in client.ws:
            if client.ended:  # dropped or expired: what it still sends changes nothing
                break
            if message.type is not WSMsgType.TEXT:
                continue
            reply = self.handle_message(client, message.data)
            if reply is not None and not client.offer(reply):
                self._drop(client)

    def _register(self, client: TickerClient) -> None:
        self.clients.add(client)
        self._by_key.setdefault(client.access.api_key, set()).add(client)
        self._by_account.setdefault(client.access.account_id, set()).add(client)
        left_s = (client.access.expires_at - datetime.now(UTC)).total_seconds()
        expired = error_message("The access token expired; log in again.")
        client.expiry = asyncio.get_running_loop().call_later(
            max(left_s, 0), self._end, client, WSCloseCode.OK, "access token expired", expired
        )

    def _unregister(self, client: TickerClient) -> None:
        """Forget a client and release its subscriptions (again is harmless)."""
        if client in self.clients:
            self.clients.discard(client)
            _discard(self._by_key, client.access.api_key, client)
            _discard(self._by_account, client.access.account_id, client)
        if client.expiry is not None:
            client.expiry.cancel()
        self.in_use.unsubscribe(client.indices.values())
        client.indices.clear()
        client.modes.clear()

    def _drop(self, client: TickerClient) -> None:
        if not client.ended:
            self.dropped_total += 1
            self._end(client, WSCloseCode.POLICY_VIOLATION, "slow consumer")

    def _end(self, client: TickerClient, code: int, reason: str, text: str | None = None) -> None:
        """Stop serving a client at once; then send ``text`` (if any) and close with ``code``."""
        if client.ended:
            return
        client.ended = True
        self._unregister(client)
        closing = asyncio.ensure_future(_close(client, code, reason, text))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for client in list(self.clients):
            self._end(client, WSCloseCode.GOING_AWAY, "server shutdown")
        await asyncio.gather(*self._closing, return_exceptions=True)

    # -- client messages --------------------------------------------------------------------

    def handle_message(self, client: TickerClient, text: str) -> str | None:
        """Apply one text message of the client; return the error message to send, if any."""
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            return error_message("Invalid message: not JSON.")
        action = message.get("a") if isinstance(message, dict) else None
        value = message.get("v") if isinstance(message, dict) else None
        if action == "mode":
            if not (isinstance(value, list) and len(value) == 2):
                return error_message('Invalid mode message: expected "v": [mode, [tokens]].')
            mode_name, value = value
            if mode_name not in tuple(Mode):
                return error_message(f"Invalid mode {mode_name!r}: expected ltp, quote or full.")
        elif action not in ("subscribe", "unsubscribe"):
            return error_message('Invalid message: "a" must be subscribe, unsubscribe or mode.')
        if not isinstance(value, list) or not all(_is_token(token) for token in value):
            return error_message("Invalid message: tokens must be a list of integers.")
        if action == "subscribe":
            return self.subscribe(client, value)
        if action == "unsubscribe":
            self.unsubscribe(client, value)
            return None
        self.set_mode(client, Mode(mode_name), value)
        return None

    def subscribe(self, client: TickerClient, tokens: list[int]) -> str | None:
        """Subscribe to ``tokens`` in ``quote`` mode (a token already subscribed is set back to
        ``quote``, as the client records it); return the error naming tokens left out."""
        unknown: list[int] = []
        left_out: list[int] = []
        added: dict[int, int] = {}
        cap = self.limits.ticker_instruments_max
        for token in dict.fromkeys(tokens):
            index = self.index_of_token(token)
            if index is None:
                unknown.append(token)
            elif token in client.modes:
                client.modes[token] = Mode.QUOTE
            elif len(client.modes) >= cap:
                left_out.append(token)
            else:
                client.modes[token] = Mode.QUOTE
                client.indices[token] = added[token] = index
        self.in_use.subscribe(added.values())
        self._send_now(client, list(added))
        errors = []
        if left_out:
            errors.append(
                f"At most {cap} instruments per connection; not subscribed: {_named(left_out)}."
            )
        if unknown:
            errors.append(f"Unknown instrument tokens, not subscribed: {_named(unknown)}.")
        return error_message(" ".join(errors)) if errors else None

    def unsubscribe(self, client: TickerClient, tokens: list[int]) -> None:
        """Stop the ticks of ``tokens`` (tokens not subscribed are ignored)."""
        removed = [client.indices.pop(token) for token in tokens if token in client.indices]
        for token in tokens:
            client.modes.pop(token, None)
        self.in_use.unsubscribe(removed)

    def set_mode(self, client: TickerClient, mode: Mode, tokens: list[int]) -> None:
        """Set the mode of subscribed ``tokens`` (others are ignored: mode does not subscribe)."""
        changed = [token for token in tokens if token in client.modes]
        for token in changed:
            client.modes[token] = mode
        self._send_now(client, changed)

    def _send_now(self, client: TickerClient, tokens: list[int]) -> None:
        """Send the latest tick of ``tokens`` at once, as Kite does on subscribe and mode,
        rather than leave the client waiting for the next tick."""
        if not tokens:
            return
        packets = TickPackets(self.market, self.depth, self.market.snapshot)
        found = (packets.get(token, client.indices[token], client.modes[token]) for token in tokens)
        ready = [one for one in found if one is not None]
        if ready and not client.offer(frame(ready)):
            self._drop(client)

    # -- ticks (market thread -> loop) ------------------------------------------------------

    def on_tick(self, snapshot: MarketSnapshot) -> None:
        """A tick listener of the engine (``engine.tick_listeners``): fan out on the loop."""
        loop = self._loop
        if loop is not None and self.clients:
            loop.call_soon_threadsafe(self._fan_out, snapshot)

    def _fan_out(self, snapshot: MarketSnapshot) -> None:
        packets = TickPackets(self.market, self.depth, snapshot)
        for client in list(self.clients):
            found = (
                packets.get(token, client.indices[token], mode)
                for token, mode in client.modes.items()
            )
            ready = [one for one in found if one is not None]
            if ready and not client.offer(frame(ready)):
                self._drop(client)

    # -- order updates ----------------------------------------------------------------------

    def watches(self, account_id: str) -> bool:
        """Whether a connection of this account is open (read from the account's thread: a
        stale answer costs one update built for nobody, or one missed as a socket opens)."""
        return account_id in self._by_account

    def on_order(self, account_id: str, data: dict[str, Any]) -> None:
        """Send an order's Kite dict to every ticker connection of its account, as the text
        message ``{"type": "order", "data": data}`` (from the loop or, handed over, any thread).
        """
        loop = self._loop
        if loop is None or account_id not in self._by_account:
            return
        text = orjson.dumps({"type": "order", "data": data}).decode()  # fails in the caller
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(account_id, text)
        else:
            loop.call_soon_threadsafe(self._deliver, account_id, text)

    def _deliver(self, account_id: str, text: str) -> None:
        for client in list(self._by_account.get(account_id, ())):
            if not client.offer(text):
                self._drop(client)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF_FFFF


def _discard(index: dict[str, set[TickerClient]], key: str, client: TickerClient) -> None:
    clients = index.get(key)
    if clients is not None:
        clients.discard(client)
        if not clients:
            del index[key]


async def _close(client: TickerClient, code: int, reason: str, text: str | None) -> None:
    await client.stop_pump()  # nothing queued goes out after the message that says why
    if text is not None:
        with contextlib.suppress(ConnectionError):  # the peer may be gone already
            await client.ws.send_str(text)
    await client.ws.close(code=code, message=reason.encode())
