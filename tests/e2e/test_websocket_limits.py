"""Every websocket bound is a named ``[websocket]`` limit, enforced over a real server: open
sockets per user (``connections_per_user_max``) and per server (``connections_max``) refuse the
next socket with an error frame naming the limit and close code 4429, and free their slot when a
socket closes; a connection's frames past ``inbound_frames_per_second_max`` are dropped with an
error frame naming it; and instruments followed across all of a user's sockets stop at
``subscriptions_per_user_max``, with the left-out instruments and the limit named."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import Client, e2e_config, run_scenario
from tests.e2e.test_trading_journey import RELIANCE
from tests.e2e.test_websocket import answers_ping, next_of, until_closed

LIMIT_CLOSE = 4429


async def signed_in(session: aiohttp.ClientSession, base: str, email: str) -> str:
    """Register a user; return the websocket URL carrying their token."""
    client = Client(session, base)
    await client.register(email)
    token = client.headers["Authorization"].removeprefix("Bearer ")
    return f"{base.replace('http', 'ws')}/api/ws?token={token}"


def assert_refused(errors: list[dict[str, Any]], code: int | None, limit: str, cap: int) -> None:
    assert code == LIMIT_CLOSE
    assert [(e["code"], e["limit"], e["max"]) for e in errors] == [
        ("RATE_LIMITED", f"websocket.{limit}", cap)
    ]


async def admitted_eventually(session: aiohttp.ClientSession, url: str) -> bool:
    """Whether a socket is admitted within a few seconds (a closed one frees its slot once the
    server has finished with it, a moment after the client sees the close)."""
    for _ in range(50):
        async with session.ws_connect(url) as ws:
            with contextlib.suppress(ConnectionError):
                await ws.send_json({"op": "ping"})
            first = await asyncio.wait_for(ws.receive(), 5)  # a refusal's error frame comes first
            if first.type == aiohttp.WSMsgType.TEXT and json.loads(first.data)["type"] == "pong":
                return True
        await asyncio.sleep(0.1)
    return False


def test_connect_when_user_at_connections_per_user_max_then_refused_with_frame_and_4429(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        url = await signed_in(session, base, "many-tabs@paperdesk.test")
        other_url = await signed_in(session, base, "one-tab@paperdesk.test")
        async with session.ws_connect(url) as first, session.ws_connect(url) as second:
            assert await answers_ping(first) and await answers_ping(second)
            async with session.ws_connect(url) as third:
                errors, code = await until_closed(third)
            assert_refused(errors, code, "connections_per_user_max", 2)
            async with session.ws_connect(other_url) as other:
                assert await answers_ping(other)  # the cap is per user
            await first.close()
            assert await admitted_eventually(session, url)  # a closed socket frees its slot

    config = e2e_config(websocket={"connections_per_user_max": 2})
    run_scenario(database, master, scenario, config)


def test_connect_when_server_at_connections_max_then_refused_with_frame_and_4429(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        url = await signed_in(session, base, "first@paperdesk.test")
        late_url = await signed_in(session, base, "late@paperdesk.test")
        async with session.ws_connect(url) as one, session.ws_connect(url) as two:
            assert await answers_ping(one) and await answers_ping(two)
            async with session.ws_connect(late_url) as late:
                errors, code = await until_closed(late)
            assert_refused(errors, code, "connections_max", 2)

    config = e2e_config(websocket={"connections_max": 2})
    run_scenario(database, master, scenario, config)


def test_frames_when_past_inbound_frames_per_second_max_then_dropped_with_error_naming_limit(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        url = await signed_in(session, base, "chatty@paperdesk.test")
        async with session.ws_connect(url) as ws:
            for _ in range(30):
                await ws.send_json({"op": "ping"})
            replies: list[dict[str, Any]] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    replies.append(await asyncio.wait_for(ws.receive_json(), 1))
            pongs = [r for r in replies if r["type"] == "pong"]
            errors = [r["data"] for r in replies if r["type"] == "error"]
            assert 5 <= len(pongs) < 30  # the burst of 5, then what refilled meanwhile
            assert errors, "frames were dropped without a word"
            assert {(e["code"], e["limit"], e["max"]) for e in errors} == {
                ("RATE_LIMITED", "websocket.inbound_frames_per_second_max", 5)
            }
            await asyncio.sleep(1.1)
            assert await answers_ping(ws)  # the budget refills; the socket stays open

    config = e2e_config(websocket={"inbound_frames_per_second_max": 5})
    run_scenario(database, master, scenario, config)


def test_subscribe_when_past_subscriptions_per_user_max_across_sockets_then_error_names_limit(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        url = await signed_in(session, base, "watcher@paperdesk.test")
        async with session.ws_connect(url) as one, session.ws_connect(url) as two:
            await one.send_json({"op": "subscribe", "instruments": [RELIANCE, "NSE:TCS"]})
            assert (await next_of(one, "subscribed"))["data"]["count"] == 2
            await two.send_json({"op": "subscribe", "instruments": ["NSE:INFY", RELIANCE]})
            error = (await next_of(two, "error"))["data"]
            assert (error["code"], error["limit"], error["max"]) == (
                "VALIDATION_ERROR",
                "websocket.subscriptions_per_user_max",
                3,
            )
            assert error["message"].endswith("not added: " + RELIANCE)  # INFY fit, RELIANCE not
            await one.send_json({"op": "unsubscribe", "instruments": ["NSE:TCS"]})
            assert (await next_of(one, "unsubscribed"))["data"]["count"] == 1
            await two.send_json({"op": "subscribe", "instruments": [RELIANCE]})
            assert (await next_of(two, "subscribed"))["data"]["count"] == 2

    config = e2e_config(websocket={"subscriptions_max": 2, "subscriptions_per_user_max": 3})
    run_scenario(database, master, scenario, config)
