"""The security review's HTTP findings, each against the real server on loopback and a real
PostgreSQL database:

1. malformed query values (cursor, limit, enums, ids with NUL, floats) answer 400 naming the
   parameter on every route that reads a query, and nothing lands in ``trading_logs``;
2. every JSON route refuses a body that is not ``application/json`` (415), so a text/plain form
   cannot sign anyone in; login and register refuse a foreign ``Origin`` (403);
3. ``/api/health`` stays minimal and public, ``/api/health/detailed`` is for admins, and
   ``/metrics`` is served only on its own loopback listener, behind a token when one is set;
4. a body or headers sent slowly cannot hold a connection (408, then closed), and connections
   past ``server.connections_max`` are refused at once with 503 (and a body past aiohttp's size
   limit answers 413 in the API error shape);
5. answers carry ``nosniff``, ``/api/`` answers ``Cache-Control: no-store``, ``Server`` names no
   version, and binding beyond loopback with insecure cookies logs a warning;
6. an unknown method on a route answers 405 with ``Allow``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg
import pytest
from yarl import URL

from engine.config import load_config
from engine.domain.instruments import InstrumentMaster
from gateway.observability.metrics_listener import METRICS_TOKEN_ENV
from gateway.openapi.document import build_document
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    METRICS_URLS,
    Client,
    e2e_config,
    run_scenario,
    running_server,
)
from tests.e2e.test_trading_journey import funded_user, order_body

CRAFTED_CURSORS = [
    "9999-12-31T23:59:59.999999-14:00~x",  # the review's: past year 9999 once in UTC
    "0001-01-01T00:00:00.000000+14:00~x",  # before year 1 once in UTC
    "2026-01-01T00:00:00~x",  # no zone
    "2026-02-30T00:00:00.000000Z~x",  # no such day
    "2026-01-01T00:00:00.000000Z~",  # no id
    "2026-01-01T00:00:00.000000Z~a\x00b",  # NUL in the id
    "+12026-01-01T00:00:00.000000Z~x",
]
CURSOR_ROUTES = ["/api/trading/orders", "/api/admin/deposits", "/api/admin/withdrawals"]


def query(path: str, **params: str) -> str:
    """``path`` with ``params`` percent-encoded (``+`` and NUL included)."""
    pairs = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    return f"{path}?{pairs}"


async def logged_errors(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM trading_logs WHERE level = 'ERROR'")
        return count
    finally:
        await conn.close()


async def post_json(
    session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def assert_names(answer: tuple[int, Any, Any], path: str, what: object) -> None:
    status, body, _ = answer
    assert status == 400, (what, status, body)
    assert body["error"]["code"] == "VALIDATION_ERROR", what
    assert body["error"]["details"][0]["path"] == path, (what, body)


# -- 1. query values ---------------------------------------------------------------------------


def test_list_cursor_when_crafted_then_400_naming_cursor_and_nothing_logged(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, _ = await funded_user(session, base, "cursor@paperdesk.test", 1_000)
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        for path in CURSOR_ROUTES:
            client = user if path.startswith("/api/trading") else admin
            for cursor in CRAFTED_CURSORS:
                answer = await client.call("GET", query(path, cursor=cursor))
                assert_names(answer, "$.cursor", (path, cursor))
        assert await logged_errors(database) == 0

    run_scenario(database, master, scenario)


def test_query_values_when_malformed_then_400_naming_parameter_on_every_route(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, _ = await funded_user(session, base, "query@paperdesk.test", 1_000)
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        nul = "a\x00b"
        # (who, method, route, parameter, bad value): every route that reads its query.
        cases = [
            (user, "GET", "/api/trading/orders", "limit", "ten"),
            (user, "GET", "/api/trading/orders", "limit", "0"),
            (user, "GET", "/api/trading/orders", "status", "SOMETIMES"),
            (user, "GET", "/api/trading/orders", "tradingAccountId", nul),
            (user, "GET", "/api/trading/positions", "status", "AJAR"),
            (user, "GET", "/api/trading/positions", "tradingAccountId", nul),
            (user, "GET", "/api/trading/funds", "tradingAccountId", nul),
            (user, "DELETE", "/api/trading/orders", "orderId", nul),
            (user, "GET", "/api/instruments", "limit", "1e999"),
            (user, "GET", "/api/instruments", "exchange", "NYSE"),
            (user, "GET", "/api/quotes", "mode", "verbose"),
            (admin, "GET", "/api/admin/users", "search", nul),
            (admin, "GET", "/api/admin/users", "cursor", nul),
            (admin, "GET", "/api/admin/users", "limit", "-1"),
            (admin, "GET", "/api/admin/deposits", "status", "MAYBE"),
            (admin, "GET", "/api/admin/withdrawals", "limit", "99999999999999999999999"),
            (admin, "GET", "/api/monitoring/performance", "threshold", "nan"),
            (admin, "GET", "/api/monitoring/performance", "limit", "many"),
            (admin, "GET", "/api/monitoring/performance", "type", "everything"),
        ]
        for client, method, path, name, value in cases:
            params = {name: value} | ({"q": "NSE:TCS"} if path == "/api/quotes" else {})
            answer = await client.call(method, query(path, **params))
            assert_names(answer, f"$.{name}", (method, path, name, value))
        assert await logged_errors(database) == 0

    run_scenario(database, master, scenario)


# -- 2. JSON bodies and Origin -----------------------------------------------------------------


def json_body_operations() -> list[tuple[str, str]]:
    """Every (method, path) that reads a JSON body, from the server's own OpenAPI document."""
    return [
        (method.upper(), path)
        for path, methods in build_document()["paths"].items()
        for method, operation in methods.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def test_json_routes_when_body_not_declared_json_then_415_on_every_route(
    master: InstrumentMaster, database: str
) -> None:
    operations = json_body_operations()
    assert ("POST", "/api/auth/login") in operations and len(operations) >= 15

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("mime@paperdesk.test")
        kinds: list[str | None] = [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
            "application/jsonx",
            None,  # no Content-Type at all
        ]
        for method, path in operations:
            for kind in kinds:
                headers = user.headers | ({} if kind is None else {"Content-Type": kind})
                async with session.request(
                    method,
                    base + path,
                    data=b'{"x": 1}',
                    headers=headers,
                    skip_auto_headers=("Content-Type",),  # else aiohttp adds octet-stream
                ) as response:
                    body = await response.json(content_type=None)
                assert response.status == 415, (method, path, kind, body)
                assert body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"

    run_scenario(database, master, scenario)


def test_login_when_posted_as_text_plain_form_then_415_and_no_session(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("csrf@paperdesk.test")
        session.cookie_jar.clear()
        # What <form enctype="text/plain"> on another site can send without a preflight.
        form = b'{"email": "csrf@paperdesk.test", "password": "password-123", "x": "="}'
        async with session.post(
            base + "/api/auth/login", data=form, headers={"Content-Type": "text/plain"}
        ) as response:
            assert response.status == 415
            assert "Set-Cookie" not in response.headers
        for kind in ("application/json", "application/json; charset=utf-8", "APPLICATION/JSON"):
            async with session.post(
                base + "/api/auth/login",
                data=b'{"email": "csrf@paperdesk.test", "password": "password-123"}',
                headers={"Content-Type": kind},
            ) as response:
                assert response.status == 200, kind
        # Body-less requests need no Content-Type: logout, and cancelling by query.
        status, _, _ = await user.call("POST", "/api/auth/logout")
        assert status == 204

    run_scenario(database, master, scenario)


def test_login_and_register_when_origin_foreign_then_403_else_served(
    master: InstrumentMaster, database: str
) -> None:
    allowed = "https://desk.example.com"
    config = e2e_config(server={"allowed_origins": [allowed]})

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        register = {"email": "origin@paperdesk.test", "password": "password-123", "name": "O"}
        login = {"email": "origin@paperdesk.test", "password": "password-123"}
        for origin in ("https://evil.example", "null", base.replace("127.0.0.1", "localhost")):
            for path, body in (("/api/auth/register", register), ("/api/auth/login", login)):
                status, reply = await post_json(session, base + path, body, {"Origin": origin})
                assert (status, reply["error"]["code"]) == (403, "FORBIDDEN"), (origin, path)
                assert reply["error"]["details"]["origin"] == origin
        status, _ = await post_json(
            session, base + "/api/auth/register", register, {"Origin": base}
        )
        assert status == 201
        for headers in ({"Origin": base}, {"Origin": allowed}, {}):
            status, _ = await post_json(session, base + "/api/auth/login", login, headers)
            assert status == 200, headers

    run_scenario(database, master, scenario, config)


# -- 3. health and metrics ---------------------------------------------------------------------


def test_detailed_health_when_not_admin_then_401_or_403_and_liveness_stays_minimal(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        anonymous = Client(session, base)
        status, body, _ = await anonymous.call("GET", "/api/health")
        assert (status, set(body)) == (200, {"status", "timestamp"})
        status, body, _ = await anonymous.call("GET", "/api/health/detailed")
        assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")
        user = Client(session, base)
        await user.register("nosy@paperdesk.test")
        status, body, _ = await user.call("GET", "/api/health/detailed")
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        status, body, _ = await admin.call("GET", "/api/health/detailed")
        assert status == 200 and body["system"]["pid"] > 0

    run_scenario(database, master, scenario)


def test_metrics_when_asked_on_public_listener_then_404_and_served_on_loopback_listener(
    master: InstrumentMaster, database: str
) -> None:
    assert (load_config().metrics.host, load_config().metrics.port) == ("127.0.0.1", 9108)

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body, _ = await Client(session, base).call("GET", "/metrics")
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
        url = URL(METRICS_URLS[base])
        assert url.host == "127.0.0.1" and url.port != URL(base).port
        async with session.get(url) as response:
            assert response.status == 200
            assert "paperdesk_market_ticks_total" in await response.text()
            assert response.headers["Server"] == "paperdesk"

    run_scenario(database, master, scenario)


def test_metrics_when_token_set_then_scrape_needs_it_as_bearer(
    master: InstrumentMaster, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METRICS_TOKEN_ENV, "scrape-secret")

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        url = METRICS_URLS[base]
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-secret"}):
            async with session.get(url, headers=headers) as response:
                assert response.status == 401, headers
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
        async with session.get(url, headers={"Authorization": "Bearer scrape-secret"}) as response:
            assert response.status == 200
            assert "paperdesk_journal_degraded" in await response.text()

    run_scenario(database, master, scenario)


def test_metrics_when_disabled_then_no_listener(master: InstrumentMaster, database: str) -> None:
    async def scenario(_: aiohttp.ClientSession, base: str) -> None:
        assert base not in METRICS_URLS

    run_scenario(database, master, scenario, e2e_config(metrics={"enabled": False}))


# -- 4. slow clients and the connection cap ----------------------------------------------------


async def open_raw(base: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = URL(base)
    assert url.host is not None and url.port is not None
    return await asyncio.open_connection(url.host, url.port)


async def read_response(reader: asyncio.StreamReader, timeout_s: float = 5) -> tuple[str, bytes]:
    """The head (status line and headers) and body of one HTTP/1.1 response."""
    async with asyncio.timeout(timeout_s):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        )
        return head, await reader.readexactly(length)


def health_request(base: str) -> bytes:
    return f"GET /api/health HTTP/1.1\r\nHost: {URL(base).authority}\r\n\r\n".encode()


def test_body_when_sent_slower_than_deadline_then_408_and_connection_closes(
    master: InstrumentMaster, database: str
) -> None:
    config = e2e_config(server={"body_read_timeout_s": 0.5})

    async def scenario(_: aiohttp.ClientSession, base: str) -> None:
        reader, writer = await open_raw(base)
        writer.write(
            f"POST /api/auth/login HTTP/1.1\r\nHost: {URL(base).authority}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
        )
        await writer.drain()
        head, body = await read_response(reader)  # without the deadline: no answer, ever
        assert head.startswith("HTTP/1.1 408 "), head
        assert "connection: close" in head.lower()
        assert b'"REQUEST_TIMEOUT"' in body
        writer.close()

    run_scenario(database, master, scenario, config)


def test_body_when_larger_than_aiohttp_client_max_then_413_in_the_error_shape(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        body = b'{"email": "' + b"x" * (2 * 1024 * 1024) + b'"}'  # past aiohttp's 1 MiB
        async with session.post(
            base + "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 413
            assert (await response.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"

    run_scenario(database, master, scenario)


def test_headers_when_sent_slowly_then_connection_closed_after_keepalive_timeout(
    master: InstrumentMaster, database: str
) -> None:
    config = e2e_config(server={"keepalive_timeout_s": 0.5})

    async def scenario(_: aiohttp.ClientSession, base: str) -> None:
        reader, writer = await open_raw(base)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # never finished
        await writer.drain()
        async with asyncio.timeout(5):  # aiohttp's own default would wait an hour
            assert await reader.read() == b""
        writer.close()

    run_scenario(database, master, scenario, config)


def test_connections_when_past_max_then_refused_with_503_until_one_closes(
    master: InstrumentMaster, database: str
) -> None:
    config = e2e_config(server={"connections_max": 3})

    async def scenario(_: aiohttp.ClientSession, base: str) -> None:
        held = []
        for _ in range(3):
            reader, writer = await open_raw(base)
            writer.write(health_request(base))
            head, _ = await read_response(reader)
            assert head.startswith("HTTP/1.1 200 "), head
            held.append((reader, writer))

        reader, writer = await open_raw(base)  # the fourth: answered before it says anything
        head, body = await read_response(reader, timeout_s=2)
        assert head.startswith("HTTP/1.1 503 "), head
        assert b'"UNAVAILABLE"' in body
        assert await reader.read() == b""  # and closed
        writer.close()

        held[0][1].close()
        deadline = asyncio.get_running_loop().time() + 5
        while True:  # the server notices the close a moment later
            reader, writer = await open_raw(base)
            writer.write(health_request(base))
            head, _ = await read_response(reader)
            writer.close()
            if head.startswith("HTTP/1.1 200 "):
                break
            assert asyncio.get_running_loop().time() < deadline, head
            await asyncio.sleep(0.05)
        for _, other in held[1:]:
            other.close()

    run_scenario(database, master, scenario, config)


# -- 5. response headers and the start-up warning ----------------------------------------------


def test_responses_when_any_route_then_nosniff_no_store_on_api_and_no_version_banner(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "headers@paperdesk.test", 1_000)
        answers = {
            "funds": await user.call("GET", "/api/trading/funds"),
            "order": await user.call("POST", "/api/trading/orders", order_body(account_id)),
            "anonymous": await Client(session, base).call("GET", "/api/trading/funds"),
            "unknown": await user.call("GET", "/api/nothing-here"),
            "health": await user.call("GET", "/api/health"),
        }
        for name, (_, _, headers) in answers.items():
            assert headers["X-Content-Type-Options"] == "nosniff", name
            assert headers["Cache-Control"] == "no-store", name
            assert headers["Server"] == "paperdesk", name
        for path in ("/", "/static/js/api.js"):
            async with session.get(base + path) as response:
                assert response.status == 200
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Server"] == "paperdesk"
                assert response.headers["Cache-Control"] == "no-cache"  # public, revalidated

    run_scenario(database, master, scenario)


def test_listener_when_beyond_loopback_with_insecure_cookies_then_warning_logged(
    master: InstrumentMaster, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def start(host: str, cookie_secure: bool) -> list[str]:
        caplog.clear()
        config = e2e_config(server={"host": host}, auth={"cookie_secure": cookie_secure})
        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            status, _, _ = await Client(session, base).call("GET", "/api/health")
            assert status == 200
        return [r.getMessage() for r in caplog.records if r.name == "gateway.listener"]

    async def main() -> None:
        exposed = await start("0.0.0.0", cookie_secure=False)
        assert any("cookie_secure = false" in message for message in exposed), exposed
        assert await start("127.0.0.1", cookie_secure=False) == []
        assert await start("0.0.0.0", cookie_secure=True) == []

    with caplog.at_level(logging.WARNING, logger="gateway.listener"):
        asyncio.run(main())


# -- 6. methods --------------------------------------------------------------------------------


def test_method_when_not_allowed_on_route_then_405_with_allow_header(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("verbs@paperdesk.test")
        status, body, headers = await user.call("PUT", "/api/trading/orders", {})
        assert (status, body["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")
        assert set(headers["Allow"].split(",")) >= {"GET", "POST", "PATCH", "DELETE"}
        status, _, headers = await user.call("DELETE", "/api/health")
        assert status == 405 and "GET" in headers["Allow"].split(",")

    run_scenario(database, master, scenario)
