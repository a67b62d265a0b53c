"""The ``since=reset`` filter of the order, position and ledger lists: only what came after
the account's last reset (everything when it was never reset). The lists' queries take the
sequence number found here (``persistence.read_models``)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from gateway.keys import DB
from persistence.read_models.resets import last_reset_seq

Since = Literal["reset"]


async def since_seq(request: web.Request, account_id: str, since: Since | None) -> int | None:
    """The account sequence number lists start after: the last reset's event with
    ``since=reset`` (None, i.e. everything, without it or when the account was never reset)."""
    if since is None:
        return None
    return await last_reset_seq(request.app[DB].pool, account_id)
