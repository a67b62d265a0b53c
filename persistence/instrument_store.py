"""The instrument master and last traded prices in Postgres."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import Instrument, Liquidity, UnderlyingKind

UPSERT_INSTRUMENTS = """
INSERT INTO instruments (id, token, exchange, segment, symbol, name, instrument_type, isin, expiry,
    strike_paise, tick_paise, lot_size, reference_price_paise, liquidity, underlying,
    underlying_kind, freeze_quantity, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, now())
ON CONFLICT (id) DO UPDATE SET
    token = EXCLUDED.token, exchange = EXCLUDED.exchange, segment = EXCLUDED.segment,
    symbol = EXCLUDED.symbol, name = EXCLUDED.name, instrument_type = EXCLUDED.instrument_type,
    isin = EXCLUDED.isin, expiry = EXCLUDED.expiry, strike_paise = EXCLUDED.strike_paise,
    tick_paise = EXCLUDED.tick_paise, lot_size = EXCLUDED.lot_size,
    reference_price_paise = EXCLUDED.reference_price_paise, liquidity = EXCLUDED.liquidity,
    underlying = EXCLUDED.underlying, underlying_kind = EXCLUDED.underlying_kind,
    freeze_quantity = EXCLUDED.freeze_quantity, updated_at = now()
"""


async def upsert_instruments(conn: Any, instruments: Iterable[Instrument]) -> int:
    """Store (or update) instruments; keeps each row's last traded price."""
    rows = [
        (
            i.instrument_id,
            i.token,
            i.exchange.value,
            i.segment.value,
            i.symbol,
            i.name,
            i.instrument_type.value,
            i.isin,
            i.expiry,
            i.strike_paise,
            i.tick_paise,
            i.lot_size,
            i.reference_price_paise,
            i.liquidity.value,
            i.underlying,
            i.underlying_kind.value,
            i.freeze_quantity,
        )
        for i in instruments
    ]
    await conn.executemany(UPSERT_INSTRUMENTS, rows)
    return len(rows)


async def load_instruments(conn: Any) -> list[Instrument]:
    rows = await conn.fetch("SELECT * FROM instruments ORDER BY exchange, symbol, id")
    return [
        Instrument(
            instrument_id=r["id"],
            token=r["token"],
            exchange=Exchange(r["exchange"]),
            segment=Segment(r["segment"]),
            symbol=r["symbol"],
            name=r["name"],
            instrument_type=InstrumentType(r["instrument_type"]),
            isin=r["isin"],
            expiry=r["expiry"],
            strike_paise=r["strike_paise"],
            tick_paise=r["tick_paise"],
            lot_size=r["lot_size"],
            reference_price_paise=r["reference_price_paise"],
            liquidity=Liquidity(r["liquidity"]),
            underlying=r["underlying"],
            underlying_kind=UnderlyingKind(r["underlying_kind"]),
            freeze_quantity=r["freeze_quantity"],
        )
        for r in rows
    ]


async def stored_instrument_ids(conn: Any) -> set[str]:
    """The ids of the instruments the table holds."""
    return {row["id"] for row in await conn.fetch("SELECT id FROM instruments")}


async def store_last_prices(conn: Any, prices: dict[str, int], at_ms: int) -> None:
    """Remember each instrument's last traded price (the stored tier of price resolution)."""
    at = datetime.fromtimestamp(at_ms / 1000, UTC)
    await conn.executemany(
        "UPDATE instruments SET last_ltp_paise = $2, last_ltp_at = $3 WHERE id = $1",
        [(instrument_id, price, at) for instrument_id, price in prices.items()],
    )


async def load_last_prices(conn: Any) -> dict[str, int]:
    rows = await conn.fetch("SELECT id, last_ltp_paise FROM instruments WHERE last_ltp_paise > 0")
    return {r["id"]: r["last_ltp_paise"] for r in rows}
