"""The option routes and the option fields of quotes, over a real HTTP server on loopback with
PostgreSQL behind it (docs/API.md "Market data" and "Trading").

Proves that ``GET /api/optionchain`` answers NIFTY's chain with its strikes in order, every CE/PE
pair of the master on its row, greeks of the right signs, the listed future and the ATM strike
nearest it, the nearest expiry by default and any case of the name; that an unknown underlying,
one with futures only and an expiry with no options answer 404 naming the field, a malformed
expiry 400; that quotes in full mode carry an option's IV and greeks and every derivative's and
index's underlying prices (``mode=ltp`` none of it), and an option's quote frames on the
websocket carry its IV and greeks; that ``GET /api/underlyings`` lists each underlying, an index
spot with no derivatives too (which has no chain and no payoff: 404); and that
``GET /api/trading/payoff`` shows an option bought and a future sold through the API on a
101-point grid around the spot, its today curve meeting their unrealised P&L at the spot, for
the caller's own account only (another user's answers 404, as positions do). Every answer
matches its shape in ``gateway.replies`` (what the OpenAPI document publishes)."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import msgspec

from engine.domain.instruments import InstrumentMaster
from gateway import replies
from tests.e2e.conftest import Client, eventually, run_scenario
from tests.e2e.test_trading_journey import funded_user
from tests.e2e.test_websocket import next_of

CALL = "NFO:NIFTY26DEC26000CE"
CALL_ID = "NSE_FO|45430"
FUTURE = "NSE_FO|52166"  # NIFTY26DECFUT
SIDE_KEYS = {"instrumentId", "symbol", "ltp", "bid", "ask", "iv", "delta", "gamma", "theta", "vega"}
GREEKS = {"iv", "delta", "gamma", "theta", "vega"}


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def ticked(session: aiohttp.ClientSession, base: str) -> None:
    """Wait for the market's first tick (quotes are absent before it)."""

    async def priced() -> bool:
        _, body = await get(session, f"{base}/api/quotes?q={CALL}&mode=ltp")
        return CALL in body["data"]

    await eventually(priced)


def test_optionchain_when_nifty_then_every_pair_by_strike_with_greeks_and_atm(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        await ticked(session, base)
        status, chain = await get(session, f"{base}/api/optionchain?underlying=NIFTY")
        assert status == 200, chain
        msgspec.convert(chain, replies.OptionChain)
        assert set(chain) == {
            "underlying", "expiry", "expiries", "spot", "future", "futureSource", "atmStrike",
            "timestamp", "strikes",
        }  # fmt: skip
        assert (chain["underlying"], chain["expiry"]) == ("NIFTY", "2026-12-29")
        assert chain["expiries"] == ["2026-12-29"]
        assert chain["futureSource"] == "listed"
        assert chain["future"] > chain["spot"] > 0  # carried to expiry
        listed = {
            (i.strike_paise / 100, i.instrument_type.value): i.instrument_id
            for i in master
            if i.is_option and i.underlying == "NIFTY"
        }
        strikes = [row["strike"] for row in chain["strikes"]]
        assert strikes == sorted({strike for strike, _ in listed})
        for row in chain["strikes"]:
            call, put = row["call"], row["put"]
            assert set(call) == set(put) == SIDE_KEYS
            assert call["instrumentId"] == listed[(row["strike"], "CE")]
            assert put["instrumentId"] == listed[(row["strike"], "PE")]
            for side in (call, put):
                assert 0 < side["bid"] < side["ask"]
                assert 1 < side["iv"] < 100  # percent
                assert side["gamma"] > 0 and side["vega"] > 0
            assert 0 < call["delta"] < 1 and -1 < put["delta"] < 0
        calls = [row["call"]["ltp"] for row in chain["strikes"]]
        puts = [row["put"]["ltp"] for row in chain["strikes"]]
        assert calls == sorted(calls, reverse=True) and puts == sorted(puts)
        # ATM: the strike nearest the forward, which the listed future is (to its rounding).
        assert chain["atmStrike"] in strikes
        assert abs(chain["atmStrike"] - chain["future"]) <= 50 + 0.1

        dated = "underlying=nifty&expiry=2026-12-29"
        status, again = await get(session, f"{base}/api/optionchain?{dated}")
        assert status == 200 and again["underlying"] == "NIFTY"
        assert [r["strike"] for r in again["strikes"]] == strikes
        status, bank = await get(session, f"{base}/api/optionchain?underlying=BANKNIFTY")
        assert status == 200
        assert [r["strike"] for r in bank["strikes"]] == [58_500, 59_000, 59_500]

    run_scenario(database, master, scenario)


def test_optionchain_when_underlying_or_expiry_wrong_then_404_or_400_naming_the_field(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        cases = [
            ("underlying=NOSUCH", 404, "UNKNOWN_UNDERLYING", "$.underlying"),
            ("underlying=SENSEX", 404, "UNKNOWN_UNDERLYING", "$.underlying"),  # futures only
            ("underlying=NIFTY&expiry=2026-12-31", 404, "EXPIRY_NOT_LISTED", "$.expiry"),
            ("underlying=NIFTY&expiry=2026-13-01", 400, "VALIDATION_ERROR", "$.expiry"),
            ("underlying=NIFTY&expiry=29-12-2026", 400, "VALIDATION_ERROR", "$.expiry"),
            ("expiry=2026-12-29", 400, "VALIDATION_ERROR", "$.underlying"),
            ("underlying=NIFTY&strike=26000", 400, "VALIDATION_ERROR", "$.strike"),
        ]
        for query, status, code, path in cases:
            got, body = await get(session, f"{base}/api/optionchain?{query}")
            assert (got, body["error"]["code"]) == (status, code), (query, body)
            assert body["error"]["details"][0]["path"] == path, query
            assert body["error"]["message"]
        _, body = await get(session, f"{base}/api/optionchain?underlying=NIFTY&expiry=2026-12-31")
        assert "2026-12-29" in body["error"]["message"]  # the expiries that are listed

    run_scenario(database, master, scenario)


def test_quotes_when_full_mode_then_options_have_greeks_and_derivatives_their_underlying(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        await ticked(session, base)
        ids = [CALL, "NFO:NIFTY26DEC26000PE", FUTURE, "NSE:NIFTY 50", "NSE:TCS",
               "MCX:CRUDEOIL26DECFUT", "BFO:SENSEX26DECFUT"]  # fmt: skip
        query = "&".join(f"q={i}" for i in ids)
        status, body = await get(session, f"{base}/api/quotes?{query}&mode=full")
        assert status == 200
        msgspec.convert(body, replies.Quotes)
        quotes = body["data"]
        call, put = quotes[CALL], quotes["NFO:NIFTY26DEC26000PE"]
        for option in (call, put):
            assert set(option) >= GREEKS and "underlying" in option
            assert 1 < option["iv"] < 100
            assert option["gamma"] > 0 and option["vega"] > 0
        assert 0 < call["delta"] < 1 and -1 < put["delta"] < 0
        assert call["theta"] < 0  # an at-the-money call loses value as days pass
        index = quotes["NSE:NIFTY 50"]
        assert index["underlying"]["spot"] == index["ltp"]  # its own price, the same tick
        # Quotes of one request may straddle a tick: the same prices within a few points.
        assert abs(call["underlying"]["spot"] - index["ltp"]) < 26_000 * 0.002
        assert abs(call["underlying"]["future"] - quotes[FUTURE]["ltp"]) < 26_000 * 0.002
        assert quotes[FUTURE]["underlying"]["future"] == quotes[FUTURE]["ltp"]
        assert not GREEKS & set(quotes[FUTURE])
        crude = quotes["MCX:CRUDEOIL26DECFUT"]
        assert crude["underlying"]["future"] == crude["ltp"]
        assert crude["underlying"]["spot"] > 0  # MCX:CRUDEOIL, its reference price
        assert quotes["BFO:SENSEX26DECFUT"]["underlying"]["spot"] > 0  # BSE:SENSEX
        assert "underlying" not in quotes["NSE:TCS"] and not GREEKS & set(quotes["NSE:TCS"])

        status, body = await get(session, f"{base}/api/quotes?q={CALL}&mode=ltp")
        assert set(body["data"][CALL]) == {"ltp", "timestamp"}

        status, body = await get(session, f"{base}/api/underlyings")
        assert status == 200
        msgspec.convert(body, replies.UnderlyingList)
        by_name = {item["underlying"]: item for item in body["items"]}
        assert list(by_name) == ["BANKNIFTY", "CRUDEOIL", "FINNIFTY", "GOLD", "NIFTY", "SENSEX"]
        assert by_name["NIFTY"] == {
            "underlying": "NIFTY",
            "spotInstrumentId": "NSE_INDEX|NIFTY 50",
            "futureExpiries": ["2026-12-29"],
            "optionExpiries": ["2026-12-29"],
        }
        assert by_name["CRUDEOIL"]["spotInstrumentId"] == "MCX_INDEX|CRUDEOIL"
        assert by_name["GOLD"]["futureExpiries"] == []  # a spot with nothing listed on it
        assert by_name["SENSEX"]["optionExpiries"] == []

    run_scenario(database, master, scenario)


async def place(user: Client, account_id: str, instrument_id: str, side: str) -> None:
    body = {
        "tradingAccountId": account_id,
        "instrumentId": instrument_id,
        "quantity": 65,
        "orderType": "MARKET",
        "orderSide": side,
        "productType": "NRML",
    }
    status, reply, _ = await user.call("POST", "/api/trading/orders", body)
    assert status == 200, reply


def test_payoff_when_option_bought_and_future_sold_then_curves_meet_pnl_at_the_spot(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "payoff@paperdesk.test", 500_000)
        await ticked(session, base)
        status, empty, _ = await user.call("GET", "/api/trading/payoff?underlying=NIFTY")
        assert status == 200, empty
        assert empty["positions"] == [] and len(empty["points"]) == 101
        assert (
            {p["expiry"] for p in empty["points"]} == {p["today"] for p in empty["points"]} == {0}
        )

        await place(user, account_id, CALL_ID, "BUY")
        await place(user, account_id, FUTURE, "SELL")

        async def both_open() -> bool:
            _, listed, _ = await user.call("GET", "/api/trading/positions?status=OPEN")
            return len(listed["items"]) == 2

        await eventually(both_open)
        query = f"underlying=NIFTY&tradingAccountId={account_id}"
        status, payoff, _ = await user.call("GET", f"/api/trading/payoff?{query}")
        assert status == 200, payoff
        msgspec.convert(payoff, replies.Payoff)
        assert payoff["underlying"] == "NIFTY" and payoff["nearestExpiry"] == "2026-12-29"
        legs = {leg["symbol"]: leg for leg in payoff["positions"]}
        assert set(legs) == {"NIFTY26DEC26000CE", "NIFTY26DECFUT"}
        assert legs["NIFTY26DEC26000CE"]["quantity"] == 65
        assert legs["NIFTY26DECFUT"]["quantity"] == -65
        assert legs["NIFTY26DEC26000CE"]["iv"] > 1 and legs["NIFTY26DECFUT"]["iv"] is None
        points = payoff["points"]
        prices = [p["price"] for p in points]
        assert len(points) == 101 and prices == sorted(prices)
        spot = payoff["spot"]
        assert points[50]["price"] == spot
        assert abs(prices[0] - spot * 0.9) <= 0.01 and abs(prices[-1] - spot * 1.1) <= 0.01
        # Today, at the spot: the positions' P&L at their LTPs (of the same tick), within the
        # rounding of the model's prices to the tick (0.05 an option, 0.10 a NIFTY future).
        unrealised = sum(leg["unrealizedPnl"] for leg in payoff["positions"])
        assert abs(points[50]["today"] - unrealised) <= 65 * (0.05 + 0.10) + 0.01
        # At expiry: the call at its intrinsic value, the future at the price (a synthetic put).
        call_cost = legs["NIFTY26DEC26000CE"]["averagePrice"] * 65
        future_sold = legs["NIFTY26DECFUT"]["averagePrice"] * 65
        for point in points:
            price = point["price"]
            expected = 65 * max(price - 26_000, 0) - call_cost + future_sold - 65 * price
            assert abs(point["expiry"] - expected) <= 1, point

        status, same, _ = await user.call("GET", "/api/trading/payoff?underlying=nifty")
        assert status == 200 and {leg["id"] for leg in same["positions"]} == {
            leg["id"] for leg in payoff["positions"]
        }
        status, bank, _ = await user.call("GET", "/api/trading/payoff?underlying=BANKNIFTY")
        assert status == 200 and bank["positions"] == []

        other = Client(session, base)
        await other.register("other@paperdesk.test")
        named = f"tradingAccountId={account_id}"
        for path in (f"/api/trading/payoff?{query}", f"/api/trading/positions?{named}"):
            status, body, _ = await other.call("GET", path)
            assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), path
        status, body, _ = await user.call("GET", "/api/trading/payoff?underlying=NOSUCH")
        assert (status, body["error"]["code"]) == (404, "UNKNOWN_UNDERLYING")
        assert body["error"]["details"][0]["path"] == "$.underlying"
        status, body, _ = await user.call("GET", "/api/trading/payoff")
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.underlying")
        async with aiohttp.ClientSession() as anonymous:  # no session cookie
            status, body = await get(anonymous, f"{base}/api/trading/payoff?underlying=NIFTY")
        assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")

    run_scenario(database, master, scenario)


def test_websocket_when_option_subscribed_then_quote_frames_carry_its_greeks(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("chain-live@paperdesk.test")
        token = user.headers["Authorization"].removeprefix("Bearer ")
        async with session.ws_connect(base.replace("http", "ws") + f"/api/ws?token={token}") as ws:
            await ws.send_json({"op": "subscribe", "instruments": [CALL, FUTURE]})
            assert (await next_of(ws, "subscribed"))["data"]["count"] == 2
            frames: dict[str, dict[str, Any]] = {}
            while len(frames) < 2:
                quote = (await next_of(ws, "quote"))["data"]
                frames[quote["instrumentId"]] = quote
        option, future = frames[CALL_ID], frames[FUTURE]
        assert set(option) == {"instrumentId", "ltp", "bid", "ask", "change", "timestamp"} | GREEKS
        assert 1 < option["iv"] < 100 and 0 < option["delta"] < 1
        assert not GREEKS & set(future)  # a future's frame is as before

    run_scenario(database, master, scenario)


def test_index_without_derivatives_when_asked_then_listed_quoted_and_404_for_chain_and_payoff(
    master: InstrumentMaster, database: str
) -> None:
    nifty = master.get("NSE:NIFTY 50")
    assert nifty is not None
    index = dataclasses.replace(
        nifty,
        instrument_id="NSE_INDEX|NIFTY IT",
        token=26_008,
        symbol="NIFTY IT",
        name="Nifty IT",
        underlying="NIFTYIT",
    )
    with_index = InstrumentMaster([*master, index])

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("index-only@paperdesk.test")
        _, body = await get(session, f"{base}/api/underlyings")
        listed = {item["underlying"]: item for item in body["items"]}
        assert listed["NIFTYIT"] == {
            "underlying": "NIFTYIT",
            "spotInstrumentId": "NSE_INDEX|NIFTY IT",
            "futureExpiries": [],
            "optionExpiries": [],
        }

        async def quoted() -> bool:
            _, body = await get(session, f"{base}/api/quotes?q=NSE:NIFTY IT")
            return "NSE:NIFTY IT" in body["data"]

        await eventually(quoted)
        _, body = await get(session, f"{base}/api/quotes?q=NSE:NIFTY IT")
        quote = body["data"]["NSE:NIFTY IT"]
        assert quote["underlying"] == {"spot": quote["ltp"], "future": None}
        status, body = await get(session, f"{base}/api/optionchain?underlying=NIFTYIT")
        assert (status, body["error"]["code"]) == (404, "UNKNOWN_UNDERLYING")
        status, body, _ = await user.call("GET", "/api/trading/payoff?underlying=NIFTYIT")
        assert (status, body["error"]["code"]) == (404, "UNKNOWN_UNDERLYING")

    run_scenario(database, with_index, scenario)


def test_expiries_when_underlying_listed_then_its_unexpired_dates_weekly_or_monthly(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        status, body = await get(session, f"{base}/api/expiries?underlying=nifty")
        assert status == 200, body
        msgspec.convert(body, replies.ExpiryList)
        # The sample lists NIFTY's December 2026 monthly (the last Tuesday, the 29th), with
        # futures and options, expiring at the F&O close of 15:40 IST.
        assert body == {
            "underlying": "NIFTY",
            "items": [
                {
                    "date": "2026-12-29",
                    "expiresAt": "2026-12-29T10:10:00.000Z",
                    "kind": "MONTHLY",
                    "futures": True,
                    "options": True,
                }
            ],
        }
        status, body = await get(session, f"{base}/api/expiries?underlying=SENSEX")
        assert status == 200
        assert [(i["date"], i["futures"], i["options"]) for i in body["items"]] == [
            ("2026-12-31", True, False)
        ]
        status, body = await get(session, f"{base}/api/expiries?underlying=NOPE")
        assert (status, body["error"]["code"]) == (404, "UNKNOWN_UNDERLYING")
        assert body["error"]["details"][0]["path"] == "$.underlying"
        status, body = await get(session, f"{base}/api/expiries")
        assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")

    run_scenario(database, master, scenario)


def test_instruments_when_filtered_by_underlying_kind_and_expiry_then_only_those(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        url = f"{base}/api/instruments?underlying=NIFTY&kind=CE&expiry=2026-12-29&limit=500"
        status, body = await get(session, url)
        assert status == 200, body
        calls = {
            i.instrument_id
            for i in master
            if i.underlying == "NIFTY" and i.instrument_type.value == "CE"
        }
        assert {item["instrumentId"] for item in body["items"]} == calls
        status, body = await get(session, f"{base}/api/instruments?kind=INDEX")
        assert {item["symbol"] for item in body["items"]} == {
            "NIFTY 50",
            "NIFTY BANK",
            "NIFTY FIN SERVICE",
            "SENSEX",
            "CRUDEOIL",
            "GOLD",
        }
        status, body = await get(session, f"{base}/api/instruments?underlying=NIFTY&kind=FUT")
        assert [item["symbol"] for item in body["items"]] == ["NIFTY26DECFUT"]
        status, body = await get(session, f"{base}/api/instruments?expiry=2027-01-26")
        assert body["items"] == []
        status, body = await get(session, f"{base}/api/instruments?expiry=29-12-2026")
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.expiry")
        status, body = await get(session, f"{base}/api/instruments?kind=BOND")
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.kind")

    run_scenario(database, master, scenario)
