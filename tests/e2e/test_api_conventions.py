"""docs/API.md's conventions, route by route, over the real server: a body ``userId`` is ignored
when it is the caller's and refused (403) when not, on every route whose body acts as the caller;
the rate-limit headers come with every answer of a counted route, errors included; lists page
with ``limit`` and ``cursor``; an order's optional ``symbol`` and ``stockId`` must name the
instrument it trades."""

from __future__ import annotations

from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, run_scenario
from tests.e2e.test_console_admin import BANK
from tests.e2e.test_trading_journey import funded_user, ltp, order_body


async def user_id_of(client: Client) -> str:
    status, body, _ = await client.call("GET", "/api/auth/session")
    assert status == 200, body
    return str(body["user"]["id"])


def test_body_user_id_when_not_the_callers_then_403_on_every_route(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "me@paperdesk.test", 100_000)
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        price = round(await ltp(user) * 0.9, 1)
        _, placed, _ = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, orderType="LIMIT", price=price)
        )
        order_id = placed["order"]["id"]
        charges = {
            "segment": "NSE",
            "exchange": "NSE",
            "productType": "MIS",
            "quantity": 10,
            "buyPrice": 100,
            "sellPrice": 101,
        }
        # (who, method, path, body): each would otherwise succeed or fail on its own merits.
        routes: list[tuple[Client, str, str, dict[str, Any]]] = [
            (user, "POST", "/api/trading/orders", order_body(account_id)),
            (user, "PATCH", "/api/trading/orders", {"orderId": order_id, "quantity": 20}),
            (user, "DELETE", "/api/trading/orders", {"orderId": order_id}),
            (user, "POST", "/api/trading/positions", {"positionId": "p", "tradingAccountId": "a"}),
            (user, "PATCH", "/api/trading/positions", {"positionId": "p", "stopLoss": None}),
            (user, "POST", "/api/trading/charges", charges),
            (user, "POST", "/api/trading/margins", order_body(account_id)),
            (user, "POST", "/api/console", {"action": "UPDATE_PROFILE", "name": "Me"}),
            (admin, "POST", "/api/admin/deposits", {"depositId": "d", "action": "APPROVE"}),
            (admin, "POST", "/api/admin/withdrawals", {"withdrawalId": "w", "action": "REJECT"}),
            (
                admin,
                "POST",
                "/api/trading/funds",
                {"tradingAccountId": account_id, "operation": "CREDIT", "amount": 1},
            ),
        ]
        for client, method, path, body in routes:
            status, reply, _ = await client.call(method, path, body | {"userId": "someone-else"})
            assert (status, reply["error"]["code"]) == (403, "FORBIDDEN"), (method, path)
        status, reply, _ = await user.call(
            "DELETE", f"/api/trading/orders?orderId={order_id}&userId=someone-else"
        )
        assert (status, reply["error"]["code"]) == (403, "FORBIDDEN")

        # The caller's own id is ignored: each route answers as it would without it.
        mine, admins = await user_id_of(user), await user_id_of(admin)
        for client, method, path, body in routes:
            own = mine if client is user else admins
            status, reply, _ = await client.call(method, path, body | {"userId": own})
            _, without, _ = await client.call(method, path, body)
            assert status not in (400, 403), (method, path, reply)
            if status >= 400:  # the same refusal both ways (e.g. 404 for the made-up ids)
                assert reply["error"]["code"] == without["error"]["code"], (method, path)

    run_scenario(database, master, scenario)


def test_rate_limited_route_when_it_errs_then_headers_still_sent(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "headers@paperdesk.test", 1_000)
        answers = [
            # 422 raised by the order route, 400 from validation, 404 from ownership, 200
            await user.call("POST", "/api/trading/orders", order_body(account_id, quantity=1000)),
            await user.call("POST", "/api/trading/orders", order_body(account_id, quantity=0)),
            await user.call("GET", "/api/trading/funds?tradingAccountId=not-mine"),
            await user.call("GET", "/api/trading/funds"),
        ]
        statuses = [status for status, _, _ in answers]
        assert statuses == [422, 400, 404, 200]
        remaining = [int(headers["X-RateLimit-Remaining"]) for _, _, headers in answers]
        assert [headers["X-RateLimit-Limit"] for _, _, headers in answers] == [
            "20",
            "20",
            "100",
            "100",
        ]
        assert remaining[0] - 1 == remaining[1]  # the two orders counted in one window
        assert remaining[2] - 1 == remaining[3]
        assert all(headers["X-RateLimit-Reset"].endswith("Z") for _, _, headers in answers)

    run_scenario(database, master, scenario)


def test_admin_request_lists_when_longer_than_limit_then_cursor_pages(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("pages@paperdesk.test")
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        _, bank, _ = await user.call("POST", "/api/console", BANK)
        created = []
        for amount in (100, 200, 300, 400, 500):
            status, body, _ = await user.call(
                "POST",
                "/api/console",
                {
                    "action": "REQUEST_DEPOSIT",
                    "amount": amount,
                    "bankAccountId": bank["bankAccount"]["id"],
                },
            )
            assert status == 200, body
            created.append(body["deposit"]["id"])

        seen: list[str] = []
        path = "/api/admin/deposits?status=PENDING&limit=2"
        cursors = []
        while True:
            status, body, _ = await admin.call("GET", path)
            assert status == 200, body
            assert len(body["items"]) <= 2
            seen += [item["id"] for item in body["items"]]
            if body["nextCursor"] is None:
                break
            cursors.append(body["nextCursor"])
            path = f"/api/admin/deposits?status=PENDING&limit=2&cursor={body['nextCursor']}"
        assert len(cursors) == 2  # 2 + 2 + 1
        assert seen == created[::-1]  # newest first, each once

        status, body, _ = await admin.call("GET", "/api/admin/withdrawals?limit=2")
        assert (status, body["items"], body["nextCursor"]) == (200, [], None)
        status, body, _ = await admin.call("GET", "/api/admin/deposits?cursor=yesterday")
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.cursor")

    run_scenario(database, master, scenario)


def test_order_names_when_symbol_or_stock_id_disagree_then_400(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "names@paperdesk.test", 100_000)
        for overrides, path in [
            ({"symbol": "TCS"}, "$.symbol"),
            ({"stockId": "NSE:TCS"}, "$.stockId"),
            ({"stockId": "NSE_EQ|NOPE"}, "$.stockId"),
        ]:
            status, body, _ = await user.call(
                "POST", "/api/trading/orders", order_body(account_id, **overrides)
            )
            assert (status, body["error"]["details"][0]["path"]) == (400, path), overrides
        status, body, _ = await user.call(
            "POST",
            "/api/trading/orders",
            order_body(account_id, symbol="reliance", stockId="NSE:RELIANCE"),
        )
        assert (status, body["order"]["symbol"]) == (200, "RELIANCE")

    run_scenario(database, master, scenario)
