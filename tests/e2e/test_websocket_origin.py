"""A websocket signed in by the session cookie is accepted only from a page of the server's own
origin, of ``server.allowed_origins`` or of ``websocket.allowed_origins``: a foreign, opaque
("null") or missing ``Origin`` is refused with 403 and a JSON error naming the header, before
any upgrade (else another origin of the same site, or an older browser, could carry the user's
cookie into a socket and read their account live). A socket signed in by a token (``?token=`` or
``Authorization``) is not a browser's ambient credential and needs no Origin check."""

from __future__ import annotations

import base64
import os
from typing import Any

import aiohttp
import pytest

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import Client, e2e_config, run_scenario
from tests.e2e.test_websocket import answers_ping

FOREIGN = "http://evil.example"
SIGN_IN = "https://login.example"


async def cookie_user(session: aiohttp.ClientSession, base: str, email: str) -> Client:
    """A user signed in on this session: its cookie jar holds their ``pd_session`` cookie."""
    client = Client(session, base)
    await client.register(email)
    return client


async def handshake(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, Any]:
    """Send a websocket upgrade request by hand; return the status and the JSON body."""
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    async with session.get(url, headers=upgrade | headers) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize(
    ("origin", "label"),
    [
        (FOREIGN, "foreign"),
        ("null", "opaque"),  # sandboxed frames and file:// pages send "null"
        (None, "missing"),  # browsers always send one: a cookie socket without it is refused
    ],
)
def test_cookie_socket_when_origin_not_own_then_refused_403_naming_origin_header(
    master: InstrumentMaster, database: str, origin: str | None, label: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        await cookie_user(session, base, f"{label}@paperdesk.test")
        headers = {} if origin is None else {"Origin": origin}
        status, body = await handshake(session, base + "/api/ws", headers)
        assert status == 403, body
        assert body["error"]["code"] == "FORBIDDEN"
        assert body["error"]["details"] == {"header": "Origin", "origin": origin}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(base.replace("http", "ws") + "/api/ws", origin=origin)
        assert refused.value.status == 403

    run_scenario(database, master, scenario)


def test_cookie_socket_when_origin_own_or_allowed_then_accepted(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        await cookie_user(session, base, "dashboard@paperdesk.test")
        url = base.replace("http", "ws") + "/api/ws"
        for origin in (base, "https://desk.example", "HTTPS://Desk.Example:443", SIGN_IN):
            async with session.ws_connect(url, origin=origin) as ws:
                assert await answers_ping(ws), origin
        status, _ = await handshake(session, url.replace("ws", "http", 1), {"Origin": FOREIGN})
        assert status == 403  # the allow-list adds origins; it does not open the door

    config = e2e_config(
        server={"allowed_origins": [SIGN_IN]},  # pages that may sign in may open their socket
        websocket={"allowed_origins": ["https://desk.example/"]},
    )
    run_scenario(database, master, scenario, config)


def test_token_socket_when_origin_foreign_then_accepted(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = await cookie_user(session, base, "algo@paperdesk.test")
        token = user.headers["Authorization"].removeprefix("Bearer ")
        url = base.replace("http", "ws") + "/api/ws"
        async with session.ws_connect(f"{url}?token={token}", origin=FOREIGN) as ws:
            assert await answers_ping(ws)
        async with session.ws_connect(url, origin=FOREIGN, headers=user.headers) as ws:
            assert await answers_ping(ws)

    run_scenario(database, master, scenario)
