"""Schema fuzzing of the whole API against the real server: random and near-valid bodies and
queries for every route of ``/api/openapi.json`` never produce a 5xx, and every error answer
has the docs/API.md error shape."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain.instruments import InstrumentMaster
from gateway.openapi.document import build_document
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, e2e_config, running_server
from tests.integration.conftest import _new_database

DOCUMENT = build_document()
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def encode(value: Any) -> bytes:
    # The standard library writes big integers and Infinity too, which orjson refuses.
    return json.dumps(value).encode()


class LiveServer:
    """The real server on its own event loop thread, called synchronously by Hypothesis."""

    def __init__(self, dsn: str, master: InstrumentMaster) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = asyncio.Event()
        self.headers: dict[str, dict[str, str]] = {}
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._main(dsn, master),)
        )
        self.thread.start()
        assert self.ready.wait(60), "server did not start"

    async def _main(self, dsn: str, master: InstrumentMaster) -> None:
        self.stop = asyncio.Event()
        async with (
            running_server(dsn, e2e_config(), master) as base,
            aiohttp.ClientSession() as session,
        ):
            self.base = base
            self.session = session
            user = Client(session, base)
            await user.register("fuzz@paperdesk.test")
            admin = Client(session, base)
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            self.headers = {"user": dict(user.headers), "admin": dict(admin.headers)}
            self.ready.set()
            await self.stop.wait()

    async def _call(self, method: str, path: str, body: bytes | None, who: str) -> tuple[int, Any]:
        headers = self.headers[who]
        if body is not None:  # as any client must, so the fuzzed bytes reach the decoders
            headers = headers | {"Content-Type": "application/json"}
        async with self.session.request(
            method, self.base + path, data=body, headers=headers
        ) as response:
            text = await response.text()
            return response.status, orjson.loads(text) if text else None

    def call(
        self, method: str, path: str, body: bytes | None = None, who: str = "user"
    ) -> tuple[int, Any]:
        future = asyncio.run_coroutine_threadsafe(self._call(method, path, body, who), self.loop)
        return future.result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live_server(
    pg_server: str, template_database: str, master: InstrumentMaster
) -> Iterator[LiveServer]:
    databases = _new_database(pg_server, template_database)
    dsn = next(databases)
    server = LiveServer(dsn, master)
    yield server
    server.close()
    next(databases, None)


def body_operations() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if content:
                ref = content["application/json"]["schema"]
                found.append((method.upper(), path, ref))
    return found


def field_names(ref: dict[str, Any]) -> list[str]:
    schemas = DOCUMENT["components"]["schemas"]
    names: set[str] = set()
    targets = [ref, *ref.get("anyOf", [])]
    for target in targets:
        if "$ref" in target:
            names.update(schemas[target["$ref"].rsplit("/", 1)[1]].get("properties", {}))
    return sorted(names) or ["x"]


def check(status: int, payload: Any) -> None:
    assert status < 500, payload
    if status >= 400 and status != 405:
        assert isinstance(payload, dict) and "code" in payload["error"], payload


@pytest.mark.parametrize(("method", "path", "ref"), body_operations(), ids=lambda v: str(v)[:40])
def test_fuzzed_bodies_when_sent_then_no_server_error(
    live_server: LiveServer, method: str, path: str, ref: dict[str, Any]
) -> None:
    names = field_names(ref)
    near_valid = st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=len(names))
    bodies = st.one_of(
        JSON_VALUES.map(encode),
        near_valid.map(encode),
        st.binary(max_size=40),
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, who=st.sampled_from(["user", "admin"]))
    def fuzz(body: bytes, who: str) -> None:
        status, payload = live_server.call(method, path, body, who)
        check(status, payload)

    fuzz()


QUERY_ROUTES = [
    path
    for path, methods in DOCUMENT["paths"].items()
    if "get" in methods and path not in ("/api/auth/session", "/metrics")  # /metrics is text
]


@pytest.mark.parametrize("path", QUERY_ROUTES)
def test_fuzzed_queries_when_sent_then_no_server_error(live_server: LiveServer, path: str) -> None:
    names = [p["name"] for p in DOCUMENT["paths"][path]["get"].get("parameters", [])] + [
        "q",
        "limit",
    ]
    values = st.text(max_size=20)

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        query=st.dictionaries(st.sampled_from(names), values, max_size=4),
        who=st.sampled_from(["user", "admin"]),
    )
    def fuzz(query: dict[str, str], who: str) -> None:
        encoded = "&".join(f"{k}={aiohttp.helpers.quote(v, safe='')}" for k, v in query.items())
        status, payload = live_server.call("GET", f"{path}?{encoded}", None, who)
        check(status, payload)

    fuzz()


def test_openapi_when_fetched_then_lists_every_route(live_server: LiveServer) -> None:
    status, document = live_server.call("GET", "/api/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.1")
    assert {"/api/trading/orders", "/api/console", "/api/admin/stats"} <= set(document["paths"])
    assert "PlaceOrderBody" in document["components"]["schemas"]
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}
    assert "/api/ws" in document["paths"]
    assert "/metrics" not in document["paths"]  # served on the metrics listener only
    quotes = document["paths"]["/api/quotes"]["get"]["parameters"]
    assert [p["name"] for p in quotes] == ["q", "mode"]
    cancel = document["paths"]["/api/trading/orders"]["delete"]
    assert {"orderId", "X-CSRF-Token"} <= {p["name"] for p in cancel["parameters"]}
    place = document["paths"]["/api/trading/orders"]["post"]["responses"]
    assert "Retry-After" in place["429"]["headers"]
    assert "X-RateLimit-Remaining" in place["200"]["headers"]
    assert "default" not in place  # every status is listed (tests/e2e/test_schemathesis.py)
