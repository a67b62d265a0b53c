"""A websocket lives no longer than the session it was opened with: logout, a password change
(which revokes the user's other sessions) and expiry each close the session's open sockets with
an error frame naming why (``SESSION_ENDED`` with reason ``LOGOUT``, ``REVOKED`` or ``EXPIRED``)
and close code 4401, while the user's other sessions keep their sockets. Sessions ended behind
the server's back (revoked or expired in PostgreSQL, as another server process would) are found
by the periodic session check."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg

from engine.domain.instruments import InstrumentMaster
from gateway.identity.sessions import token_hash
from tests.e2e.conftest import Client, e2e_config, run_scenario
from tests.e2e.test_websocket import answers_ping, until_closed

PASSWORD = "password-123"
SESSION_ENDED_CLOSE = 4401


def token_of(client: Client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def ws_url(base: str, client: Client) -> str:
    return f"{base.replace('http', 'ws')}/api/ws?token={token_of(client)}"


async def second_session(session: aiohttp.ClientSession, base: str, email: str) -> Client:
    client = Client(session, base)
    await client.login(email, PASSWORD)
    return client


async def set_session(dsn: str, client: Client, assignments: str) -> None:
    """Change a session row directly in PostgreSQL, as another server process would."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            f"UPDATE sessions SET {assignments} WHERE token_hash = $1", token_hash(token_of(client))
        )
    finally:
        await connection.close()


def assert_session_ended(errors: list[dict[str, Any]], code: int | None, reason: str) -> None:
    assert code == SESSION_ENDED_CLOSE
    assert [(e["code"], e["reason"]) for e in errors] == [("SESSION_ENDED", reason)]


def test_logout_when_socket_open_then_socket_closed_with_reason(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("logout@paperdesk.test", PASSWORD)
        other_tab = await second_session(session, base, "logout@paperdesk.test")
        async with (
            session.ws_connect(ws_url(base, user)) as ws,
            session.ws_connect(ws_url(base, other_tab)) as other_ws,
        ):
            assert await answers_ping(ws)
            status, _, _ = await user.call("POST", "/api/auth/logout")
            assert status == 204
            errors, code = await until_closed(ws)
            assert_session_ended(errors, code, "LOGOUT")
            assert await answers_ping(other_ws)  # another session of the same user is untouched

    run_scenario(database, master, scenario)


def test_change_password_when_other_sessions_have_sockets_then_closed_revoked_and_own_kept(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("rotate@paperdesk.test", PASSWORD)
        stolen = await second_session(session, base, "rotate@paperdesk.test")
        async with (
            session.ws_connect(ws_url(base, user)) as own_ws,
            session.ws_connect(ws_url(base, stolen)) as stolen_ws,
        ):
            assert await answers_ping(stolen_ws)
            status, _, _ = await user.call(
                "POST",
                "/api/console",
                {
                    "action": "CHANGE_PASSWORD",
                    "currentPassword": PASSWORD,
                    "newPassword": "new-password-9",
                },
            )
            assert status == 200
            errors, code = await until_closed(stolen_ws)
            assert_session_ended(errors, code, "REVOKED")
            assert await answers_ping(own_ws)  # the session that changed the password stays

    run_scenario(database, master, scenario)


def test_session_expiry_when_socket_open_then_closed_on_time_with_reason_expired(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("expiry@paperdesk.test", PASSWORD)
        await set_session(database, user, "expires_at = now() + interval '2 seconds'")
        async with session.ws_connect(ws_url(base, user)) as ws:
            assert await answers_ping(ws)
            # The session check runs every 30 s here: closing within 10 s is the expiry timer.
            errors, code = await until_closed(ws, timeout_s=10)
            assert_session_ended(errors, code, "EXPIRED")

    # No session cache, so the socket sees the expiry just written to the database.
    run_scenario(database, master, scenario, e2e_config(auth={"session_cache_s": 0}))


def test_session_revoked_in_database_when_socket_open_then_session_check_closes_it(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("elsewhere@paperdesk.test", PASSWORD)
        async with session.ws_connect(ws_url(base, user)) as ws:
            assert await answers_ping(ws)
            await set_session(database, user, "revoked_at = now()")
            errors, code = await until_closed(ws, timeout_s=10)
            assert_session_ended(errors, code, "REVOKED")

    config = e2e_config(websocket={"session_check_interval_s": 0.2})
    run_scenario(database, master, scenario, config)


def test_session_expired_in_database_when_socket_open_then_session_check_closes_it(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("shortened@paperdesk.test", PASSWORD)
        async with session.ws_connect(ws_url(base, user)) as ws:
            assert await answers_ping(ws)
            await set_session(database, user, "expires_at = now() - interval '1 second'")
            errors, code = await until_closed(ws, timeout_s=10)
            assert_session_ended(errors, code, "EXPIRED")

    config = e2e_config(websocket={"session_check_interval_s": 0.2})
    run_scenario(database, master, scenario, config)
