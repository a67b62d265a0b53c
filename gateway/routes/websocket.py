"""``GET /api/ws``: quotes for subscribed instruments and the user's own account updates.

Before the upgrade, a socket signed in by the session cookie must come from a page of the
server's own origin, of ``server.allowed_origins`` (pages that may sign in may open their
socket) or of ``websocket.allowed_origins``; anything else is refused with 403. The same-origin
policy does not cover websockets, and the ``SameSite=Lax`` cookie still goes with handshakes
from other origins of the same site (another port of the host, a sibling subdomain) and from
older browsers: without the check such a page could read the user's account live (cross-site
websocket hijacking). A socket signed in by a token (``?token=`` or ``Authorization``) carries
a secret no foreign page knows, so it needs no Origin check.

After the upgrade, a connection cap refuses with an error frame and close code 4429 rather than
an HTTP 429: a browser's ``WebSocket`` learns nothing of a refused handshake but code 1006,
while a frame and a close code reach every client. Each connection's inbound frames pass a token
bucket of ``inbound_frames_per_second_max``; frames past it are dropped, and one error frame per
burst says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import WSMsgType, hdrs, web

from engine.config import Config
from gateway.auth import bearer_token, current_user
from gateway.errors import error_response, validation_error
from gateway.keys import CONFIG, ENGINE, HUB, USERS
from gateway.middleware.origin_check import origin_allowed
from gateway.openapi.errors import ERROR_REF, STATUS_DESCRIPTIONS
from gateway.route_table import RouteTable
from gateway.ws_hub import LIMIT_CLOSE, WebSocketHub, WsClient, error_frame, limit_frame

routes = RouteTable()

HEARTBEAT_S = 30
MESSAGE_BYTES_MAX = 64 * 1024

# What the OpenAPI document says of the handshake, written out whole: no Struct describes it.
WEBSOCKET_OPERATION: dict[str, Any] = {
    "summary": "WebSocket: quotes and the user's own updates (docs/API.md); a browser may pass its"
    " session token as ?token=. A cookie-signed handshake must come from an allowed Origin.",
    "parameters": [
        {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "Upgrade", "in": "header", "required": True, "schema": {"const": "websocket"}},
        {"name": "Connection", "in": "header", "required": True, "schema": {"const": "Upgrade"}},
        {
            "name": "Sec-WebSocket-Version",
            "in": "header",
            "required": True,
            "schema": {"const": "13"},
        },
        {
            "name": "Sec-WebSocket-Key",
            "in": "header",
            "required": True,
            "description": "16 random bytes in base64 (RFC 6455)",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/]{22}==$"},
        },
    ],
    "responses": {
        "101": {"description": "Switching to the WebSocket protocol"},
        **{
            str(status): {
                "description": description,
                "content": {"application/json": {"schema": ERROR_REF}},
            }
            for status, description in (
                (400, "Not a websocket handshake (VALIDATION_ERROR)"),
                (401, STATUS_DESCRIPTIONS[401]),
                (403, "A cookie-signed handshake from a missing or foreign Origin (FORBIDDEN)"),
                (429, STATUS_DESCRIPTIONS[429]),
                (503, STATUS_DESCRIPTIONS[503]),
            )
        },
    },
}


class FrameBudget:
    """A token bucket for one connection's inbound frames: ``per_second_max`` a second, in
    bursts of at most as many."""

    def __init__(self, per_second_max: int, now_s: float) -> None:
        self.per_second_max = per_second_max
        self.tokens = float(per_second_max)
        self.at_s = now_s

    def allow(self, now_s: float) -> bool:
        """Take one frame's token; False when the bucket is empty."""
        refill = (now_s - self.at_s) * self.per_second_max
        self.tokens = min(float(self.per_second_max), self.tokens + refill)
        self.at_s = now_s
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def origin_refusal(request: web.Request, config: Config) -> web.Response | None:
    """The 403 for a cookie-signed handshake from a foreign page; None when it may go on."""
    if bearer_token(request) is not None or "token" in request.query:
        return None  # signed by a token, not the ambient cookie (auth_middleware's own rule)
    origin = request.headers.get(hdrs.ORIGIN)
    allowed = config.server.allowed_origins + config.websocket.allowed_origins
    # Browsers send Origin on every websocket handshake, so a cookie-signed one without it comes
    # from a non-browser client, which should sign in with a token: refusing it is the safe way.
    if origin is not None and origin_allowed(request, origin, allowed):
        return None
    return error_response(
        403,
        "FORBIDDEN",
        "A websocket signed in by cookie must come from this site's own pages: the Origin"
        " header is missing or names a site that is not allowed.",
        {"header": "Origin", "origin": origin},
    )


@routes.get("/api/ws", WEBSOCKET_OPERATION)
async def websocket(request: web.Request) -> web.StreamResponse:
    app = request.app
    limits = app[CONFIG].websocket
    refusal = origin_refusal(request, app[CONFIG])
    if refusal is not None:
        return refusal
    user = current_user(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MESSAGE_BYTES_MAX)
    if not ws.can_prepare(request).ok:  # else aiohttp answers a plain-text 400
        return validation_error("Upgrade", "expected a websocket handshake")
    await ws.prepare(request)
    hub, engine = app[HUB], app[ENGINE]
    accounts = await app[USERS].accounts_of(user.user_id)
    client = WsClient(ws, user, frozenset(accounts), limits.send_queue_max)
    over = hub.register(client)
    if over is not None:
        await refuse(ws, over, int(getattr(limits, over)))
        return ws
    client.start_pump()
    try:
        with contextlib.suppress(ConnectionError):  # the socket closed while answering
            await serve(ws, client, hub, engine, limits.inbound_frames_per_second_max)
    finally:
        hub.unregister(client)
        engine.unsubscribe(client.subscriptions)
        await client.stop_pump()
    return ws


async def refuse(ws: web.WebSocketResponse, limit: str, value: int) -> None:
    """Tell a client which connection cap it hit, then close (4429)."""
    scope = "per user" if limit == "connections_per_user_max" else "on this server"
    message = f"At most {value} websocket connections {scope}; close one or retry later."
    with contextlib.suppress(ConnectionError):
        await ws.send_str(limit_frame("RATE_LIMITED", message, limit, value))
    await ws.close(code=LIMIT_CLOSE, message=limit.encode())


async def serve(
    ws: web.WebSocketResponse,
    client: WsClient,
    hub: WebSocketHub,
    engine: Any,
    frames_per_second_max: int,
) -> None:
    """Answer the client's frames, within its frame budget, until the socket closes."""
    loop = asyncio.get_running_loop()
    budget = FrameBudget(frames_per_second_max, loop.time())
    told = False  # the client already knows frames of this burst are being dropped
    async for message in ws:
        if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        if not budget.allow(loop.time()):
            if not told:
                told = True
                text = f"At most {frames_per_second_max} frames a second; frames past it dropped."
                limit = "inbound_frames_per_second_max"
                await ws.send_str(limit_frame("RATE_LIMITED", text, limit, frames_per_second_max))
            continue
        told = False
        if message.type != WSMsgType.TEXT:
            continue
        reply = handle_frame(message.data, client, hub, engine)
        if reply is not None:
            await ws.send_str(reply)


def handle_frame(data: str, client: WsClient, hub: WebSocketHub, engine: Any) -> str | None:
    """Apply one client frame; return a direct reply, if any."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return error_frame("INVALID_JSON", "Frames must be JSON objects.")
    if not isinstance(frame, dict):
        return error_frame("VALIDATION_ERROR", "Frames must be JSON objects.")
    op = frame.get("op")
    if op == "ping":
        return orjson.dumps({"type": "pong"}).decode()
    instruments = frame.get("instruments")
    if op not in ("subscribe", "unsubscribe") or not isinstance(instruments, list):
        return error_frame(
            "VALIDATION_ERROR",
            "Expected {op: subscribe|unsubscribe|ping, instruments: [...], mode?: quote|full}",
        )
    cap = hub.subscriptions_max
    if len(instruments) > cap:
        message = f"At most {cap} instruments in one frame."
        return limit_frame("VALIDATION_ERROR", message, "subscriptions_max", cap)
    ids = [i for i in instruments if isinstance(i, str)]
    before = set(client.subscriptions)
    if op == "subscribe":
        mode = frame.get("mode", "quote")
        if mode not in ("quote", "full"):
            return error_frame("VALIDATION_ERROR", "mode must be 'quote' or 'full'.", field="mode")
        unknown, left_out, limit = hub.subscribe(client, ids, with_depth=mode == "full")
        engine.subscribe(client.subscriptions - before)
        if unknown:
            return error_frame("NOT_FOUND", f"Unknown instruments: {', '.join(unknown[:20])}")
        if left_out and limit is not None:
            return subscriptions_refused(hub, limit, left_out)
        return orjson.dumps(
            {"type": "subscribed", "data": {"count": len(client.subscriptions)}}
        ).decode()
    hub.unsubscribe(client, ids)
    engine.unsubscribe(before - client.subscriptions)
    return orjson.dumps(
        {"type": "unsubscribed", "data": {"count": len(client.subscriptions)}}
    ).decode()


def subscriptions_refused(hub: WebSocketHub, limit: str, left_out: list[str]) -> str:
    """The error frame naming the subscription cap that left instruments out, and which."""
    if limit == "subscriptions_max":
        cap, scope = hub.subscriptions_max, "per connection"
    else:
        cap, scope = hub.limits.subscriptions_per_user_max, "across your connections"
    message = f"At most {cap} subscriptions {scope}; not added: {', '.join(left_out[:20])}"
    return limit_frame("VALIDATION_ERROR", message, limit, cap)
