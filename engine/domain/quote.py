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
