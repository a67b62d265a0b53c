"""Deposit requests written before requests were journaled events, made events at start.

A PENDING deposit row with ``journaled = false`` predates the one write path: its account
knows nothing of it, so no decision could credit it. At start, each one is submitted to its
account as the request it was (same id, amount, bank account and reference); the event's
projection marks the row journaled, so this happens once. A legacy withdrawal needs nothing:
its block (same id) is in the account, and its decision releases it (``engine.domain.account``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from engine.domain import commands as cmd
from gateway.keys import BRIDGE, DB
from persistence.read_models.requests import unjournaled_pending_deposits

logger = logging.getLogger(__name__)


async def adopt_legacy_deposits(app: web.Application) -> int:
    """Journal every PENDING deposit that is not yet an event; return how many were."""
    rows = await unjournaled_pending_deposits(app[DB].pool)
    adopted = 0
    for row in rows:
        command = cmd.RequestDepositRequest(
            deposit_id=row["id"],
            amount_paise=row["amount_paise"],
            bank_account_id=row["bank_account_id"],
            reference=row["reference"],
        )
        outcome = await app[BRIDGE].submit(row["trading_account_id"], command)
        if outcome.unavailable or outcome.rejection is not None:
            logger.error("deposit %s could not be journaled: %r", row["id"], outcome)
            continue
        adopted += 1
    if adopted:
        logger.info("journaled %d deposit requests made before requests were events", adopted)
    return adopted
