"""The gateway's connection pool: opened at startup (migrations applied), closed at shutdown.

Every wait on the database is bounded (``[database]`` in configs): opening a connection,
waiting for a free one, and each statement on this side of the socket. A stalled or dead
database then costs a request at most those bounds and answers 503 (the error middleware
maps a timeout to "not carried out"), instead of holding it for the whole outage.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.config import DatabaseConfig
from persistence.migrate import migrate
from persistence.supervisor import EmbeddedSupervisor


async def _keep_session(_: Any) -> None:
    """Skip asyncpg's per-release session reset: this pool never changes session state
    (no LISTEN, no prepared-statement tricks, no temp tables), and the reset query cost a
    round trip on every request (measured with bench/load.py)."""


class BoundedPool:
    """The asyncpg pool's query methods, each with its acquire and statement bounded."""

    def __init__(self, pool: Any, acquire_timeout_s: float, command_timeout_s: float) -> None:
        self._pool = pool
        self.acquire_timeout_s = acquire_timeout_s
        self.command_timeout_s = command_timeout_s

    def acquire(self) -> Any:
        """A connection (as ``async with``), waited for at most ``acquire_timeout_s``; its
        statements are bounded by the pool's ``command_timeout``."""
        return self._pool.acquire(timeout=self.acquire_timeout_s)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        async with self.acquire() as conn:
            rows: list[Any] = await conn.fetch(query, *args, timeout=self.command_timeout_s)
            return rows

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args, timeout=self.command_timeout_s)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args, timeout=self.command_timeout_s)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            status: str = await conn.execute(query, *args, timeout=self.command_timeout_s)
            return status

    async def close(self) -> None:
        await self._pool.close()


class Database:
    """Holds the bounded pool once it is open; stores read ``pool`` per call."""

    def __init__(
        self, dsn: str, statement_timeout_ms: int, config: DatabaseConfig, pool_max: int = 0
    ) -> None:
        self.dsn = dsn
        self.statement_timeout_ms = statement_timeout_ms
        self.config = config
        self.pool_max = pool_max or config.pool_max
        self._pool: BoundedPool | None = None
        # Set while this process supervises the embedded server it runs (health reads it).
        self.supervisor: EmbeddedSupervisor | None = None

    @property
    def pool(self) -> BoundedPool:
        assert self._pool is not None, "the database is not open"
        return self._pool

    async def open(self) -> None:
        config = self.config
        settings = {"statement_timeout": str(self.statement_timeout_ms)}
        pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_max,
            server_settings=settings,
            reset=_keep_session,
            timeout=config.connect_timeout_ms / 1000,
            command_timeout=config.command_timeout_ms / 1000,
        )
        self._pool = BoundedPool(
            pool, config.acquire_timeout_ms / 1000, config.command_timeout_ms / 1000
        )
        async with self._pool.acquire() as conn:
            await migrate(conn)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
