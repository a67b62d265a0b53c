"""The ``since=reset`` filter of the order, position and ledger lists: only what came after
the account's last reset (everything when it was never reset)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from gateway.keys import DB

Since = Literal["reset"]


async def since_seq(request: web.Request, account_id: str, since: Since | None) -> int | None:
    """The account sequence number lists start after: the last reset's event with
    ``since=reset`` (None, i.e. everything, without it or when the account was never reset)."""
    if since is None:
        return None
    seq: int | None = await request.app[DB].pool.fetchval(
        "SELECT max(account_seq) FROM account_resets WHERE trading_account_id = $1", account_id
    )
    return seq


# Orders and positions have no sequence number of their own: those after a reset are the ones
# its account's journal names after the reset's event (exact, where a time comparison would
# not be for what happens in the reset's own millisecond).
ORDERS_SINCE = (
    "SELECT payload->>'order_id' FROM events WHERE account_id = {account} AND account_seq > {seq}"
    " AND type IN ('OrderAccepted', 'OrderRejected')"
)
POSITIONS_SINCE = (
    "SELECT payload->>'position_id' FROM events WHERE account_id = {account}"
    " AND account_seq > {seq} AND type = 'OrderFilled'"
)
