"""The gateway's market-data and health routes, over a real HTTP server on loopback.

Proves that quotes come back for ids in both forms with the documented fields (the book's five
levels a side, best first, from the bid and the ask) and unknown ids left out, that
``mode=ltp`` trims the payload, that instrument search filters and bounds its
results, that bad queries answer 400 VALIDATION_ERROR naming the field, and that health,
detailed health (for an admin) and Prometheus metrics (on their own listener) report the running
engine.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from engine.config import load_config
from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    Scenario,
    run_scenario,
    scrape_metrics,
)


def run_against_server(master: InstrumentMaster, scenario: Scenario, dsn: str) -> None:
    run_scenario(dsn, master, scenario, load_config(metrics={"port": 0}, kite={"port": 0}))


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


def test_quotes_when_ids_in_both_forms_then_full_quotes_and_unknown_absent(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        params = [("q", "NSE_EQ|INE002A01018"), ("q", "NSE:TCS"), ("q", "NSE:NOSUCH")]
        async with session.get(f"{base}/api/quotes", params=params) as response:
            assert response.status == 200
            body = await response.json()
        assert set(body["data"]) == {"NSE_EQ|INE002A01018", "NSE:TCS"}
        quote = body["data"]["NSE:TCS"]
        assert set(quote) == {
            "ltp",
            "bid",
            "ask",
            "open",
            "high",
            "low",
            "close",
            "change",
            "changePercent",
            "volume",
            "depth",
            "timestamp",
        }
        assert quote["bid"] < quote["ask"]
        buy, sell = quote["depth"]["buy"], quote["depth"]["sell"]
        assert len(buy) == len(sell) == 5
        assert (buy[0]["price"], sell[0]["price"]) == (quote["bid"], quote["ask"])
        buy_prices, sell_prices = [b["price"] for b in buy], [s["price"] for s in sell]
        assert buy_prices == sorted(buy_prices, reverse=True), "bids best (highest) first"
        assert sell_prices == sorted(sell_prices), "asks best (lowest) first"
        assert all(level["quantity"] > 0 and level["orders"] >= 1 for level in buy + sell)
        assert quote["low"] <= quote["ltp"] <= quote["high"]
        assert quote["close"] == 3148.5  # the previous close from the master
        assert round(quote["ltp"] - quote["close"], 2) == quote["change"]
        assert quote["timestamp"].endswith("Z")

    run_against_server(master, scenario, database)


def test_quotes_when_mode_ltp_then_only_price_and_time(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body = await get_json(session, f"{base}/api/quotes?q=NSE:INFY&mode=ltp")
        assert status == 200
        assert set(body["data"]["NSE:INFY"]) == {"ltp", "timestamp"}

    run_against_server(master, scenario, database)


def test_quotes_when_query_invalid_then_400_with_field(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body = await get_json(session, f"{base}/api/quotes")
        assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
        assert body["error"]["details"][0]["path"] == "$.q"
        status, body = await get_json(session, f"{base}/api/quotes?q=NSE:TCS&mode=depth")
        assert status == 400
        assert body["error"]["details"][0]["path"] == "$.mode"
        too_many = "&".join(f"q=NSE:X{n}" for n in range(501))
        status, body = await get_json(session, f"{base}/api/quotes?{too_many}")
        assert status == 400
        assert body["error"]["details"][0]["path"] == "$.q"

    run_against_server(master, scenario, database)


def test_instrument_search_when_filtered_then_matching_items_within_limit(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body = await get_json(
            session, f"{base}/api/instruments?search=nifty&exchange=NFO&limit=5"
        )
        assert status == 200
        assert len(body["items"]) == 5
        assert all(
            item["exchange"] == "NFO" and "NIFTY" in item["symbol"] for item in body["items"]
        )
        status, body = await get_json(
            session, f"{base}/api/instruments?search=RELIANCE&exchange=BSE"
        )
        assert [item["instrumentId"] for item in body["items"]] == ["BSE_EQ|INE002A01018"]
        option = next(i for i in master if i.is_option)
        status, body = await get_json(session, f"{base}/api/instruments?search={option.symbol}")
        assert body["items"][0]["optionType"] in ("CE", "PE")
        assert body["items"][0]["lotSize"] == option.lot_size

    run_against_server(master, scenario, database)


def test_instrument_search_when_limit_out_of_range_then_400(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        for query in ("limit=0", "limit=501", "limit=abc", "exchange=NYSE"):
            status, body = await get_json(session, f"{base}/api/instruments?{query}")
            assert status == 400, query
            assert body["error"]["code"] == "VALIDATION_ERROR"
            assert body["error"]["details"][0]["path"] in ("$.limit", "$.exchange")

    run_against_server(master, scenario, database)


def test_health_and_metrics_when_engine_running_then_report_it(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body = await get_json(session, f"{base}/api/health")
        assert (status, body["status"]) == (200, "healthy")
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        status, body, _ = await admin.call("GET", "/api/health/detailed")
        assert status == 200
        assert body["checks"]["marketData"]["status"] == "healthy"
        assert body["checks"]["database"]["status"] == "healthy"
        assert body["checks"]["actors"]["runtime"] == "pooled"
        text = await scrape_metrics(session, base)
        assert "paperdesk_market_ticks_total" in text
        assert (
            'paperdesk_http_request_duration_seconds_count{method="GET",route="/api/health"' in text
        )

    run_against_server(master, scenario, database)
