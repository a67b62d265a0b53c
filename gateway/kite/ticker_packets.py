"""KiteTicker's binary packets, laid out byte for byte as Kite's websocket sends them, so the
unmodified ``kiteconnect`` client's ``KiteTicker._parse_binary`` reads paperdesk's quotes.

A frame is a big-endian 2-byte packet count, then each packet behind its own 2-byte length.
Every field is a big-endian 4-byte integer; prices are in the segment's smallest unit (paise,
which the client divides by 100). What a packet holds depends on its mode and on whether the
instrument is an index (segment code 9, the token's low byte):

========  ==========  ================================================================
mode      bytes       fields (byte offsets)
========  ==========  ================================================================
ltp       8           token 0, last price 4
quote     44          … last traded quantity 8, average traded price 12, volume 16,
                      total buy quantity 20, total sell quantity 24, open 28, high 32,
                      low 36, close 40
full      184         quote, then last trade time 44, OI 48, OI day high 52, OI day
                      low 56, exchange time 60, then ten depth levels of 12 bytes from
                      64: five bids then five asks, each quantity (4), price (4),
                      orders (2) and 2 bytes of padding
index     28 / 32     token 0, last price 4, high 8, low 12, open 16, close 20,
quote/full            change 24 (signed, last price less close), exchange time 28 (full)
========  ==========  ================================================================

Times are Unix seconds. The module is pure: the hub (``gateway.kite.ticker``) gathers the
figures from the market and caches the packets of each tick.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.domain.contract_names import INDICES_SEGMENT_CODE, SEGMENT_CODES
from engine.domain.enums import Exchange
from engine.domain.quote import DepthLevel

LTP_PACKET_BYTES = 8
QUOTE_PACKET_BYTES = 44
FULL_PACKET_BYTES = 184
INDEX_QUOTE_PACKET_BYTES = 28
INDEX_FULL_PACKET_BYTES = 32
DEPTH_LEVELS = 5  # a side, in a full packet
PACKETS_PER_FRAME_MAX = 0xFFFF  # the packet count is 2 bytes
HEARTBEAT = b"\x00"  # one byte: the client parses only frames longer than 4 bytes

UINT32_MAX = 0xFFFF_FFFF
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# The client divides CDS prices by 10^7 (four decimals of a rupee and three more), every other
# segment paperdesk lists by 100: a paise price is scaled up by this much for CDS. paperdesk
# lists no CDS contracts today; the scale keeps a CDS packet right should one be added.
CDS_UNITS_PER_PAISE = 100_000

_LTP = struct.Struct(">II")
_QUOTE = struct.Struct(">11I")
_FULL_HEAD = struct.Struct(">16I")
_LEVEL = struct.Struct(">IIH2x")
_INDEX_QUOTE = struct.Struct(">6Ii")
_INDEX_FULL = struct.Struct(">6IiI")
_COUNT = struct.Struct(">H")
_EMPTY_LEVEL = DepthLevel(price_paise=0, quantity=0, orders=0)


class Mode(StrEnum):
    """A subscription's mode, as the client names it in ``{"a": "mode", "v": [mode, tokens]}``."""

    LTP = "ltp"
    QUOTE = "quote"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class TickFigures:
    """Everything a packet of one instrument at one tick can carry: prices in paise,
    quantities in units, times in Unix seconds (0 where paperdesk has no figure)."""

    instrument_token: int
    last_price_paise: int
    last_traded_quantity: int = 0
    average_price_paise: int = 0
    volume: int = 0
    total_buy_quantity: int = 0
    total_sell_quantity: int = 0
    open_paise: int = 0
    high_paise: int = 0
    low_paise: int = 0
    close_paise: int = 0
    last_trade_time_s: int = 0
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_time_s: int = 0


def is_index_token(instrument_token: int) -> bool:
    """Whether a token names an index (segment code 9): its packets have their own layout."""
    return instrument_token & 0xFF == INDICES_SEGMENT_CODE


def units_per_paise(instrument_token: int) -> int:
    """How many of the client's price units one paisa is, for the token's segment."""
    return CDS_UNITS_PER_PAISE if instrument_token & 0xFF == SEGMENT_CODES[Exchange.CDS] else 1


def _u32(value: int) -> int:
    """A figure clamped into an unsigned 4-byte field (the client reads every field unsigned)."""
    return min(max(value, 0), UINT32_MAX)


def ltp_packet(instrument_token: int, last_price_paise: int) -> bytes:
    """The 8-byte ``ltp`` packet."""
    scale = units_per_paise(instrument_token)
    return _LTP.pack(instrument_token, _u32(last_price_paise * scale))


def quote_packet(figures: TickFigures) -> bytes:
    """The 44-byte ``quote`` packet of a tradable instrument."""
    return _QUOTE.pack(*_quote_fields(figures))


def full_packet(
    figures: TickFigures, bids: Sequence[DepthLevel], asks: Sequence[DepthLevel]
) -> bytes:
    """The 184-byte ``full`` packet: the quote, times, open interest and five levels a side
    (best first; missing levels are zeros, levels past the fifth left out)."""
    head = _FULL_HEAD.pack(
        *_quote_fields(figures),
        _u32(figures.last_trade_time_s),
        _u32(figures.oi),
        _u32(figures.oi_day_high),
        _u32(figures.oi_day_low),
        _u32(figures.exchange_time_s),
    )
    scale = units_per_paise(figures.instrument_token)
    levels = b"".join(
        _LEVEL.pack(
            _u32(level.quantity), _u32(level.price_paise * scale), min(max(level.orders, 0), 0xFFFF)
        )
        for side in (bids, asks)
        for level in _five(side)
    )
    return head + levels


def index_packet(figures: TickFigures, *, full: bool) -> bytes:
    """The 28-byte ``quote`` or 32-byte ``full`` packet of an index: no quantities, no depth,
    the change in paise (signed) and, in ``full``, the exchange time."""
    scale = units_per_paise(figures.instrument_token)
    change = figures.last_price_paise - figures.close_paise if figures.close_paise else 0
    prices = (
        figures.instrument_token,
        _u32(figures.last_price_paise * scale),
        _u32(figures.high_paise * scale),
        _u32(figures.low_paise * scale),
        _u32(figures.open_paise * scale),
        _u32(figures.close_paise * scale),
        min(max(change * scale, INT32_MIN), INT32_MAX),
    )
    if full:
        return _INDEX_FULL.pack(*prices, _u32(figures.exchange_time_s))
    return _INDEX_QUOTE.pack(*prices)


def packet(
    figures: TickFigures,
    mode: Mode,
    bids: Sequence[DepthLevel] = (),
    asks: Sequence[DepthLevel] = (),
) -> bytes:
    """The packet of ``mode`` for the instrument the figures are of (index or tradable)."""
    if mode is Mode.LTP:
        return ltp_packet(figures.instrument_token, figures.last_price_paise)
    if is_index_token(figures.instrument_token):
        return index_packet(figures, full=mode is Mode.FULL)
    if mode is Mode.QUOTE:
        return quote_packet(figures)
    return full_packet(figures, bids, asks)


def frame(packets: Sequence[bytes]) -> bytes:
    """One binary message: the packet count, then each packet behind its length."""
    if len(packets) > PACKETS_PER_FRAME_MAX:
        raise ValueError(f"at most {PACKETS_PER_FRAME_MAX} packets in a frame")
    parts = [_COUNT.pack(len(packets))]
    for one in packets:
        parts.append(_COUNT.pack(len(one)))
        parts.append(one)
    return b"".join(parts)


def _quote_fields(figures: TickFigures) -> tuple[int, ...]:
    scale = units_per_paise(figures.instrument_token)
    return (
        figures.instrument_token,
        _u32(figures.last_price_paise * scale),
        _u32(figures.last_traded_quantity),
        _u32(figures.average_price_paise * scale),
        _u32(figures.volume),
        _u32(figures.total_buy_quantity),
        _u32(figures.total_sell_quantity),
        _u32(figures.open_paise * scale),
        _u32(figures.high_paise * scale),
        _u32(figures.low_paise * scale),
        _u32(figures.close_paise * scale),
    )


def _five(levels: Sequence[DepthLevel]) -> list[DepthLevel]:
    shown = list(levels[:DEPTH_LEVELS])
    return shown + [_EMPTY_LEVEL] * (DEPTH_LEVELS - len(shown))
