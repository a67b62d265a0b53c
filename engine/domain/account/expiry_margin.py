"""The expiry-day extra ELM on short index options held into their expiry day (docs/DOMAIN.md §2).

SEBI's +2 % ELM applies to every short index option expiring that day, from the start of the
day. A short opened on the expiry day carries it from its fill (``order_margin`` with
``expiry_day``); one opened earlier gets it here, at the start of the day: the account's
first command or read of the day, or the engine's nudge at the day's first tick or after a
restart, whichever comes first. The extra joins the position's margin, so a reducing fill
releases it pro rata with the rest and the settlement at expiry releases it whole.

Made once a day: the decision records the day it was made (``AccountState.expiry_margin_day``)
whenever the account holds an index option expiring that day from an earlier day, short or
long. A long held into the day records the check too, so that a fill later that day turning it
short (a flip keeps the position and its opening time, its short part margined on the expiry
day already) is not charged again by a check repeated after a restart. A shortfall it leaves
is not refused here: the available funds may go negative, as after any loss.
"""

from __future__ import annotations

from datetime import date

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, Decision
from engine.domain.instruments import Instrument, UnderlyingKind
from engine.domain.margin import expiry_day_extra
from engine.domain.rules import AccountRules


def carries_expiry_day_extra(instrument: Instrument, trade_date: date) -> bool:
    """Whether a short in ``instrument`` carries the extra ELM on ``trade_date``: an index
    option expiring that day (not a stock or commodity option, nor a future)."""
    return (
        instrument.is_option
        and instrument.underlying_kind is UnderlyingKind.INDEX
        and instrument.expiry == trade_date
    )


def decide_expiry_margin(
    state: AccountState, c: cmd.BlockExpiryMargin, rules: AccountRules
) -> Decision:
    """Block the extra ELM on each short index option expiring today and opened before today;
    nothing if today's check was made, or if the account holds no such option from before."""
    today = rules.trade_day(c.now_ms)
    if state.expiry_margin_day >= today:
        return Decision(())
    trade_date = rules.trade_date(c.now_ms)
    contracts = {x.instrument.instrument_id: x for x in c.contracts}
    held_into_today = False
    blocks: list[ev.ExpiryMarginBlock] = []
    for position in state.positions.values():
        contract = contracts.get(position.instrument_id)
        if contract is None or not carries_expiry_day_extra(contract.instrument, trade_date):
            continue
        if rules.trade_day(position.opened_ms) >= today:
            continue  # opened today: its fill was margined on the expiry day already
        held_into_today = True
        if position.quantity >= 0:
            continue  # a long option's risk is its premium, paid
        instrument, quantity = contract.instrument, -position.quantity
        reference_paise = contract.underlying_price_paise or instrument.strike_paise
        amount_paise = expiry_day_extra(rules.margin, instrument, quantity, reference_paise)
        if amount_paise:
            blocks.append(
                ev.ExpiryMarginBlock(
                    position_id=position.position_id,
                    instrument_id=position.instrument_id,
                    quantity=quantity,
                    reference_paise=reference_paise,
                    amount_paise=amount_paise,
                )
            )
    if not held_into_today:
        return Decision(())
    return Decision(
        (ev.ExpiryMarginBlocked(at_ms=c.now_ms, trade_day=today, blocks=tuple(blocks)),)
    )
