"""The Vortex poller against a fake Vortex server on loopback, feeding a running engine.

Proves that a poll sends the documented request (ids, mode, Bearer token, x-api-key) and that
its quotes become the references and circuit bands the market ticks converge to, with rupees
converted to paise exactly; that both id forms resolve; that ids the reply leaves out keep
their last reference; that a timeout, 5xx (after its retries) and malformed JSON each mark the
data stale with their reason while the market keeps ticking on the last references, and that the
next good round recovers; that a 429 is honoured by waiting its Retry-After; and that a large
master polls only the instruments in use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from engine.domain.instruments import InstrumentMaster
from engine.market.messages import BookOps, RestOrder
from gateway.feeds.vortex_client import quote_from_payload
from tests.support.vortex_fake import (
    ACCESS_TOKEN,
    API_KEY,
    Harness,
    Reply,
    harness,
    quote_payload,
)

pytestmark = pytest.mark.timeout(30)

RELIANCE = "NSE:RELIANCE"  # token 2885, tick ₹0.10, close ₹1542.80
WIPRO = "NSE:WIPRO"  # token 3787, tick ₹0.01, close ₹244.87
NIFTY_FUT = "NFO:NIFTY26DECFUT"  # token 52166, tick ₹0.10, close ₹26138.60

Scenario = Callable[[Harness], Awaitable[None]]


def run(master: InstrumentMaster, scenario: Scenario, **vortex: Any) -> None:
    async def main() -> None:
        async with harness(master, **vortex) as h:
            await scenario(h)

    asyncio.run(main())


def seed_quotes(h: Harness) -> None:
    h.fake.quotes["NSE_EQ-2885"] = quote_payload(
        "1600.30", close="1542.80", dpr_low=123430, dpr_high=185130
    )
    # 256.03 * 100 is 25602.999999999996 in binary floating point.
    h.fake.quotes["NSE_EQ-3787"] = quote_payload("256.03", close="244.87")
    h.fake.quotes["NSE_FO-52166"] = quote_payload(
        "26400.10", close="26138.60", dpr_low=2352480, dpr_high=2875240
    )


def test_poll_when_server_answers_then_references_and_circuits_follow_and_ticks_converge(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        result = await h.poller.poll_once()
        assert not result.failures
        assert result.pushed == 3
        assert result.missing == len(master) - 3
        seen = h.fake.seen[-1]
        assert seen.mode == "full"
        assert (seen.authorization, seen.api_key) == (f"Bearer {ACCESS_TOKEN}", API_KEY)
        assert "NSE_EQ-2885" in seen.ids
        assert "NSE_FO-52166" in seen.ids
        assert len(seen.ids) == len(master)  # a small master is polled whole

        before = int(h.engine.market.snapshot.ltp[h.index(RELIANCE)])
        h.engine.tick()
        assert h.reference(RELIANCE) == 160030
        assert h.band(RELIANCE) == (123430, 185130)
        assert h.reference(WIPRO) == 25603  # exact, not 25602
        assert h.reference(NIFTY_FUT) == 2640010
        assert h.band(NIFTY_FUT) == (2352480, 2875240)
        assert int(h.engine.market.previous_close[h.index(RELIANCE)]) == 154280
        for _ in range(40):
            h.engine.tick()
        after = int(h.engine.market.snapshot.ltp[h.index(RELIANCE)])
        assert abs(after - 160030) < abs(before - 160030) / 2
        assert not h.source.status(h.engine.clock.now_ms()).stale

    run(master, scenario)


def test_poll_when_ids_sent_as_tickers_then_replies_map_to_instruments(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        h.fake.quotes["NSE:RELIANCE"] = quote_payload("1601.00")
        # Vortex tickers name the exchange: NFO contracts are NSE:<symbol>.
        h.fake.quotes["NSE:NIFTY26DECFUT"] = quote_payload("26500.00")
        result = await h.poller.poll_once()
        assert "NSE:RELIANCE" in h.fake.seen[-1].ids
        assert result.pushed == 2
        h.engine.tick()
        assert h.reference(RELIANCE) == 160100
        assert h.reference(NIFTY_FUT) == 2650000

    run(master, scenario, id_form="ticker")


def test_reply_ids_in_either_form_resolve_to_the_same_instrument(master: InstrumentMaster) -> None:
    async def scenario(h: Harness) -> None:
        ids = h.poller.ids
        index = h.index(RELIANCE)
        assert ids.index_of("NSE_EQ-2885") == index
        assert ids.index_of("NSE:RELIANCE") == index
        assert ids.index_of("BSE_EQ-500325") == h.index("BSE:RELIANCE")
        assert ids.index_of("NSE_FO-52166") == ids.index_of("NSE:NIFTY26DECFUT")
        assert ids.index_of("NSE_EQ-999999") is None
        # The client parses JSON numbers as Decimal; a binary float is refused outright.
        quote = quote_from_payload(
            index, {"last_trade_price": Decimal("0.29"), "dpr_high": Decimal("35.0")}
        )
        assert (quote.ltp_paise, quote.circuit_high_paise) == (29, 35)
        with pytest.raises(ValueError, match="not a number"):
            quote_from_payload(index, {"last_trade_price": 0.29})

    run(master, scenario)


def test_poll_when_reply_leaves_ids_out_then_they_keep_their_last_reference(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        await h.poller.poll_once()
        h.engine.tick()
        h.fake.quotes["NSE_EQ-2885"] = quote_payload("1610.00")
        h.fake.quotes["NSE_EQ-3787"] = quote_payload("250.00")
        h.fake.omit = {"NSE_EQ-3787"}
        result = await h.poller.poll_once()
        h.engine.tick()
        assert not result.failures
        assert h.reference(RELIANCE) == 161000
        assert h.reference(WIPRO) == 25603  # left out: unchanged
        assert not h.source.status(h.engine.clock.now_ms()).stale
        assert h.source.quotes_missing_total >= 1

    run(master, scenario)


def test_poll_when_entries_unusable_then_skipped_and_counted(master: InstrumentMaster) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        h.fake.quotes["NSE_EQ-3787"] = {"last_trade_price": "n/a"}
        h.fake.quotes["NSE_EQ-11536"] = {"volume": 3}  # TCS: no price at all
        result = await h.poller.poll_once()
        h.engine.tick()
        assert result.malformed == 2
        assert h.reference(RELIANCE) == 160030
        assert h.reference(WIPRO) == 24487  # the master's close, untouched
        assert h.source.quotes_malformed_total == 2

    run(master, scenario)


def test_poll_when_server_errors_then_retried_marked_stale_and_recovers(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        await h.poller.poll_once()
        h.engine.tick()
        h.fake.always = Reply(503, '{"status":"error"}')
        requests_before = len(h.fake.seen)
        result = await h.poller.poll_once()
        assert len(h.fake.seen) - requests_before == 3  # first try + retries_max = 2
        assert [f.reason for f in result.failures] == ["server_error"]
        status = h.source.status(h.engine.clock.now_ms())
        assert status.stale
        assert status.error_reason == "server_error"
        assert status.error == "HTTP 503"
        seq = h.engine.tick()
        assert h.engine.tick() == seq + 1  # the market keeps running
        assert h.reference(RELIANCE) == 160030  # on the last reference
        assert h.source.failures_by_reason() == {"server_error": 1}

        h.fake.healthy()
        h.fake.quotes["NSE_EQ-2885"] = quote_payload("1620.00")
        result = await h.poller.poll_once()
        assert not result.failures
        status = h.source.status(h.engine.clock.now_ms())
        assert not status.stale
        assert status.error is None
        h.engine.tick()
        assert h.reference(RELIANCE) == 162000

    run(master, scenario)


def test_poll_when_server_fails_once_then_retry_succeeds_and_not_stale(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        h.fake.next_replies.append(Reply(502, "bad gateway"))
        result = await h.poller.poll_once()
        assert not result.failures
        assert len(h.fake.seen) == 2
        assert not h.source.status(h.engine.clock.now_ms()).stale

    run(master, scenario)


def test_poll_when_server_slow_then_timeout_marks_stale_and_recovers(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        h.fake.delay_s = 1.0
        result = await h.poller.poll_once()
        assert [f.reason for f in result.failures] == ["timeout"]
        assert len(h.fake.seen) == 2  # first try + retries_max = 1
        status = h.source.status(h.engine.clock.now_ms())
        assert status.stale
        assert status.error_reason == "timeout"
        assert h.reference(RELIANCE) == 154280  # nothing applied

        h.fake.healthy()
        result = await h.poller.poll_once()
        assert not result.failures
        assert not h.source.status(h.engine.clock.now_ms()).stale

    run(master, scenario, timeout_ms=200, retries_max=1)


def test_poll_when_reply_not_json_then_malformed_stale_without_retry(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        h.fake.always = Reply(200, '{"status": "success", "data": {"NSE_EQ-2885": {')
        result = await h.poller.poll_once()
        assert [f.reason for f in result.failures] == ["malformed"]
        assert len(h.fake.seen) == 1
        assert h.source.status(h.engine.clock.now_ms()).stale

        h.fake.always = Reply(200, '["not", "an", "object"]')
        result = await h.poller.poll_once()
        assert [f.reason for f in result.failures] == ["malformed"]

        h.fake.healthy()
        seed_quotes(h)
        result = await h.poller.poll_once()
        assert not result.failures
        assert not h.source.status(h.engine.clock.now_ms()).stale
        assert h.source.failures_by_reason() == {"malformed": 2}

    run(master, scenario)


def test_poll_when_rate_limited_then_retry_after_is_honoured(master: InstrumentMaster) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        h.fake.next_replies.append(Reply(429, "{}", {"Retry-After": "1"}))
        result = await h.poller.poll_once()
        assert not result.failures
        assert len(h.fake.seen) == 2
        waited_s = h.fake.seen[1].at_s - h.fake.seen[0].at_s
        assert waited_s >= 0.95
        assert not h.source.status(h.engine.clock.now_ms()).stale

        h.fake.always = Reply(429, "{}", {"Retry-After": "0.1"})
        result = await h.poller.poll_once()
        assert [f.reason for f in result.failures] == ["rate_limited"]

    run(master, scenario)


def test_poll_when_credentials_rejected_then_auth_failure_without_retry(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        h.client.headers["Authorization"] = "Bearer expired"
        result = await h.poller.poll_once()
        assert [f.reason for f in result.failures] == ["auth"]
        assert len(h.fake.seen) == 1

    run(master, scenario)


def test_poll_when_master_large_then_only_instruments_in_use_are_requested(
    master: InstrumentMaster,
) -> None:
    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        assert h.poller.wanted_indices() == []
        reliance = h.index(RELIANCE)
        nifty = h.index(NIFTY_FUT)
        h.engine.subscribe([nifty])
        rest_far_buy(h, reliance)
        h.engine.tick()  # the market publishes what its books need at the reference refresh
        assert h.engine.in_use_indices() == {reliance, nifty}
        await h.poller.poll_once()
        assert sorted(h.fake.seen[-1].ids) == ["NSE_EQ-2885", "NSE_FO-52166"]
        h.engine.unsubscribe([nifty])
        assert h.engine.in_use_indices() == {reliance}

    run(master, scenario, poll_all_instruments_max=10)


def rest_far_buy(h: Harness, index: int) -> None:
    """Rest a far-away buy LIMIT in the market's books (resting needs no account)."""
    assert h.engine.market_ref is not None
    order = RestOrder(
        account_id="acc-1",
        order_id="o1",
        index=index,
        side=1,
        quantity=1,
        limit_paise=100_00,
        trigger_paise=0,
        triggered=False,
        ioc=False,
    )
    h.engine.market_ref.tell(BookOps((order,)))
    h.engine.sync_market()


def test_poll_when_quote_carries_depth_then_the_book_is_the_feeds_and_orders_walk_it(
    master: InstrumentMaster,
) -> None:
    """In live mode the displayed book is the feed's ``full``-mode depth (empty levels left
    out, best first), and what an order takes from it is gone for the next."""

    async def scenario(h: Harness) -> None:
        seed_quotes(h)
        payload = h.fake.quotes["NSE_EQ-2885"]
        payload["depth"] = {
            "buy": [
                {"price": 1600.2 - n / 10, "quantity": 100 * (n + 1), "orders": n + 1}
                for n in range(5)
            ],
            "sell": [
                {"price": 1600.4 + n / 10, "quantity": 100 * (n + 1), "orders": n + 1}
                for n in range(4)
            ]
            + [{"price": 0, "quantity": 0, "orders": 0}],
        }
        result = await h.poller.poll_once()
        assert not result.failures
        h.engine.tick()
        h.engine.sync_market()
        bids, asks = h.engine.depth.book(h.index(RELIANCE))
        assert [(b.price_paise, b.quantity, b.orders) for b in bids] == [
            (160020, 100, 1),
            (160010, 200, 2),
            (160000, 300, 3),
            (159990, 400, 4),
            (159980, 500, 5),
        ]
        assert [(a.price_paise, a.quantity) for a in asks] == [
            (160040, 100),
            (160050, 200),
            (160060, 300),
            (160070, 400),
        ]
        trades = h.engine.depth.take(h.index(RELIANCE), 1, 250, limit_paise=160050)
        assert [(t.price_paise, t.quantity) for t in trades] == [(160040, 100), (160050, 150)]
        _, asks = h.engine.depth.book(h.index(RELIANCE))
        assert [a.quantity for a in asks[:2]] == [0, 50]

    run(master, scenario)
