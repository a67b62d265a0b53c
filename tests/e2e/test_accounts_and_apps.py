"""Trading accounts and API apps over HTTP, against the real server and PostgreSQL.

Proves: another user's app answers 404 to delete and to a token, and an app cannot be bound to
another user's account (404); opening accounts past ``kite.accounts_per_user_max`` answers 422
``LIMIT_REACHED`` and a name the user already holds 409 ``DUPLICATE``; a new account is credited
``accounts.opening_balance`` and trades on its own (its order is not in the first account's
list, nor the first's funds moved). And the api_secret is stored nowhere: no text or bytea
column of ``api_apps`` holds it, and it is derived from the server's app-secret key, so
another key gives another secret.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import pytest

from engine.domain.instruments import InstrumentMaster
from gateway.keys import KITE_SESSIONS
from gateway.kite.app_secrets import APP_SECRET_KEY_ENV, app_secret
from tests.e2e.conftest import APPS, Client, e2e_config, eventually, run_scenario, running_server
from tests.e2e.test_trading_journey import order_body

REDIRECT = "http://127.0.0.1:9/callback"
KEY_A = "a1" * 32
KEY_B = "b2" * 32


async def first_account(user: Client) -> str:
    status, body, _ = await user.call("GET", "/api/trading/accounts")
    assert status == 200, body
    return str(body["accounts"][0]["id"])


async def new_app(user: Client, account_id: str, name: str = "momentum") -> dict[str, Any]:
    status, body, _ = await user.call(
        "POST",
        "/api/console/apps",
        {"name": name, "tradingAccountId": account_id, "redirectUrl": REDIRECT},
    )
    assert status == 201, body
    return dict(body)


def test_other_users_app_when_deleted_or_tokened_then_404_and_left_alone(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        owner, intruder = Client(session, base), Client(session, base)
        await owner.register("owner@paperdesk.test")
        await intruder.register("intruder@paperdesk.test")
        app_id = (await new_app(owner, await first_account(owner)))["app"]["id"]

        status, body, _ = await intruder.call("DELETE", f"/api/console/apps/{app_id}")
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), body
        status, body, _ = await intruder.call("POST", f"/api/console/apps/{app_id}/token")
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), body
        status, body, _ = await intruder.call("GET", "/api/console/apps")
        assert (status, body["apps"]) == (200, [])

        status, body, _ = await owner.call("GET", "/api/console/apps")
        assert [app["id"] for app in body["apps"]] == [app_id]  # untouched
        status, body, _ = await owner.call("POST", f"/api/console/apps/{app_id}/token")
        assert status == 200 and body["accessToken"], body

    run_scenario(database, master, scenario)


def test_create_app_when_account_is_another_users_then_404(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        owner, intruder = Client(session, base), Client(session, base)
        await owner.register("owner@paperdesk.test")
        await intruder.register("intruder@paperdesk.test")
        status, body, _ = await intruder.call(
            "POST",
            "/api/console/apps",
            {"name": "x", "tradingAccountId": await first_account(owner), "redirectUrl": REDIRECT},
        )
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), body
        status, body, _ = await intruder.call("GET", "/api/console/apps")
        assert body["apps"] == []

    run_scenario(database, master, scenario)


def test_open_account_when_limit_held_then_422_limit_reached(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("limits@paperdesk.test")
        status, body, _ = await user.call("POST", "/api/trading/accounts", {"name": "second"})
        assert status == 201, body
        status, body, _ = await user.call("POST", "/api/trading/accounts", {"name": "third"})
        assert (status, body["error"]["code"]) == (422, "LIMIT_REACHED"), body
        status, body, _ = await user.call("GET", "/api/trading/accounts")
        assert [a["name"] for a in body["accounts"]] == ["Main", "second"]

    run_scenario(database, master, scenario, e2e_config(kite={"accounts_per_user_max": 2}))


def test_accounts_and_apps_when_requested_at_once_past_the_limit_then_exactly_the_limit(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        registered = await user.register("racing@paperdesk.test")
        account_id = registered["tradingAccount"]["id"]
        opened = await asyncio.gather(
            *(user.call("POST", "/api/trading/accounts", {"name": f"s{n}"}) for n in range(8))
        )
        assert sorted(status for status, _, _ in opened) == [201, 201] + [422] * 6
        status, body, _ = await user.call("GET", "/api/trading/accounts")
        assert status == 200 and len(body["accounts"]) == 3
        app = {"tradingAccountId": account_id, "redirectUrl": "http://127.0.0.1/cb"}
        created = await asyncio.gather(
            *(user.call("POST", "/api/console/apps", app | {"name": f"a{n}"}) for n in range(8))
        )
        assert sorted(status for status, _, _ in created) == [201, 201, 201] + [422] * 5
        status, body, _ = await user.call("GET", "/api/console/apps")
        assert status == 200 and len(body["apps"]) == 3

    limits = {"accounts_per_user_max": 3, "apps_per_user_max": 3}
    run_scenario(database, master, scenario, e2e_config(kite=limits))


def test_open_account_when_name_taken_then_409_duplicate(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, other = Client(session, base), Client(session, base)
        await user.register("names@paperdesk.test")
        await other.register("other@paperdesk.test")
        status, body, _ = await user.call("POST", "/api/trading/accounts", {"name": "swing"})
        assert status == 201, body
        for taken in ("Main", "swing"):  # the one opened at registration, and a further one
            status, body, _ = await user.call("POST", "/api/trading/accounts", {"name": taken})
            assert (status, body["error"]["code"]) == (409, "DUPLICATE"), body
            assert body["error"]["details"][0]["path"] == "$.name"
        # Names are the user's own: another user may use the same one.
        status, body, _ = await other.call("POST", "/api/trading/accounts", {"name": "swing"})
        assert status == 201, body

    run_scenario(database, master, scenario)


def test_new_account_when_opened_then_credited_opening_balance_and_trades_apart(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("strategies@paperdesk.test")
        first = await first_account(user)
        status, body, _ = await user.call("POST", "/api/trading/accounts", {"name": "momentum"})
        assert status == 201, body
        second = body["account"]["id"]
        assert body["account"]["name"] == "momentum" and second != first

        async def funds(account_id: str) -> dict[str, Any]:
            status, body, _ = await user.call(
                "GET", f"/api/trading/funds?tradingAccountId={account_id}"
            )
            assert status == 200, body
            return dict(body)

        async def credited() -> bool:
            return bool((await funds(second))["balance"] == 50_000)

        await eventually(credited)
        status, body, _ = await user.call("POST", "/api/trading/orders", order_body(second))
        assert status == 200, body
        order_id = body["order"]["id"]
        assert body["order"]["tradingAccountId"] == second

        async def executed() -> bool:
            _, page, _ = await user.call("GET", f"/api/trading/orders?tradingAccountId={second}")
            return [(o["id"], o["status"]) for o in page["items"]] == [(order_id, "EXECUTED")]

        await eventually(executed)
        for query in (f"?tradingAccountId={first}", ""):  # the first account, named or not
            status, page, _ = await user.call("GET", f"/api/trading/orders{query}")
            assert (status, page["items"]) == (200, []), page
            status, page, _ = await user.call("GET", f"/api/trading/positions{query}")
            assert (status, page["items"]) == (200, []), page
        first_funds = await funds(first)
        assert (first_funds["balance"], first_funds["blockedMargin"]) == (50_000, 0)
        second_funds = await funds(second)
        assert second_funds["balance"] < 50_000  # charges paid
        assert second_funds["requiredMargin"] > 0  # the position's margin

    config = e2e_config(accounts={"opening_balance": "50000"})
    run_scenario(database, master, scenario, config)


async def text_and_bytea_of_api_apps(dsn: str) -> list[tuple[str, str | bytes]]:
    """Every text-like and bytea value of every row of ``api_apps``, with its column."""
    connection = await asyncpg.connect(dsn)
    try:
        columns = await connection.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'api_apps' AND data_type IN"
            " ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb')"
        )
        assert {"api_key", "secret_salt", "name"} <= {c["column_name"] for c in columns}
        values: list[tuple[str, str | bytes]] = []
        for column in columns:
            name = column["column_name"]
            rows = await connection.fetch(
                f'SELECT "{name}"::text AS t, "{name}" AS v FROM api_apps'
            )
            for row in rows:
                if row["v"] is not None:
                    values.append((name, row["t"]))  # bytea as its \x… hex text
                    if isinstance(row["v"], bytes):
                        values.append((name, row["v"]))
        return values
    finally:
        await connection.close()


async def app_row(dsn: str, app_id: str) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchrow("SELECT * FROM api_apps WHERE id = $1", app_id)
    finally:
        await connection.close()


def test_api_secret_when_app_created_then_stored_nowhere_and_derived_from_server_key(
    master: InstrumentMaster, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: dict[str, Any] = {}

    async def create_under_key_a() -> None:
        async with (
            running_server(database, e2e_config(), master) as base,
            aiohttp.ClientSession() as session,
        ):
            user = Client(session, base)
            await user.register("secrets@paperdesk.test")
            account_id = await first_account(user)
            for name in ("alpha", "beta"):
                body = await new_app(user, account_id, name)
                created[body["app"]["id"]] = body["apiSecret"]
            row = await app_row(database, next(iter(created)))
            assert APPS[base][KITE_SESSIONS].secret_of(row) == created[row["id"]]

    async def recompute_under_key_b() -> dict[str, str]:
        async with running_server(database, e2e_config(), master) as base:
            sessions = APPS[base][KITE_SESSIONS]
            return {
                app_id: sessions.secret_of(await app_row(database, app_id)) for app_id in created
            }

    monkeypatch.setenv(APP_SECRET_KEY_ENV, KEY_A)
    asyncio.run(create_under_key_a())
    values = asyncio.run(text_and_bytea_of_api_apps(database))
    assert values
    for app_id, secret in created.items():
        assert len(secret) == 32
        for column, value in values:
            if isinstance(value, bytes):
                assert secret.encode() not in value, column
                assert bytes.fromhex(secret) not in value, column
            else:
                assert secret not in value.lower(), column
        row = asyncio.run(app_row(database, app_id))
        assert app_secret(bytes.fromhex(KEY_A), app_id, bytes(row["secret_salt"])) == secret

    monkeypatch.setenv(APP_SECRET_KEY_ENV, KEY_B)
    under_b = asyncio.run(recompute_under_key_b())
    for app_id, secret in created.items():
        row = asyncio.run(app_row(database, app_id))
        assert under_b[app_id] != secret
        assert under_b[app_id] == app_secret(
            bytes.fromhex(KEY_B), app_id, bytes(row["secret_salt"])
        )


def test_console_when_an_account_is_named_then_its_funds_and_requests_only(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        registered = await user.register("consoles@paperdesk.test")
        first = registered["tradingAccount"]["id"]
        status, body, _ = await user.call("POST", "/api/trading/accounts", {"name": "swing"})
        assert status == 201, body
        second = body["account"]["id"]
        deposit = {"action": "REQUEST_DEPOSIT", "amount": 2500, "tradingAccountId": second}
        status, body, _ = await user.call("POST", "/api/console", deposit)
        assert status == 200 and body["deposit"]["tradingAccountId"] == second, body
        status, body, _ = await user.call("GET", f"/api/console?tradingAccountId={second}")
        assert status == 200 and body["tradingAccount"]["id"] == second
        assert [d["amount"] for d in body["deposits"]] == [2500]
        status, body, _ = await user.call("GET", "/api/console")
        assert body["tradingAccount"]["id"] == first and body["deposits"] == []
        stranger = Client(session, base)
        await stranger.register("stranger-console@paperdesk.test")
        status, body, _ = await stranger.call("GET", f"/api/console?tradingAccountId={second}")
        assert status == 404, body
        status, body, _ = await stranger.call("POST", "/api/console", deposit)
        assert status == 404, body

    run_scenario(database, master, scenario)
