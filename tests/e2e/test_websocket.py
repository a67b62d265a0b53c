"""The websocket over a real server: quotes at each tick for what a client subscribed to (with
the book in ``full`` mode), the user's own order/position/funds updates as they happen (and
nobody else's), errors for bad frames, and authentication like HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import e2e_config, run_scenario
from tests.e2e.test_trading_journey import RELIANCE, funded_user, order_body


async def next_of(
    ws: aiohttp.ClientWebSocketResponse, kind: str, timeout_s: float = 10
) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind:
                return message

    return await asyncio.wait_for(wait(), timeout_s)


async def until_closed(
    ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 10
) -> tuple[list[dict[str, Any]], int | None]:
    """Read until the server closes the socket; return the error frames and the close code."""

    async def read() -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                return errors
            frame = json.loads(message.data)
            if frame["type"] == "error":
                errors.append(frame["data"])

    errors = await asyncio.wait_for(read(), timeout_s)
    return errors, ws.close_code


async def answers_ping(ws: aiohttp.ClientWebSocketResponse) -> bool:
    await ws.send_json({"op": "ping"})
    pong = await next_of(ws, "pong", 5)
    return bool(pong["type"] == "pong")


def test_websocket_when_subscribed_and_trading_then_quotes_and_own_updates(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "ws@paperdesk.test", 100_000)
        other, _ = await funded_user(session, base, "other@paperdesk.test", 100_000)
        token = user.headers["Authorization"].removeprefix("Bearer ")
        other_token = other.headers["Authorization"].removeprefix("Bearer ")
        ws_url = base.replace("http", "ws") + "/api/ws"
        async with (
            session.ws_connect(f"{ws_url}?token={token}") as ws,
            session.ws_connect(f"{ws_url}?token={other_token}") as other_ws,
        ):
            await ws.send_json({"op": "ping"})
            assert (await next_of(ws, "pong"))["type"] == "pong"
            await ws.send_json({"op": "subscribe", "instruments": [RELIANCE, "NSE:TCS"]})
            assert (await next_of(ws, "subscribed"))["data"]["count"] == 2
            quotes = {(await next_of(ws, "quote"))["data"]["instrumentId"] for _ in range(6)}
            assert RELIANCE in quotes
            quote = (await next_of(ws, "quote"))["data"]
            assert quote["bid"] < quote["ask"] and quote["timestamp"].endswith("Z")
            assert "depth" not in quote, "the book only in full mode"

            await ws.send_json({"op": "subscribe", "instruments": [RELIANCE], "mode": "deep"})
            error = (await next_of(ws, "error"))["data"]
            assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "mode")
            await ws.send_json({"op": "subscribe", "instruments": [RELIANCE], "mode": "full"})
            assert (await next_of(ws, "subscribed"))["data"]["count"] == 2
            deep = (await next_of(ws, "quote"))["data"]
            while deep["instrumentId"] != RELIANCE:
                deep = (await next_of(ws, "quote"))["data"]
            assert len(deep["depth"]["buy"]) == len(deep["depth"]["sell"]) == 5
            assert deep["depth"]["sell"][0]["price"] == deep["ask"]

            await ws.send_json({"op": "subscribe", "instruments": ["NSE:NOPE"]})
            assert (await next_of(ws, "error"))["data"]["code"] == "NOT_FOUND"
            await ws.send_str("{not json")
            assert (await next_of(ws, "error"))["data"]["code"] == "INVALID_JSON"
            await ws.send_json({"op": "unsubscribe", "instruments": [RELIANCE, "NSE:TCS"]})
            assert (await next_of(ws, "unsubscribed"))["data"]["count"] == 0

            status, placed, _ = await user.call(
                "POST", "/api/trading/orders", order_body(account_id)
            )
            assert status == 200
            order = await next_of(ws, "order")
            assert order["data"]["id"] == placed["order"]["id"]
            funds = await next_of(ws, "funds")
            assert funds["data"]["tradingAccountId"] == account_id
            position = await next_of(ws, "position")
            assert position["data"]["quantity"] == 10
            assert position["data"]["status"] == "OPEN"

            # The other user sees none of it.
            with_timeout = asyncio.wait_for(next_of(other_ws, "order"), 0.5)
            try:
                await with_timeout
                raise AssertionError("another user's order reached this socket")
            except TimeoutError:
                pass

        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.get(base + "/api/ws") as response,
        ):
            assert response.status == 401  # no session: refused like HTTP

    run_scenario(database, master, scenario)


def test_websocket_when_subscriptions_past_the_cap_then_error_names_what_was_left_out(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, _ = await funded_user(session, base, "capped@paperdesk.test", 1_000)
        token = user.headers["Authorization"].removeprefix("Bearer ")
        async with session.ws_connect(f"{base.replace('http', 'ws')}/api/ws?token={token}") as ws:
            await ws.send_json({"op": "subscribe", "instruments": [RELIANCE, "NSE:TCS"]})
            assert (await next_of(ws, "subscribed"))["data"]["count"] == 2
            await ws.send_json({"op": "subscribe", "instruments": [RELIANCE, "NSE:INFY"]})
            error = (await next_of(ws, "error"))["data"]
            assert error["code"] == "VALIDATION_ERROR"
            assert error["message"].endswith("not added: NSE:INFY")  # RELIANCE was already in
            assert (error["limit"], error["max"]) == ("websocket.subscriptions_max", 2)
            await ws.send_json({"op": "subscribe", "instruments": ["NSE:INFY"] * 3})
            error = (await next_of(ws, "error"))["data"]
            assert error["message"] == "At most 2 instruments in one frame."
            await ws.send_json({"op": "unsubscribe", "instruments": ["NSE:TCS"]})
            assert (await next_of(ws, "unsubscribed"))["data"]["count"] == 1
            await ws.send_json({"op": "subscribe", "instruments": ["NSE:INFY"]})
            assert (await next_of(ws, "subscribed"))["data"]["count"] == 2

    run_scenario(database, master, scenario, e2e_config(websocket={"subscriptions_max": 2}))
