"""KiteTicker's binary packets as the real ``kiteconnect`` client reads them: every field of the
ltp, quote and full packets and of both index packets, several packets in one frame, and paise
turned into rupees exactly by the client's own ``_parse_binary`` (no connection is made)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from kiteconnect import KiteTicker

from engine.domain.contract_names import instrument_token
from engine.domain.enums import Exchange
from engine.domain.quote import DepthLevel
from gateway.kite.ticker_packets import (
    FULL_PACKET_BYTES,
    HEARTBEAT,
    INDEX_FULL_PACKET_BYTES,
    INDEX_QUOTE_PACKET_BYTES,
    LTP_PACKET_BYTES,
    QUOTE_PACKET_BYTES,
    Mode,
    TickFigures,
    frame,
    packet,
)

RELIANCE = instrument_token(2885, Exchange.NSE)  # 738561, as at Kite
NIFTY_50 = instrument_token(26000, Exchange.NSE, index=True)  # 6656 + 9 = 256265
USDINR = instrument_token(1, Exchange.CDS)
EXCHANGE_TIME_S = 1_796_358_600  # 2026-12-04 10:00 IST
TRADE_TIME_S = EXCHANGE_TIME_S - 1

FIGURES = TickFigures(
    instrument_token=RELIANCE,
    last_price_paise=154_285,
    last_traded_quantity=7,
    average_price_paise=154_113,
    volume=1_234_567,
    total_buy_quantity=4_200,
    total_sell_quantity=3_900,
    open_paise=153_005,
    high_paise=155_000,
    low_paise=152_910,
    close_paise=154_280,
    last_trade_time_s=TRADE_TIME_S,
    oi=11,
    oi_day_high=13,
    oi_day_low=9,
    exchange_time_s=EXCHANGE_TIME_S,
)
BIDS = [DepthLevel(154_280 - 10 * level, 100 + level, 3 + level) for level in range(5)]
ASKS = [DepthLevel(154_290 + 10 * level, 200 + level, 5 + level) for level in range(5)]


@pytest.fixture(scope="module")
def client() -> KiteTicker:
    return KiteTicker("key", "token")  # only its parser is used: nothing connects


def parse(client: KiteTicker, *packets: bytes) -> list[dict[str, Any]]:
    ticks: list[dict[str, Any]] = client._parse_binary(frame(packets))
    return ticks


def test_ltp_packet_when_parsed_then_token_and_rupees(client: KiteTicker) -> None:
    one = packet(FIGURES, Mode.LTP)
    assert len(one) == LTP_PACKET_BYTES
    assert parse(client, one) == [
        {"tradable": True, "mode": "ltp", "instrument_token": RELIANCE, "last_price": 1542.85}
    ]


def test_quote_packet_when_parsed_then_every_quote_field(client: KiteTicker) -> None:
    one = packet(FIGURES, Mode.QUOTE)
    assert len(one) == QUOTE_PACKET_BYTES
    [tick] = parse(client, one)
    assert tick == {
        "tradable": True,
        "mode": "quote",
        "instrument_token": RELIANCE,
        "last_price": 1542.85,
        "last_traded_quantity": 7,
        "average_traded_price": 1541.13,
        "volume_traded": 1_234_567,
        "total_buy_quantity": 4_200,
        "total_sell_quantity": 3_900,
        "ohlc": {"open": 1530.05, "high": 1550.0, "low": 1529.1, "close": 1542.8},
        "change": pytest.approx((1542.85 - 1542.8) * 100 / 1542.8),
    }


def test_full_packet_when_parsed_then_times_oi_and_five_levels_a_side(
    client: KiteTicker,
) -> None:
    one = packet(FIGURES, Mode.FULL, BIDS, ASKS)
    assert len(one) == FULL_PACKET_BYTES
    [tick] = parse(client, one)
    assert tick["mode"] == "full"
    assert tick["last_price"] == 1542.85
    assert tick["ohlc"] == {"open": 1530.05, "high": 1550.0, "low": 1529.1, "close": 1542.8}
    assert tick["last_trade_time"] == datetime.fromtimestamp(TRADE_TIME_S)
    assert tick["exchange_timestamp"] == datetime.fromtimestamp(EXCHANGE_TIME_S)
    assert (tick["oi"], tick["oi_day_high"], tick["oi_day_low"]) == (11, 13, 9)
    assert tick["depth"] == {
        "buy": [{"quantity": 100 + i, "price": (154_280 - 10 * i) / 100, "orders": 3 + i}
                for i in range(5)],
        "sell": [{"quantity": 200 + i, "price": (154_290 + 10 * i) / 100, "orders": 5 + i}
                 for i in range(5)],
    }  # fmt: skip


def test_full_packet_when_book_is_short_then_missing_levels_are_zeros(
    client: KiteTicker,
) -> None:
    [tick] = parse(client, packet(FIGURES, Mode.FULL, BIDS[:2], []))
    empty = {"quantity": 0, "price": 0.0, "orders": 0}
    assert tick["depth"]["buy"][2:] == [empty] * 3
    assert tick["depth"]["sell"] == [empty] * 5
    assert tick["depth"]["buy"][1] == {"quantity": 101, "price": 1542.7, "orders": 4}


@pytest.mark.parametrize(
    ("mode", "size"), [(Mode.QUOTE, INDEX_QUOTE_PACKET_BYTES), (Mode.FULL, INDEX_FULL_PACKET_BYTES)]
)
def test_index_packet_when_parsed_then_not_tradable_with_ohlc_and_change(
    client: KiteTicker, mode: Mode, size: int
) -> None:
    figures = TickFigures(
        instrument_token=NIFTY_50,
        last_price_paise=2_601_785,
        open_paise=2_598_000,
        high_paise=2_610_015,
        low_paise=2_590_020,
        close_paise=2_595_000,
        exchange_time_s=EXCHANGE_TIME_S,
        volume=99,  # an index carries no quantities: left out of its packet
    )
    one = packet(figures, mode)
    assert len(one) == size
    [tick] = parse(client, one)
    expected: dict[str, Any] = {
        "tradable": False,
        "mode": mode.value,
        "instrument_token": NIFTY_50,
        "last_price": 26017.85,
        "ohlc": {"high": 26100.15, "low": 25900.2, "open": 25980.0, "close": 25950.0},
        "change": pytest.approx((26017.85 - 25950.0) * 100 / 25950.0),
    }
    if mode is Mode.FULL:
        expected["exchange_timestamp"] = datetime.fromtimestamp(EXCHANGE_TIME_S)
    assert tick == expected
    # The change field itself (which the client recomputes) is signed paise: a fall is negative.
    fall = packet(TickFigures(NIFTY_50, 2_590_000, close_paise=2_595_000), mode)
    assert int.from_bytes(fall[24:28], "big", signed=True) == -5_000


def test_index_in_ltp_mode_then_the_plain_ltp_packet(client: KiteTicker) -> None:
    one = packet(TickFigures(NIFTY_50, 2_601_785), Mode.LTP)
    assert parse(client, one) == [
        {"tradable": False, "mode": "ltp", "instrument_token": NIFTY_50, "last_price": 26017.85}
    ]


def test_frame_of_several_packets_when_parsed_then_each_tick_in_order(
    client: KiteTicker,
) -> None:
    index = TickFigures(NIFTY_50, 2_601_785, close_paise=2_595_000)
    ticks = parse(
        client,
        packet(FIGURES, Mode.FULL, BIDS, ASKS),
        packet(index, Mode.QUOTE),
        packet(FIGURES, Mode.LTP),
        packet(index, Mode.FULL),
        packet(FIGURES, Mode.QUOTE),
    )
    assert [(t["instrument_token"], t["mode"]) for t in ticks] == [
        (RELIANCE, "full"),
        (NIFTY_50, "quote"),
        (RELIANCE, "ltp"),
        (NIFTY_50, "full"),
        (RELIANCE, "quote"),
    ]


@pytest.mark.parametrize("paise", [1, 5, 10, 99, 100, 12_345, 99_999_999, 2**31 - 1])
def test_prices_in_paise_when_parsed_then_rupees_exactly(client: KiteTicker, paise: int) -> None:
    [tick] = parse(client, packet(TickFigures(RELIANCE, paise), Mode.LTP))
    assert tick["last_price"] == paise / 100
    assert repr(tick["last_price"]) == repr(float(f"{paise // 100}.{paise % 100:02d}"))


def test_cds_price_when_parsed_then_rupees_by_the_clients_cds_divisor(
    client: KiteTicker,
) -> None:
    # paperdesk lists no CDS contracts; the scale keeps the packet right should one appear.
    [tick] = parse(client, packet(TickFigures(USDINR, 8_312), Mode.LTP))
    assert tick["last_price"] == 83.12


def test_heartbeat_and_empty_frame_when_parsed_then_no_ticks(client: KiteTicker) -> None:
    assert client._parse_binary(HEARTBEAT) == []
    assert client._parse_binary(frame([])) == []


def test_figures_out_of_range_then_clamped_not_wrapped(client: KiteTicker) -> None:
    figures = TickFigures(RELIANCE, 100, volume=2**40, total_buy_quantity=-5)
    [tick] = parse(client, packet(figures, Mode.QUOTE))
    assert tick["volume_traded"] == 2**32 - 1
    assert tick["total_buy_quantity"] == 0
