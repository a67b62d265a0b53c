"""Minute candles and the seeds of the simulated history in PostgreSQL (migration 0016).

Recorded minutes are written in one statement a batch (arrays unnested, parameterized), merged
into any row of the same minute already there: a restart within a minute finds the part the
stopping server flushed, and a write retried after its acknowledgement was lost changes no
price (volumes of such a retry would count twice; they are this server's own fills, see
``engine.market.candles``). Seeded history is copied in (COPY), once an instrument, under a
lock on its seed row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.market.candles import Candle
from engine.market.history import Seed
from persistence.pool import Pool

UPSERT_CANDLES = """
INSERT INTO candles AS c (instrument_id, minute, open_paise, high_paise, low_paise,
    close_paise, volume, oi)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[],
    $6::bigint[], $7::bigint[], $8::bigint[])
ON CONFLICT (instrument_id, minute) DO UPDATE SET
    high_paise = greatest(c.high_paise, EXCLUDED.high_paise),
    low_paise = least(c.low_paise, EXCLUDED.low_paise),
    close_paise = EXCLUDED.close_paise,
    volume = c.volume + EXCLUDED.volume,
    oi = EXCLUDED.oi
"""

READ_CANDLES = """
SELECT minute, open_paise, high_paise, low_paise, close_paise, volume, oi
FROM candles
WHERE instrument_id = $1 AND minute >= $2 AND minute < $3
ORDER BY minute
"""

CANDLE_COLUMNS = (
    "instrument_id",
    "minute",
    "open_paise",
    "high_paise",
    "low_paise",
    "close_paise",
    "volume",
    "oi",
)


def _record(instrument_id: str, c: Candle) -> tuple[Any, ...]:
    """A candle as a row of ``CANDLE_COLUMNS``."""
    at = instant(c.at_ms)
    return (instrument_id, at, c.open_paise, c.high_paise, c.low_paise, c.close_paise, c.volume,
            c.oi)  # fmt: skip


def instant(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def write_candles(pool: Pool, candles: Sequence[tuple[str, Candle]]) -> int:
    """Store recorded minutes, (instrument id, candle) each, merging into stored ones."""
    if not candles:
        return 0
    columns: list[list[Any]] = [[] for _ in CANDLE_COLUMNS]
    for instrument_id, c in candles:
        for column, value in zip(columns, _record(instrument_id, c), strict=True):
            column.append(value)
    await pool.execute(UPSERT_CANDLES, *columns)
    return len(candles)


async def read_candles(pool: Pool, instrument_id: str, start_ms: int, end_ms: int) -> list[Candle]:
    """One instrument's stored minutes in [``start_ms``, ``end_ms``), oldest first."""
    rows = await pool.fetch(READ_CANDLES, instrument_id, instant(start_ms), instant(end_ms))
    return [_candle(r) for r in rows]


def _candle(row: Any) -> Candle:
    prices = (row["open_paise"], row["high_paise"], row["low_paise"], row["close_paise"])
    return Candle(epoch_ms(row["minute"]), *prices, row["volume"], row["oi"])


async def purge_candles(pool: Pool, before_ms: int) -> int:
    """Delete every minute before ``before_ms`` (retention); return how many."""
    status = await pool.execute("DELETE FROM candles WHERE minute < $1", instant(before_ms))
    return int(status.split()[-1])


# -- seeds of the simulated history ---------------------------------------------------------


async def candles_empty(pool: Pool) -> bool:
    """Whether no seed and no candle is stored yet (a first start, for the history)."""
    return not await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM candle_seeds) OR EXISTS (SELECT 1 FROM candles)"
    )


async def write_seeds(pool: Pool, seeds: Iterable[Seed]) -> int:
    """Store the seeds of the first start; seeds already stored are kept."""
    rows = [(s.instrument_id, instant(s.first_minute_ms), s.price_paise, s.iv) for s in seeds]
    if rows:
        await pool.execute(
            """
            INSERT INTO candle_seeds (instrument_id, first_minute, price_paise, iv)
            SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::float8[])
            ON CONFLICT (instrument_id) DO NOTHING
            """,
            *(list(column) for column in zip(*rows, strict=True)),
        )
    return len(rows)


def _seed(row: Any) -> Seed:
    return Seed(row["instrument_id"], epoch_ms(row["first_minute"]), row["price_paise"], row["iv"])


async def pending_seed(pool: Pool, instrument_id: str) -> Seed | None:
    """``instrument_id``'s seed if its history is not generated yet, else None."""
    row = await pool.fetchrow(
        "SELECT * FROM candle_seeds WHERE instrument_id = $1 AND NOT generated", instrument_id
    )
    return None if row is None else _seed(row)


async def read_seeds(pool: Pool, instrument_ids: Sequence[str]) -> dict[str, Seed]:
    """The stored seeds of ``instrument_ids`` (those that have one), by id."""
    rows = await pool.fetch(
        "SELECT * FROM candle_seeds WHERE instrument_id = ANY($1::text[])", list(instrument_ids)
    )
    return {row["instrument_id"]: _seed(row) for row in rows}


async def store_history(conn: Any, instrument_id: str, candles: Sequence[Candle]) -> bool:
    """Copy one instrument's generated history in and mark its seed generated, in one
    transaction on ``conn`` under a lock on the seed row: False (nothing written) when another
    request stored it first or there is no seed."""
    async with conn.transaction():
        generated = await conn.fetchval(
            "SELECT generated FROM candle_seeds WHERE instrument_id = $1 FOR UPDATE",
            instrument_id,
        )
        if generated is None or generated:
            return False
        await conn.copy_records_to_table(
            "candles",
            records=(_record(instrument_id, c) for c in candles),
            columns=CANDLE_COLUMNS,
        )
        await conn.execute(
            "UPDATE candle_seeds SET generated = true WHERE instrument_id = $1", instrument_id
        )
    return True
