"""The pool the gateway's queries run on, as ``persistence`` sees it, and the check that the
database answers.

:class:`Pool` is what the query functions of ``persistence`` need of a pool: the gateway's
``BoundedPool`` (``gateway/database.py``) is one, bounding each acquire and each statement. A
function given a pool runs its statement on whichever connection the pool lends it; one that
must run several statements on one connection (a transaction, a replay) takes that connection.
"""

from __future__ import annotations

from typing import Any, Protocol


class Pool(Protocol):
    """The query methods of a connection pool, each on a connection of its own."""

    def acquire(self) -> Any:
        """A connection, as ``async with``."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


async def ping(pool: Pool) -> None:
    """Ask the database for the simplest answer there is (the health check's probe)."""
    await pool.fetchval("SELECT 1")
