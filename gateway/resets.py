"""Account resets ("starting over", issue 23): submitting one and describing it (the
``since=reset`` filter of the lists is :mod:`gateway.since`).

A reset is ONE command to the account's actor (``engine.domain.account.decide``): its working
orders are cancelled, its positions closed and its holdings sold at market (priced as a
position close is), its pending withdrawals cancelled, then its cash set to the balance the
account opened with (``trading_accounts.opening_balance_paise``, ``accounts.opening_balance``
when it was opened: see :mod:`gateway.opening_balances`) by one RESET ledger entry. Everything
is journaled together, so a restart replays the same state; nothing of the history is deleted.

No reset overlaps a square-off: the session square-off (the only one there is) runs inside one
turn of the account's actor, and so does a reset, so the actor serialises them whole; there is
no "square-off in flight" state to wait for.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import resets_on_day
from engine.domain.money import paise_to_rupees
from gateway.errors import ApiError, json_response, outcome_unknown, rejected
from gateway.funds_views import funds_of
from gateway.keys import BRIDGE, DB, ENGINE
from gateway.outcomes import check_outcome
from gateway.views import iso_moment, iso_ms
from persistence.read_models.resets import last_reset_at
from persistence.trading_accounts import opening_balance_of

ByRole = Literal["USER", "ADMIN"]


async def submit_reset(
    request: web.Request, account_id: str, by_user_id: str, by_role: ByRole
) -> web.Response:
    """Reset ``account_id`` and answer ``{reset, funds}`` built from the committed events."""
    opening_balance = await opening_balance_of(request.app[DB].pool, account_id)
    command = cmd.ResetAccountRequest(
        reset_id=request.app[ENGINE].new_id(),
        by_user_id=by_user_id,
        by_role=by_role,
        opening_balance_paise=opening_balance,
    )
    outcome = await request.app[BRIDGE].submit(account_id, command)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    if not outcome.events:  # never: an accepted reset always journals its marker
        raise ApiError(outcome_unknown())
    view = reset_view(account_id, outcome.events, outcome.first_seq)
    return json_response({"reset": view, "funds": await funds_of(request, account_id)})


def reset_view(
    account_id: str, events: tuple[ev.AccountEvent, ...], first_seq: int
) -> dict[str, Any]:
    """What a reset did, counted from its events."""
    marker_at = next(i for i, e in enumerate(events) if isinstance(e, ev.AccountReset))
    marker = events[marker_at]
    assert isinstance(marker, ev.AccountReset)
    fills = [e for e in events if isinstance(e, ev.OrderFilled)]
    return {
        "id": marker.reset_id,
        "tradingAccountId": account_id,
        "accountSeq": first_seq + marker_at,
        "resetBy": marker.by_user_id,
        "byRole": marker.by_role,
        "openingBalance": paise_to_rupees(marker.opening_balance_paise),
        "adjustment": paise_to_rupees(marker.adjustment_paise),
        "ordersCancelled": sum(isinstance(e, ev.OrderCancelled) for e in events),
        "positionsClosed": sum(1 for f in fills if f.position_id),
        "holdingsSold": sum(1 for f in fills if not f.position_id),
        "withdrawalsCancelled": sum(isinstance(e, ev.WithdrawalCancelled) for e in events),
        "createdAt": iso_ms(marker.at_ms),
    }


async def resets_summary(request: web.Request, account_id: str) -> dict[str, Any]:
    """The account's resets: today's against the daily limit, the total and the last one."""
    engine = request.app[ENGINE]
    today = engine.rules.trade_day(engine.clock.now_ms())
    counts: tuple[int, int] = await request.app[BRIDGE].inspect(
        account_id, lambda state: (resets_on_day(state, today), state.resets_total)
    )
    last = await last_reset_at(request.app[DB].pool, account_id)
    return {
        "today": counts[0],
        "perDayMax": engine.rules.limits.account_resets_per_day_max,
        "total": counts[1],
        "lastResetAt": iso_moment(last),
    }
