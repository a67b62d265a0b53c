"""``GET /api/ws``: quotes for subscribed instruments and the user's own account updates."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from gateway.auth import current_user
from gateway.keys import CONFIG, ENGINE, HUB, USERS
from gateway.ws_hub import WsClient

routes = web.RouteTableDef()

HEARTBEAT_S = 30
MESSAGE_BYTES_MAX = 64 * 1024


def _error(code: str, message: str) -> str:
    return orjson.dumps({"type": "error", "data": {"code": code, "message": message}}).decode()


@routes.get("/api/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    user = current_user(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MESSAGE_BYTES_MAX)
    await ws.prepare(request)
    app = request.app
    hub = app[HUB]
    engine = app[ENGINE]
    accounts = await app[USERS].accounts_of(user.user_id)
    client = WsClient(ws, frozenset(accounts), app[CONFIG].websocket.send_queue_max)
    hub.register(client)
    pump = asyncio.create_task(client.pump())
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            reply = handle_frame(message.data, client, hub, engine)
            if reply is not None:
                await ws.send_str(reply)
    finally:
        hub.unregister(client)
        engine.unsubscribe(client.subscriptions)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    return ws


def handle_frame(data: str, client: WsClient, hub: Any, engine: Any) -> str | None:
    """Apply one client frame; return a direct reply, if any."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _error("INVALID_JSON", "Frames must be JSON objects.")
    if not isinstance(frame, dict):
        return _error("VALIDATION_ERROR", "Frames must be JSON objects.")
    op = frame.get("op")
    if op == "ping":
        return orjson.dumps({"type": "pong"}).decode()
    instruments = frame.get("instruments")
    if op not in ("subscribe", "unsubscribe") or not isinstance(instruments, list):
        return _error(
            "VALIDATION_ERROR", "Expected {op: subscribe|unsubscribe|ping, instruments: [...]}"
        )
    if len(instruments) > hub.subscriptions_max:
        return _error(
            "VALIDATION_ERROR", f"At most {hub.subscriptions_max} instruments in one frame."
        )
    ids = [i for i in instruments if isinstance(i, str)]
    before = set(client.subscriptions)
    if op == "subscribe":
        unknown, left_out = hub.subscribe(client, ids)
        engine.subscribe(client.subscriptions - before)
        if unknown:
            return _error("NOT_FOUND", f"Unknown instruments: {', '.join(unknown[:20])}")
        if left_out:
            return _error(
                "VALIDATION_ERROR",
                f"At most {hub.subscriptions_max} subscriptions per connection; not added:"
                f" {', '.join(left_out[:20])}",
            )
        return orjson.dumps(
            {"type": "subscribed", "data": {"count": len(client.subscriptions)}}
        ).decode()
    hub.unsubscribe(client, ids)
    engine.unsubscribe(before - client.subscriptions)
    return orjson.dumps(
        {"type": "unsubscribed", "data": {"count": len(client.subscriptions)}}
    ).decode()
