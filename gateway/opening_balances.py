"""The virtual balance a new trading account opens with (``accounts.opening_balance``).

The amount is written with the account's row (``trading_accounts.opening_balance_paise``, in
the transaction that creates the user); the credit is an ordinary journaled ledger entry of kind
``OPENING_BALANCE``, so the funds identity, replay and the console's transactions show it. A
credit cut off by a crash between the two is made at the next start, before any request is
served: every account owed an opening balance and without its ``OPENING_BALANCE`` entry gets it.
"""

from __future__ import annotations

import logging

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.enums import FundKind
from gateway.keys import BRIDGE, DB, ENGINE
from persistence.trading_accounts import accounts_without_opening_credit

logger = logging.getLogger(__name__)


async def open_account(app: web.Application, account_id: str, opening_balance_paise: int) -> None:
    """Register a new account with the engine and credit its opening balance."""
    app[ENGINE].add_account(AccountState(account_id))
    if opening_balance_paise > 0:
        await credit_opening_balance(app, account_id, opening_balance_paise)


async def credit_opening_balance(app: web.Application, account_id: str, amount_paise: int) -> bool:
    """Submit the opening credit; False (logged) if the account did not take it."""
    credit = cmd.CreditFundsRequest(
        amount_paise=amount_paise, kind=FundKind.OPENING_BALANCE, reference=account_id
    )
    outcome = await app[BRIDGE].submit(account_id, credit)
    if outcome.unavailable or outcome.rejection is not None:
        logger.error("opening balance of %s not credited: %r", account_id, outcome)
        return False
    return True


async def credit_missing_opening_balances(app: web.Application) -> int:
    """At start: credit every account owed an opening balance that has none; return how many."""
    rows = await accounts_without_opening_credit(app[DB].pool, FundKind.OPENING_BALANCE)
    credited = 0
    for row in rows:
        credited += await credit_opening_balance(app, row["id"], row["opening_balance_paise"])
    if credited:
        logger.info("credited %d opening balances cut off before their credit", credited)
    return credited
