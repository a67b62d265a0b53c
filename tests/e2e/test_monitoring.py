"""Monitoring over the real server: the admin performance monitor (summary, operation, slow,
failed, clear; 403 for users) and the Prometheus metrics for orders, journal and websockets,
scraped from the metrics listener."""

from __future__ import annotations

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, run_scenario, scrape_metrics
from tests.e2e.test_trading_journey import funded_user, order_body


def test_monitoring_when_admin_then_figures_per_operation(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "watch@paperdesk.test", 10_000)
        status, _, _ = await user.call("POST", "/api/trading/orders", order_body(account_id))
        assert status == 200
        status, body, _ = await user.call("GET", "/api/monitoring/performance")
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")

        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        status, body, _ = await admin.call("GET", "/api/monitoring/performance?type=summary")
        assert status == 200
        by_name = {item["operation"]: item for item in body["items"]}
        place = by_name["POST /api/trading/orders"]
        assert place["count"] == 1 and place["successRate"] == 1.0
        assert 0 < place["p50Ms"] <= place["p99Ms"]
        status, body, _ = await admin.call(
            "GET", "/api/monitoring/performance?type=operation&operation=POST%20/api/trading/orders"
        )
        assert (status, body["count"]) == (200, 1)
        status, body, _ = await admin.call(
            "GET", "/api/monitoring/performance?type=slow&threshold=0"
        )
        assert status == 200 and len(body["items"]) > 0
        status, body, _ = await admin.call("GET", "/api/monitoring/performance?type=failed")
        assert (status, body["items"]) == (200, [])
        status, body, _ = await admin.call("GET", "/api/monitoring/performance?type=operation")
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.operation")
        status, _, _ = await admin.call("DELETE", "/api/monitoring/performance")
        assert status == 204
        status, body, _ = await admin.call(
            "GET", "/api/monitoring/performance?type=operation&operation=POST%20/api/trading/orders"
        )
        assert status == 404

        text = await scrape_metrics(session, base)
        assert 'paperdesk_orders_total{outcome="accepted"} 1.0' in text
        assert "paperdesk_journal_events_written_total" in text
        assert "paperdesk_journal_degraded 0.0" in text
        assert "paperdesk_websocket_clients 0.0" in text
        for gauge in ("open_positions", "unrealized_pnl_rupees", "accounts_in_loss"):
            assert f"# TYPE paperdesk_{gauge} gauge" in text  # the market's risk marks

    run_scenario(database, master, scenario)
