"""GTT routes over HTTP, against the real server and PostgreSQL (docs/API.md "GTT").

Proves: a GTT is placed, listed, read, modified and deleted; a body the document refuses
answers 400 naming the field (no trigger) and terms the rules refuse 422 naming it (triggers or
orders not matching the type, two-leg triggers out of order, a LIMIT leg without a price, a
trigger on the wrong side of the last price); deleted or fired, it answers 409 to
a modification; one placed against a last price it has already crossed fires at once, and its
order refused (outside the circuit band) leaves it REJECTED with the reason and the order kept
REJECTED; another user's GTT answers 404.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import Client, eventually, run_scenario
from tests.e2e.test_trading_journey import RELIANCE, funded_user, ltp


def gtt_body(account_id: str, triggers: list[float], **overrides: Any) -> dict[str, Any]:
    orders = [
        {"orderSide": "BUY", "quantity": 1, "productType": "CNC", "price": trigger}
        for trigger in triggers
    ]
    body = {
        "tradingAccountId": account_id,
        "instrumentId": RELIANCE,
        "type": "TWO_LEG" if len(triggers) == 2 else "SINGLE",
        "triggerValues": triggers,
        "orders": orders,
    }
    return body | overrides


def path_of(body: Any) -> str:
    return str(body["error"]["details"][0]["path"])


def tick(rupees: float) -> float:
    return round(round(rupees * 10) / 10, 2)  # RELIANCE's tick is ₹0.10


def test_gtt_routes_when_used_then_lifecycle_and_errors_as_documented(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "gtt@paperdesk.test", 100_000)
        price = await ltp(user)
        low, high = tick(price * 0.5), tick(price * 1.5)

        status, body, _ = await user.call(
            "POST", "/api/trading/gtt", gtt_body(account_id, [low, high])
        )
        assert status == 200, body
        gtt = body["gtt"]
        assert (gtt["status"], gtt["type"], gtt["triggerValues"]) == (
            "ACTIVE",
            "TWO_LEG",
            [low, high],
        )
        assert gtt["orders"][0]["orderType"] == "LIMIT" and gtt["orderId"] is None
        gtt_id = gtt["id"]

        status, body, _ = await user.call("GET", f"/api/trading/gtt/{gtt_id}")
        assert status == 200 and body["gtt"]["id"] == gtt_id, body
        status, body, _ = await user.call("GET", "/api/trading/gtt?status=ACTIVE")
        assert status == 200 and [g["id"] for g in body["items"]] == [gtt_id], body

        # Bodies the document refuses (400) and terms the rules refuse (422) name the field
        # at fault.
        empty = gtt_body(account_id, [low])
        empty["triggerValues"] = []
        status, body, _ = await user.call("POST", "/api/trading/gtt", empty)
        assert (status, path_of(body)) == (400, "$.triggerValues"), body
        single_with_two = gtt_body(account_id, [low, high])
        single_with_two["type"] = "SINGLE"
        status, body, _ = await user.call("POST", "/api/trading/gtt", single_with_two)
        assert (status, body["error"]["code"]) == (422, "INVALID_TRIGGER"), body
        assert path_of(body) == "$.triggerValues"
        status, body, _ = await user.call(
            "POST", "/api/trading/gtt", gtt_body(account_id, [high, low])
        )
        assert (status, body["error"]["code"]) == (422, "INVALID_TRIGGER"), body
        assert path_of(body) == "$.triggerValues[0]"
        no_price = gtt_body(account_id, [low])
        del no_price["orders"][0]["price"]
        status, body, _ = await user.call("POST", "/api/trading/gtt", no_price)
        assert (status, body["error"]["code"]) == (422, "INVALID_PRICE"), body
        assert path_of(body) == "$.orders[0].price"
        wrong_side = gtt_body(account_id, [low, high], lastPrice=tick(low * 0.9))
        status, body, _ = await user.call("POST", "/api/trading/gtt", wrong_side)
        assert (status, body["error"]["code"]) == (422, "INVALID_TRIGGER"), body
        assert path_of(body) == "$.triggerValues[0]"

        # Modify while active, then delete; deleted, it is no longer active.
        modified = gtt_body(account_id, [tick(price * 0.6)])
        del modified["tradingAccountId"], modified["instrumentId"]
        status, body, _ = await user.call("PUT", f"/api/trading/gtt/{gtt_id}", modified)
        assert status == 200, body
        assert (body["gtt"]["type"], body["gtt"]["version"]) == ("SINGLE", 1)
        status, body, _ = await user.call("DELETE", f"/api/trading/gtt/{gtt_id}")
        assert (status, body["gtt"]["status"]) == (200, "CANCELLED"), body
        status, body, _ = await user.call("DELETE", f"/api/trading/gtt/{gtt_id}")
        assert (status, body["error"]["code"]) == (409, "GTT_NOT_ACTIVE"), body

        async def stored_cancelled() -> bool:
            status, body, _ = await user.call("GET", f"/api/trading/gtt/{gtt_id}")
            return status == 200 and body["gtt"]["status"] == "CANCELLED"

        await eventually(stored_cancelled)

        # Placed against a last price below a trigger the market is already above: it fires
        # at once and places its order, which the account refuses (a BUY LIMIT at half the
        # price, outside the circuit band): the GTT is REJECTED with the order's reason.
        fired_body = gtt_body(account_id, [low], lastPrice=tick(low * 0.9))
        status, body, _ = await user.call("POST", "/api/trading/gtt", fired_body)
        assert status == 200, body
        fired_id = body["gtt"]["id"]
        fired: dict[str, Any] = {}

        async def triggered() -> bool:
            status, body, _ = await user.call("GET", f"/api/trading/gtt/{fired_id}")
            fired.update(body.get("gtt", {}))
            return status == 200 and body["gtt"]["status"] == "REJECTED"

        await eventually(triggered)
        assert fired["triggeredLeg"] == 0 and fired["triggeredPrice"] >= low
        assert fired["rejectionReason"] == "INVALID_PRICE"
        status, body, _ = await user.call("GET", f"/api/trading/orders/{fired['orderId']}")
        assert status == 200, body
        assert (body["order"]["status"], body["order"]["price"]) == ("REJECTED", low)
        status, body, _ = await user.call("PUT", f"/api/trading/gtt/{fired_id}", modified)
        assert (status, body["error"]["code"]) == (409, "GTT_NOT_ACTIVE"), body

        # Another user's GTT is not found, whatever they ask of it.
        other = Client(session, base)
        await other.register("other-gtt@paperdesk.test")
        for method in ("GET", "DELETE"):
            status, body, _ = await other.call(method, f"/api/trading/gtt/{fired_id}")
            assert status == 404, (method, body)
        status, body, _ = await other.call("PUT", f"/api/trading/gtt/{fired_id}", modified)
        assert status == 404, body
        status, body, _ = await other.call("GET", "/api/trading/gtt")
        assert (status, body["items"]) == (200, []), body

    run_scenario(database, master, scenario)
