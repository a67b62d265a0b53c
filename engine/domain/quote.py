"""A market quote as the engine sees it: integer paise and the circuit band in force."""

from __future__ import annotations

import msgspec


class Quote(msgspec.Struct, frozen=True, gc=False):
    """The jittered quote of one instrument at one tick."""

    ltp_paise: int
    bid_paise: int
    ask_paise: int
    circuit_low_paise: int
    circuit_high_paise: int
    timestamp_ms: int


class DepthLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level of a side of the book: its price, the quantity shown at it and how many
    orders make that quantity up."""

    price_paise: int
    quantity: int
    orders: int
