"""The live server against its own OpenAPI document, fuzzed by schemathesis: every operation of
``/api/openapi.json`` gets schema-valid and schema-violating requests (examples, coverage and
fuzzing phases, deterministic) over real HTTP to the real server on loopback, backed by real
PostgreSQL, signed in as a registered and funded user (as the admin on admin routes).

Every answer passes all of schemathesis's checks, left at their defaults: not_a_server_error;
status_code_conformance, content_type_conformance, response_schema_conformance and
response_headers_conformance against the document (which lists every status, and every success
body in ``gateway.replies``); negative_data_rejection; positive_data_acceptance, with 422 among
its statuses (see SETTINGS); ignored_auth, missing_required_header, unsupported_method (405 with
``Allow``) and allow_header_conformance on the coverage phase's probes. Three act only where this
test does not go: use_after_free and ensure_resource_availability need the stateful phase (links
between operations, which the document does not declare), object_level_authorization needs
several configured identities; max_response_time has no limit set, as latency on a shared
2-core machine says nothing about the API.

Schema-valid requests get what a real client would send (``realistic``): its own account, ids
of things that exist, sensible prices for half the orders. The server cannot know ids a fuzzer
invents, and without them no modify, cancel, close or decision would get past its 404.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis

from engine.config import DEFAULT_INSTRUMENTS_PATH
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.instrument_import import read_instruments_csv
from gateway.openapi.document import build_document
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, e2e_config
from tests.integration.conftest import _new_database
from tests.support.server_thread import ServerThread

UNLIMITED = 1_000_000
PASSWORD = "quartz-lantern-81"
MASTER = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
INSTRUMENTS = list(MASTER)
ADMIN_ROUTES = ("/api/admin/", "/api/monitoring/", "/api/health/detailed")
ORDER_ROUTES = ("/api/trading/orders", "/api/trading/margins")
ORDER_DETAIL = "/api/trading/orders/{id}"
GTT_ROUTE = "/api/trading/gtt"
GTT_DETAIL = "/api/trading/gtt/{id}"
BASKET_ROUTE = "/api/trading/margins/basket"
ADMIN_FUNDS = ("POST", "/api/trading/funds")
TIMEOUT_S = 30

SETTINGS = schemathesis.Config.from_dict(
    {
        "seed": 20261124,
        # Bounded for a 2-core machine: the file runs in about a minute.
        "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
        "continue-on-failure": True,  # every distinct failure of an operation, not the first
        "checks": {
            # Schema-valid data may still be refused by a business rule: 422 is docs/API.md's answer
            # for that (funds, tick size, lot size, password policy), and no schema can say it.
            # 400 stays out: a schema-valid request answered 400 is a document looser than the
            # validation, which is what this test is for.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            },
        },
    }
)
# The websocket route's 101 needs a client that speaks the protocol after the handshake, which
# schemathesis's HTTP client does not; its refusals are checked below, its sessions by
# tests/e2e/test_websocket*.py.
schema = schemathesis.openapi.from_dict(build_document(), config=SETTINGS).exclude(path="/api/ws")


@dataclass
class Live:
    """The running server and who is signed in to it."""

    base: str
    account_id: str
    user: dict[str, str]
    admin: dict[str, str]
    token: str
    user_id: str
    admin_id: str

    def as_admin(self, case: Any) -> bool:
        return case.path.startswith(ADMIN_ROUTES) or (case.method, case.path) == ADMIN_FUNDS

    def headers_for(self, case: Any) -> dict[str, str]:
        if case.path == "/api/auth/logout":
            # Each logout revokes a session of its own, never the one the other cases use.
            return sign_in(self.base, "leaver@paperdesk.test", PASSWORD)[1]
        return self.admin if self.as_admin(case) else self.user


def sign_in(base: str, email: str, password: str) -> tuple[str, dict[str, str]]:
    """Sign in; return the user's id and the headers of the session."""
    response = requests.post(
        f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=TIMEOUT_S
    )
    assert response.status_code == 200, response.text
    reply = response.json()
    return reply["user"]["id"], {"Authorization": f"Bearer {reply['token']}"}


def register(base: str, email: str) -> str:
    """Register ``email``; return its trading account id."""
    response = requests.post(
        f"{base}/api/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Fuzz"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["tradingAccount"]["id"])


@pytest.fixture(scope="module")
def live(pg_server: str, template_database: str, master: InstrumentMaster) -> Iterator[Live]:
    databases = _new_database(pg_server, template_database)
    limits = {
        "orders_per_minute": UNLIMITED,
        "general_per_minute": UNLIMITED,
        "login_per_15_minutes": UNLIMITED,  # every logout case signs in a session of its own
    }
    server = ServerThread(next(databases), master, e2e_config(rate_limits=limits))
    try:
        base = server.base
        account_id = register(base, "fuzzer@paperdesk.test")
        register(base, "leaver@paperdesk.test")
        user_id, user = sign_in(base, "fuzzer@paperdesk.test", PASSWORD)
        admin_id, admin = sign_in(base, ADMIN_EMAIL, ADMIN_PASSWORD)
        funded = requests.post(
            f"{base}/api/admin/funds/add",
            json={"tradingAccountId": account_id, "amount": 10_000_000},
            headers=admin,
            timeout=TIMEOUT_S,
        )
        assert funded.status_code == 200, funded.text
        token = user["Authorization"].removeprefix("Bearer ")
        yield Live(base, account_id, user, admin, token, user_id, admin_id)
    finally:
        server.close()
        next(databases, None)


# Ids a schema-valid request may name, and where the live server lists them (path, admin?,
# the list's key): a drawn id is replaced by one of these, so modify, cancel, close and decide
# reach real orders, positions, bank accounts and requests (made by earlier cases).
LIVE_IDS = {
    "orderId": ("/api/trading/orders?status=PENDING&limit=20", False, "items"),
    "gttId": ("/api/trading/gtt?status=ACTIVE&limit=20", False, "items"),
    "positionId": ("/api/trading/positions?status=OPEN", False, "items"),
    "bankAccountId": ("/api/console", False, "bankAccounts"),
    "depositId": ("/api/admin/deposits?status=PENDING&limit=20", True, "items"),
    "withdrawalId": ("/api/admin/withdrawals?status=PENDING&limit=20", True, "items"),
}


def draw(drawn: Any, bound: int) -> int:
    """A number below ``bound`` chosen by a drawn value (the same draw, the same number)."""
    return zlib.crc32(repr(drawn).encode()) % bound


def live_items(live: Live, name: str) -> list[dict[str, Any]]:
    path, admin, key = LIVE_IDS[name]
    headers = live.admin if admin else live.user
    response = requests.get(live.base + path, headers=headers, timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()[key]
    return items


def sensible_order(body: dict[str, Any], instrument: Instrument, drawn: int) -> None:
    """Lots the account can pay for and prices on the tick grid near the market, so that
    orders rest, fill and get modified rather than only being refused."""
    if isinstance(body.get("quantity"), int | float):
        body["quantity"] = instrument.lot_size * (1 + drawn % 3)
    if "productType" in body:  # MIS for anything, CNC for equity, NRML for derivatives
        kept = "CNC" if instrument.is_equity else "NRML"
        body["productType"] = "MIS" if drawn % 3 == 0 else kept
    tick = instrument.tick_paise
    near = instrument.reference_price_paise // tick * tick
    for name, ticks in (("price", -(drawn % 7)), ("triggerPrice", drawn % 5 - 2)):
        if isinstance(body.get(name), int | float):
            body[name] = (near + ticks * tick) / 100


def realistic_iceberg(body: dict[str, Any], instrument: Instrument | None, drawn: int) -> None:
    """An order's ``iceberg`` as a real client sends it: integers written as integers and,
    for half the orders, legs of one lot that make up the quantity (2 to 4 of them)."""
    iceberg = body.get("iceberg")
    if not isinstance(iceberg, dict):
        return
    for name in ("legs", "legQuantity"):
        if isinstance(iceberg.get(name), float):
            iceberg[name] = int(iceberg[name])
    if instrument is not None and drawn % 2 == 0:
        legs = 2 + drawn % 3
        body["quantity"] = instrument.lot_size * legs
        body["iceberg"] = {"legs": legs, "legQuantity": instrument.lot_size}


def realistic_basket_order(order: dict[str, Any]) -> None:
    """One order of a basket as a real client sends it: a listed instrument (with no names to
    contradict it) and, for half the orders, sensible terms."""
    if not isinstance(order.get("instrumentId"), str):
        return
    instrument = INSTRUMENTS[draw(order["instrumentId"], len(INSTRUMENTS))]
    order["instrumentId"] = instrument.instrument_id
    for name in ("symbol", "stockId", "segment"):
        order.pop(name, None)
    drawn = draw(order, 1 << 16)
    if drawn % 2 == 0:
        sensible_order(order, instrument, drawn)
    if isinstance(order.get("quantity"), float):
        order["quantity"] = int(order["quantity"])


def realistic_gtt(body: dict[str, Any]) -> None:
    """A GTT as a real client places it: a listed instrument, and for half of them its orders
    in lots the account can pay for with sensible products (its triggers stay as drawn)."""
    if isinstance(body.get("instrumentId"), str):
        instrument = INSTRUMENTS[draw(body["instrumentId"], len(INSTRUMENTS))]
        body["instrumentId"] = instrument.instrument_id
    else:
        instrument = None
    for order in body.get("orders") or ():
        if not isinstance(order, dict):
            continue
        drawn = draw(order, 1 << 16)
        if instrument is not None and drawn % 2 == 0:
            sensible_order(order, instrument, drawn)
        if isinstance(order.get("quantity"), float):
            order["quantity"] = int(order["quantity"])


def realistic(case: Any, live: Live) -> None:
    """Give a schema-valid case what a real client would send: its own account and user id,
    existing instruments (with no symbol, stockId or segment to contradict them), orders and
    GTTs (named in a path too), positions, bank accounts and requests that exist, its own
    current password, and, for half the orders, sensible quantities and prices (and iceberg
    legs)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    instrument: Instrument | None = None
    for values in (case.body, case.query):
        if not isinstance(values, dict):
            continue
        if "tradingAccountId" in values:
            values["tradingAccountId"] = live.account_id
        if "userId" in values:
            # The caller's own (docs/API.md: another's is refused); an admin adjusting funds names
            # the user whose account it is.
            caller = live.admin_id if live.as_admin(case) else live.user_id
            values["userId"] = live.user_id if case.path.startswith("/api/admin/funds") else caller
        for name in LIVE_IDS.keys() & values.keys():
            if isinstance(values[name], str) and (found := live_items(live, name)):
                item = found[draw(values[name], len(found))]
                values[name] = item["id"]
                instrument = MASTER.get(item.get("instrumentId", ""))
    if case.path == ORDER_DETAIL and (found := live_items(live, "orderId")):
        case.path_parameters["id"] = found[draw(case.path_parameters, len(found))]["id"]
    if case.path == GTT_DETAIL and (found := live_items(live, "gttId")):
        case.path_parameters["id"] = found[draw(case.path_parameters, len(found))]["id"]
    body = case.body
    if not isinstance(body, dict):
        return
    if body.get("action") == "CHANGE_PASSWORD":
        body["currentPassword"] = body["newPassword"] = PASSWORD  # a change to the same
    if case.path in ORDER_ROUTES and isinstance(body.get("instrumentId"), str):
        instrument = INSTRUMENTS[draw(body["instrumentId"], len(INSTRUMENTS))]
        body["instrumentId"] = instrument.instrument_id
        for name in ("symbol", "stockId", "segment"):
            body.pop(name, None)
    if case.path in (GTT_ROUTE, GTT_DETAIL):
        realistic_gtt(body)
    if case.path == BASKET_ROUTE and isinstance(body.get("orders"), list):
        for order in body["orders"]:
            if isinstance(order, dict):
                realistic_basket_order(order)
    drawn = draw(body, 1 << 16)
    if instrument is not None and drawn % 2 == 0:
        sensible_order(body, instrument, drawn)
    realistic_iceberg(body, instrument, drawn >> 1)
    if isinstance(body.get("quantity"), float):
        # JSON Schema's integer admits 2.0; msgspec, like docs/API.md ("quantities are integers"),
        # wants it written 2.
        body["quantity"] = int(body["quantity"])


def without_cursor(case: Any) -> None:
    """Only a nextCursor the server gave is a cursor: a schema-valid case sends none."""
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and isinstance(case.query, dict):
        case.query.pop("cursor", None)


def test_openapi_when_served_then_it_is_the_document_fuzzed(live: Live) -> None:
    # The schema is loaded at import (schemathesis's fixture loader needs pytest's Node._nodeid,
    # gone in pytest 9.2), so this holds the served document to the one fuzzed.
    served = requests.get(f"{live.base}/api/openapi.json", timeout=TIMEOUT_S)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(build_document()))


@schema.parametrize()
def test_api_when_fuzzed_then_every_answer_conforms(case: Any, live: Live) -> None:
    realistic(case, live)
    without_cursor(case)
    case.call_and_validate(base_url=live.base, headers=live.headers_for(case))


WEBSOCKET = schemathesis.openapi.from_dict(build_document(), config=SETTINGS)["/api/ws"]["GET"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("bearer", 400), ("nobody", 401), ("cookie", 403)],
    ids=["plain-http-400", "anonymous-401", "cookie-without-origin-403"],
)
def test_websocket_when_refused_then_answer_documented(live: Live, who: str, status: int) -> None:
    headers = {"bearer": live.user, "nobody": {}, "cookie": {}}[who]
    handshake = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    case = WEBSOCKET.Case(headers={} if who == "bearer" else handshake)
    cookies = {"pd_session": live.token} if who == "cookie" else None
    response = case.call_and_validate(base_url=live.base, headers=headers, cookies=cookies)
    assert response.status_code == status, response.text
