"""RELIANCE stock futures and options for the physical settlement tests (docs/DOMAIN.md §6).

The sample master lists index and MCX contracts only, so these are built here, as NSE lists
them: NFO, underlying RELIANCE of kind STOCK, lot 500, expiring with NIFTY's monthly series on
Tuesday 29 December 2026 (15:40 IST, the F&O close from 2026-08-03).
"""

from __future__ import annotations

from datetime import date

from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import Instrument, InstrumentMaster, Liquidity, UnderlyingKind

RELIANCE_LOT = 500
EXPIRY = date(2026, 12, 29)
# 29 Dec 2026 15:40 IST, the contracts' expiry instant.
EXPIRY_MS = 1_798_539_000_000
_FIRST_TOKEN = 990_000


def _contract(
    token: int,
    symbol: str,
    kind: InstrumentType,
    *,
    strike_paise: int = 0,
    reference_paise: int,
    exchange: Exchange = Exchange.NFO,
) -> Instrument:
    futures = kind is InstrumentType.FUT
    if exchange is Exchange.NFO:
        segment = Segment.NFO_FUT if futures else Segment.NFO_OPT
    else:
        segment = Segment.BFO_FUT if futures else Segment.BFO_OPT
    return Instrument(
        instrument_id=f"{'NSE' if exchange is Exchange.NFO else 'BSE'}_FO|{token}",
        token=token,
        exchange=exchange,
        segment=segment,
        symbol=symbol,
        name="RELIANCE",
        instrument_type=kind,
        isin="",
        expiry=EXPIRY,
        strike_paise=strike_paise,
        tick_paise=10 if futures else 5,
        lot_size=RELIANCE_LOT,
        reference_price_paise=reference_paise,
        liquidity=Liquidity.HIGH,
        underlying="RELIANCE",
        underlying_kind=UnderlyingKind.STOCK,
        freeze_quantity=0,
    )


def reliance_future(exchange: Exchange = Exchange.NFO) -> Instrument:
    """RELIANCE December 2026 future (NFO, or BFO with ``exchange``)."""
    return _contract(
        _FIRST_TOKEN,
        "RELIANCE26DECFUT",
        InstrumentType.FUT,
        reference_paise=154_500,
        exchange=exchange,
    )


def reliance_option(strike_rupees: int, kind: InstrumentType) -> Instrument:
    """RELIANCE December 2026 option at ``strike_rupees`` (CE or PE), on NFO."""
    offset = 1 + strike_rupees * 2 + (0 if kind is InstrumentType.CE else 1)
    return _contract(
        _FIRST_TOKEN + offset,
        f"RELIANCE26DEC{strike_rupees}{kind.value}",
        kind,
        strike_paise=strike_rupees * 100,
        reference_paise=5_000,
    )


def with_stock_fno(master: InstrumentMaster, *contracts: Instrument) -> InstrumentMaster:
    """A copy of ``master`` listing ``contracts`` too."""
    return InstrumentMaster([*master, *contracts])
