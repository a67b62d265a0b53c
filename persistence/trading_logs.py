"""Lines the gateway itself writes to ``trading_logs`` (the journal writes the others)."""

from __future__ import annotations

from typing import Any

import orjson

from persistence.pool import Pool


async def log_system_error(pool: Pool, message: str, details: dict[str, Any], stack: str) -> None:
    """Keep an unexpected failure, with its stack, as a SYSTEM ERROR line."""
    await pool.execute(
        "INSERT INTO trading_logs (category, level, message, details, stack)"
        " VALUES ('SYSTEM', 'ERROR', $1, $2::jsonb, $3)",
        message,
        orjson.dumps(details).decode(),
        stack,
    )
