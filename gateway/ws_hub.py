"""The websocket hub: quotes at every tick for what each client subscribed to, and each user's
own order, position and funds changes as they happen; a ``full``-mode subscription's quotes
carry the instrument's book.

Producers live on other threads (the market actor, account actors); they hand work to the
event loop with ``call_soon_threadsafe``. Each client has a bounded send queue drained by its
own task; a client whose queue is full is disconnected rather than allowed to grow memory.

A socket lives no longer than its session: logout and revocation in this process close it at
once (the session store tells the hub), expiry closes it on time (a timer per client), and a
check every ``websocket.session_check_interval_s`` closes those whose session ended elsewhere.
Connections (per user, per server) and subscriptions (per connection, per user) are capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSCloseCode, web

from engine.config import WebSocketConfig
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.instruments import InstrumentMaster
from engine.domain.money import paise_to_rupees
from engine.domain.parameters import RiskConfig
from engine.market.depth import MarketDepth
from engine.market.market_data import MarketData, MarketSnapshot
from gateway.depth_views import depth_view
from gateway.gtt_views import gtt_change
from gateway.identity.sessions import SessionEnd, SessionStore, SessionUser
from gateway.option_views import greeks_view
from gateway.outbox import Outbox
from gateway.views import (
    funds_view,
    iso_ms,
    margin_call_view,
    marks_of,
    order_change,
    position_view,
)
from persistence.gtt_rows import GTT_EVENTS

logger = logging.getLogger(__name__)

# Application close codes (4000-4999), after the HTTP status a request would get instead.
SESSION_ENDED_CLOSE = 4401  # the session ended: sign in again before reconnecting
LIMIT_CLOSE = 4429  # a connection cap refused the socket: retry later, or close another socket

SESSION_ENDED_MESSAGES = {
    SessionEnd.LOGOUT: "The session was signed out.",
    SessionEnd.REVOKED: "The session was revoked (a password change or a sign-out elsewhere).",
    SessionEnd.EXPIRED: "The session expired; sign in again.",
}


def error_frame(code: str, message: str, **details: Any) -> str:
    """An error frame (docs/API.md): ``{"type": "error", "data": {code, message, ...details}}``."""
    data = {"code": code, "message": message} | details
    return orjson.dumps({"type": "error", "data": data}).decode()


def limit_frame(code: str, message: str, limit: str, value: int) -> str:
    """An error frame naming the ``[websocket]`` limit that was reached and its value."""
    return error_frame(code, message, limit=f"websocket.{limit}", max=value)


class WsClient(Outbox):
    """One connected websocket, the session it lives on, what it watches, and its frames
    waiting to go out (JSON text)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: SessionUser,
        account_ids: frozenset[str],
        queue_max: int,
    ) -> None:
        super().__init__(ws, queue_max)
        self.user_id = session.user_id
        self.token_hash = session.token_hash
        self.expires_at = session.expires_at
        self.account_ids = account_ids
        self.subscriptions: set[int] = set()
        self.with_depth: set[int] = set()  # subscribed in ``full`` mode: quotes carry the book
        self.ended = False
        self.expiry: asyncio.TimerHandle | None = None


class WebSocketHub:
    """Fans quotes and account updates out to connected clients, within the configured caps."""

    def __init__(
        self,
        market: MarketData,
        depth: MarketDepth,
        master: InstrumentMaster,
        limits: WebSocketConfig,
        risk: RiskConfig,
    ) -> None:
        self.market = market
        self.depth = depth
        self.master = master
        self.risk = risk
        self.limits = limits
        self.subscriptions_max = limits.subscriptions_max
        self.clients: set[WsClient] = set()
        self._by_account: dict[str, set[WsClient]] = {}
        self._by_user: dict[str, set[WsClient]] = {}
        self._by_session: dict[str, set[WsClient]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Future[Any]] = set()
        self._sessions: SessionStore | None = None
        self._session_checks: asyncio.Task[None] | None = None
        self.dropped_total = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start on the server's loop (from inside it): deliveries, and the session checks."""
        self._loop = loop
        if self._sessions is not None and self._session_checks is None:
            self._session_checks = loop.create_task(self._check_sessions_forever())

    def watch_sessions(self, sessions: SessionStore) -> None:
        """Close each socket when its session ends: at once when this process ends it, and
        within ``session_check_interval_s`` when it ends elsewhere (another process, the DB)."""
        self._sessions = sessions
        sessions.listeners.append(self.end_sessions)

    # -- clients ----------------------------------------------------------------------------

    def register(self, client: WsClient) -> str | None:
        """Admit a client, or return the name of the connection cap it would pass (and admit
        nothing). Call from the loop: the client's session expiry is timed on it."""
        if len(self._by_user.get(client.user_id, ())) >= self.limits.connections_per_user_max:
            return "connections_per_user_max"
        if len(self.clients) >= self.limits.connections_max:
            return "connections_max"
        self.clients.add(client)
        self._by_user.setdefault(client.user_id, set()).add(client)
        self._by_session.setdefault(client.token_hash, set()).add(client)
        for account_id in client.account_ids:
            self._by_account.setdefault(account_id, set()).add(client)
        left_s = (client.expires_at - datetime.now(UTC)).total_seconds()
        client.expiry = asyncio.get_running_loop().call_later(
            max(left_s, 0), self.end_sessions, (client.token_hash,), SessionEnd.EXPIRED
        )
        return None

    def unregister(self, client: WsClient) -> None:
        """Forget a client (again is harmless)."""
        self.clients.discard(client)
        if client.expiry is not None:
            client.expiry.cancel()
        _discard(self._by_user, client.user_id, client)
        _discard(self._by_session, client.token_hash, client)
        for account_id in client.account_ids:
            _discard(self._by_account, account_id, client)

    def subscriptions_of_user(self, user_id: str) -> int:
        return sum(len(client.subscriptions) for client in self._by_user.get(user_id, ()))

    def subscribe(
        self, client: WsClient, ids: list[str], *, with_depth: bool = False
    ) -> tuple[list[str], list[str], str | None]:
        """Subscribe to instruments, their quotes with the book when ``with_depth`` (``full``
        mode; subscribing again changes the mode); return the ids that are unknown, those
        left out by a subscription cap, and the name of the first cap that left one out."""
        unknown: list[str] = []
        left_out: list[str] = []
        limit: str | None = None
        user_total = self.subscriptions_of_user(client.user_id)
        for key in ids:
            index = self.master.index_of(key)
            if index is None:
                unknown.append(key)
                continue
            if index in client.subscriptions:
                _set_mode(client, index, with_depth)
                continue
            over = None
            if len(client.subscriptions) >= self.subscriptions_max:
                over = "subscriptions_max"
            elif user_total >= self.limits.subscriptions_per_user_max:
                over = "subscriptions_per_user_max"
            if over is None:
                client.subscriptions.add(index)
                _set_mode(client, index, with_depth)
                user_total += 1
            else:
                left_out.append(key)
                limit = limit or over
        return unknown, left_out, limit

    def unsubscribe(self, client: WsClient, ids: list[str]) -> None:
        for key in ids:
            index = self.master.index_of(key)
            if index is not None:
                client.subscriptions.discard(index)
                client.with_depth.discard(index)

    def _drop(self, client: WsClient) -> None:
        if not client.ended:
            self.dropped_total += 1
            self._end(client, WSCloseCode.POLICY_VIOLATION, "slow consumer")

    def _end(self, client: WsClient, code: int, reason: str, frame: str | None = None) -> None:
        """Stop serving a client at once; then send ``frame`` (if any) and close with ``code``."""
        if client.ended:
            return
        client.ended = True
        self.unregister(client)
        closing = asyncio.ensure_future(_close(client, code, reason, frame))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        if self._session_checks is not None:
            self._session_checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._session_checks
        for client in list(self.clients):
            self._end(client, WSCloseCode.GOING_AWAY, "server shutdown")
        await asyncio.gather(*self._closing, return_exceptions=True)

    # -- sessions ---------------------------------------------------------------------------

    def end_sessions(self, hashes: Sequence[str], reason: SessionEnd) -> None:
        """Tell every socket of these sessions why it ends, then close it (4401)."""
        frame = error_frame("SESSION_ENDED", SESSION_ENDED_MESSAGES[reason], reason=reason.value)
        for hashed in hashes:
            for client in list(self._by_session.get(hashed, ())):
                self._end(client, SESSION_ENDED_CLOSE, f"session ended: {reason.value}", frame)

    async def check_sessions(self) -> None:
        """Close the sockets whose session ended where this process could not see it."""
        if self._sessions is None or not self._by_session:
            return
        ended = await self._sessions.ended_among(list(self._by_session))
        for hashed, reason in ended.items():
            self.end_sessions((hashed,), reason)

    async def _check_sessions_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.session_check_interval_s)
            try:
                await self.check_sessions()
            except Exception:
                # A database outage must not disconnect everyone; logout and expiry in this
                # process still close sockets, and the next check catches up.
                logger.warning("websocket session check failed", exc_info=True)

    # -- quotes (market thread -> loop) -----------------------------------------------------

    def on_tick(self, snapshot: MarketSnapshot) -> None:
        loop = self._loop
        if loop is not None and self.clients:
            loop.call_soon_threadsafe(self._fan_out_quotes, snapshot)

    def _fan_out_quotes(self, snapshot: MarketSnapshot) -> None:
        encoded: dict[tuple[int, bool], str] = {}
        for client in list(self.clients):
            for index in client.subscriptions:
                key = (index, index in client.with_depth)
                message = encoded.get(key)
                if message is None:
                    message = encoded[key] = self._quote_message(snapshot, *key)
                if not client.offer(message):
                    self._drop(client)
                    break

    def _quote_message(self, snapshot: MarketSnapshot, index: int, with_depth: bool) -> str:
        ltp = int(snapshot.ltp[index])
        close = int(self.market.previous_close[index])
        instrument = self.master.at(index)
        data: dict[str, Any] = {
            "instrumentId": instrument.instrument_id,
            "ltp": paise_to_rupees(ltp),
            "bid": paise_to_rupees(int(snapshot.bid[index])),
            "ask": paise_to_rupees(int(snapshot.ask[index])),
            "change": paise_to_rupees(ltp - close) if ltp else 0.0,
            "timestamp": iso_ms(snapshot.at_ms),
        }
        if instrument.is_option:  # an option chain stays live on quote frames alone
            data |= greeks_view(snapshot, index)
        if with_depth:
            data["depth"] = depth_view(self.depth, index, snapshot)
        return orjson.dumps({"type": "quote", "data": data}).decode()  # a text frame

    # -- account updates (account actor thread -> loop) ------------------------------------

    def on_account_events(
        self, account_id: str, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> Callable[[], None] | None:
        """Called inside the account's actor turn: build the payloads from consistent state,
        and return their delivery, which the actor runs once the events are durable (None when
        nobody watches the account)."""
        loop = self._loop
        if loop is None or account_id not in self._by_account:
            return None
        messages = [orjson.dumps(m).decode() for m in self._account_messages(events, state)]

        def deliver() -> None:
            loop.call_soon_threadsafe(self._deliver, account_id, messages)

        return deliver

    def _account_messages(
        self, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        positions: dict[str, str] = {}  # position id -> why its last fill closed it
        for event in events:
            change = order_change(event, state, self.master)
            if change is not None:
                messages.append({"type": "order", "data": change})
            if isinstance(event, ev.OrderFilled) and event.position_id:
                positions[event.position_id] = event.close_reason or "CLOSED"
            elif isinstance(event, ev.PositionRiskSet) and event.position_id:
                positions.setdefault(event.position_id, "CLOSED")
            elif isinstance(event, ev.PositionConverted):
                positions[event.position_id] = "CONVERTED"
                positions[event.target_position_id] = "CONVERTED"
            elif isinstance(event, ev.ExpiryMarginBlocked):
                for block in event.blocks:
                    positions.setdefault(block.position_id, "CLOSED")
            elif isinstance(event, ev.FuturesSettled):
                for settlement in event.settlements:
                    positions.setdefault(settlement.position_id, "CLOSED")
            elif isinstance(event, ev.MarginCalled | ev.MarginCallMet):
                messages.append({"type": "marginCall", "data": margin_call_view(event, state)})
            elif isinstance(event, GTT_EVENTS):
                messages.append({"type": "gtt", "data": gtt_change(event, state, self.master)})
        for position_id, reason in positions.items():
            position = state.positions.get(position_id)
            if position is not None:
                data = position_view(position, state.account_id, self.master, self.market)
            else:
                data = {
                    "id": position_id,
                    "tradingAccountId": state.account_id,
                    "status": "CLOSED",
                    "closeReason": reason,
                }
            messages.append({"type": "position", "data": data})
        marks = marks_of(state, self.master, self.market, self.risk)
        funds = funds_view(state, marks) | {"tradingAccountId": state.account_id}
        messages.append({"type": "funds", "data": funds})
        return messages

    def _deliver(self, account_id: str, messages: list[str]) -> None:
        for client in list(self._by_account.get(account_id, ())):
            for message in messages:
                if not client.offer(message):
                    self._drop(client)
                    break


def _discard(index: dict[str, set[WsClient]], key: str, client: WsClient) -> None:
    clients = index.get(key)
    if clients is not None:
        clients.discard(client)
        if not clients:
            del index[key]


async def _close(client: WsClient, code: int, reason: str, frame: str | None) -> None:
    await client.stop_pump()  # nothing queued goes out after the frame that says why
    if frame is not None:
        with contextlib.suppress(ConnectionError):  # the peer may be gone already
            await client.ws.send_str(frame)
    await client.ws.close(code=code, message=reason.encode())


def _set_mode(client: WsClient, index: int, with_depth: bool) -> None:
    if with_depth:
        client.with_depth.add(index)
    else:
        client.with_depth.discard(index)
