"""Every error row of docs/API.md, produced by the real server: status, code and the field at fault.

Also: CSRF on cookie sessions, rate limits with their headers (the 21st order in a minute is
429 with Retry-After), login throttling, admin-only routes, and another user's objects
answering 404 on every route that takes an id.
"""

from __future__ import annotations

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, e2e_config, run_scenario
from tests.e2e.test_trading_journey import RELIANCE, funded_user, ltp, order_body


def test_errors_when_requests_are_bad_then_api_table_codes(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        anonymous = Client(session, base)
        status, body, _ = await anonymous.call("GET", "/api/trading/funds")
        assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")

        user, account_id = await funded_user(session, base, "errors@paperdesk.test", 10_000)
        async with session.post(
            base + "/api/trading/orders",
            data=b"{not json",
            headers=user.headers | {"Content-Type": "application/json"},
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "INVALID_JSON"

        cases = [
            ({"quantity": 0}, "$.quantity"),
            ({"orderType": "STOP"}, "$.orderType"),
            ({"price": 10.005, "orderType": "LIMIT"}, "$.price"),
            ({"instrumentId": "NSE_EQ|NOPE"}, "$.instrumentId"),
            ({"segment": "NFO-OPT"}, "$.segment"),
            ({"surprise": 1}, "$.surprise"),
            ({"clientOrderId": "retry\u0000-1"}, "$.clientOrderId"),  # PostgreSQL cannot store NUL
        ]
        for overrides, path in cases:
            status, body, _ = await user.call(
                "POST", "/api/trading/orders", order_body(account_id, **overrides)
            )
            assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR"), overrides
            assert body["error"]["details"][0]["path"] == path, overrides

        status, body, _ = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, quantity=10_000)
        )
        assert (status, body["error"]["code"]) == (422, "INSUFFICIENT_FUNDS")
        assert body["error"]["details"]["order"]["status"] == "REJECTED"
        assert (
            body["error"]["details"]["requiredMargin"] > body["error"]["details"]["availableMargin"]
        )

        price = round(await ltp(user) * 2, 1)  # outside the ±20 % band
        status, body, _ = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, orderType="LIMIT", price=price)
        )
        assert (status, body["error"]["code"]) == (422, "INVALID_PRICE")
        status, body, _ = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, productType="NRML")
        )
        assert (status, body["error"]["code"]) == (422, "PRODUCT_NOT_ALLOWED")
        status, body, _ = await user.call(
            "POST",
            "/api/trading/orders",
            order_body(account_id, productType="CNC", orderSide="SELL"),
        )
        assert (status, body["error"]["code"]) == (422, "INSUFFICIENT_HOLDINGS")
        nifty_option = next(i for i in master if i.is_option)
        status, body, _ = await user.call(
            "POST",
            "/api/trading/orders",
            order_body(
                account_id, instrumentId=nifty_option.instrument_id, productType="NRML", quantity=1
            ),
        )
        assert (status, body["error"]["code"]) == (422, "INVALID_QUANTITY")
        lot = nifty_option.lot_size
        above = (nifty_option.freeze_quantity // lot + 1) * lot  # whole lots, one lot too many
        status, body, _ = await user.call(
            "POST",
            "/api/trading/orders",
            order_body(
                account_id,
                instrumentId=nifty_option.instrument_id,
                productType="NRML",
                quantity=above,
            ),
        )
        assert (status, body["error"]["code"]) == (422, "ABOVE_FREEZE_QUANTITY")
        assert body["error"]["details"]["path"] == "$.quantity"
        assert body["error"]["details"]["order"]["status"] == "REJECTED"
        assert "freezeQuantity" in body["error"]["message"]
        index = master.get("NSE:NIFTY 50")
        assert index is not None
        for route in ("/api/trading/orders", "/api/trading/margins"):
            status, body, _ = await user.call(
                "POST", route, order_body(account_id, instrumentId=index.instrument_id)
            )
            assert (status, body["error"]["code"]) == (422, "NOT_TRADABLE"), route
            assert body["error"]["details"] == [
                {"path": "$.instrumentId", "message": "an index is not tradable"}
            ]
        status, body, _ = await user.call("GET", "/api/quotes?q=NSE:NIFTY%2050")
        assert status == 200  # quoted all the same
        assert body["data"]["NSE:NIFTY 50"]["ltp"] > 0

        status, body, _ = await user.call(
            "POST",
            "/api/trading/funds",
            {
                "tradingAccountId": account_id,
                "operation": "CREDIT",
                "amount": 1,
                "description": "x",
            },
        )
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
        status, body, _ = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, userId="someone-else")
        )
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")

    run_scenario(database, master, scenario)


def test_other_users_objects_when_requested_then_404(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        owner, owner_account = await funded_user(session, base, "owner@paperdesk.test", 50_000)
        price = round(await ltp(owner) * 0.9, 1)
        _, placed, _ = await owner.call(
            "POST", "/api/trading/orders", order_body(owner_account, orderType="LIMIT", price=price)
        )
        order_id = placed["order"]["id"]
        intruder, _ = await funded_user(session, base, "intruder@paperdesk.test", 50_000)
        requests = [
            ("GET", f"/api/trading/funds?tradingAccountId={owner_account}", None),
            ("GET", f"/api/trading/orders?tradingAccountId={owner_account}", None),
            ("GET", f"/api/trading/positions?tradingAccountId={owner_account}", None),
            ("POST", "/api/trading/orders", order_body(owner_account)),
            ("PATCH", "/api/trading/orders", {"orderId": order_id, "price": price - 1}),
            ("DELETE", f"/api/trading/orders?orderId={order_id}", None),
            (
                "POST",
                "/api/trading/positions",
                {"positionId": "p-1", "tradingAccountId": owner_account},
            ),
            ("PATCH", "/api/trading/positions", {"positionId": "p-1", "target": 1}),
        ]
        for method, path, body in requests:
            status, reply, _ = await intruder.call(method, path, body)
            assert (status, reply["error"]["code"]) == (404, "NOT_FOUND"), (method, path)
        _, still, _ = await owner.call("GET", "/api/trading/orders?status=PENDING")
        assert [o["id"] for o in still["items"]] == [order_id]

    run_scenario(database, master, scenario)


def test_cookie_session_when_csrf_missing_then_403(master: InstrumentMaster, database: str) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("cookie@paperdesk.test")
        login = await user.login("cookie@paperdesk.test", "password-123")
        user.headers.clear()  # from now on the session cookie alone authenticates
        status, body, _ = await user.call("GET", "/api/trading/funds")
        assert status == 200, body
        status, body, _ = await user.call("POST", "/api/trading/margins", order_body("any-account"))
        assert (status, body["error"]["code"]) == (403, "CSRF_FAILED")
        user.headers["X-CSRF-Token"] = "wrong"
        status, body, _ = await user.call("POST", "/api/auth/logout")
        assert (status, body["error"]["code"]) == (403, "CSRF_FAILED")
        user.headers["X-CSRF-Token"] = login["csrfToken"]
        status, _, _ = await user.call("POST", "/api/auth/logout")
        assert status == 204
        user.headers.clear()
        status, body, _ = await user.call("GET", "/api/trading/funds")
        assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")

    run_scenario(database, master, scenario)


def test_orders_when_21st_in_a_minute_then_429_with_headers(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "busy@paperdesk.test", 1_000_000)
        price = round(await ltp(user) * 0.9, 1)
        for n in range(20):
            status, _, headers = await user.call(
                "POST",
                "/api/trading/orders",
                order_body(account_id, orderType="LIMIT", price=price),
            )
            assert status == 200
            assert headers["X-RateLimit-Limit"] == "20"
            assert headers["X-RateLimit-Remaining"] == str(19 - n)
            assert headers["X-RateLimit-Reset"].endswith("Z")
        status, body, headers = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, orderType="LIMIT", price=price)
        )
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert headers["X-RateLimit-Remaining"] == "0"
        status, _, _ = await user.call("GET", "/api/trading/funds")  # other routes still work
        assert status == 200

    run_scenario(database, master, scenario)


def test_login_when_sixth_attempt_in_15_minutes_then_429(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        client = Client(session, base)
        for _ in range(5):
            status, body, _ = await client.call(
                "POST", "/api/auth/login", {"email": ADMIN_EMAIL, "password": "wrong-password"}
            )
            assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")
        status, body, headers = await client.call(
            "POST", "/api/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        assert "Retry-After" in headers

    run_scenario(database, master, scenario)


def test_quotes_when_public_then_no_session_needed(master: InstrumentMaster, database: str) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body, _ = await Client(session, base).call("GET", f"/api/quotes?q={RELIANCE}")
        assert status == 200
        assert RELIANCE in body["data"]

    run_scenario(database, master, scenario, e2e_config())
