"""The gateway's connection pool: opened at startup (migrations applied), closed at shutdown."""

from __future__ import annotations

from typing import Any

import asyncpg

from persistence.migrate import migrate


async def _keep_session(_: Any) -> None:
    """Skip asyncpg's per-release session reset: this pool never changes session state
    (no LISTEN, no prepared-statement tricks, no temp tables), and the reset query cost a
    round trip on every request (measured with bench/load.py)."""


class Database:
    """Holds the asyncpg pool once it is open; stores read ``pool`` per call."""

    def __init__(self, dsn: str, statement_timeout_ms: int, pool_max: int = 10) -> None:
        self.dsn = dsn
        self.statement_timeout_ms = statement_timeout_ms
        self.pool_max = pool_max
        self._pool: Any = None

    @property
    def pool(self) -> Any:
        assert self._pool is not None, "the database is not open"
        return self._pool

    async def open(self) -> None:
        settings = {"statement_timeout": str(self.statement_timeout_ms)}
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_max,
            server_settings=settings,
            reset=_keep_session,
        )
        async with self._pool.acquire() as conn:
            await migrate(conn)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
