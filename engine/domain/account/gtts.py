"""GTT decisions (docs/DOMAIN.md §7): placing, modifying, deleting and ending a GTT. What a GTT
does when it fires is the placing of an order, decided with the order's own checks
(``engine.domain.account.decide``, ``_decide_trigger_gtt``).

A GTT's terms are checked in one precedence order, first failure wins: the instrument (an
index, an expired contract), the number of active GTTs (placing only), the legs' count for
the type, each leg's product, quantity and order prices, then the triggers: on the tick grid,
a last price to place them against, and on the right side of it (a single trigger anywhere but
at it; a two-leg GTT's lower below it and upper above it). Each refusal names the field at
fault (``GttCheck.field``), as the API answers it.
"""

from __future__ import annotations

from typing import NamedTuple

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, Decision
from engine.domain.enums import OrderType, Rejection
from engine.domain.gtt import GttLeg, GttStatus, GttType
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules, check_quantity, product_allowed

MS_PER_DAY = 86_400_000


class GttCheck(NamedTuple):
    """The first rule a GTT's terms break, and the field at fault (``orders[1].quantity``,
    ``triggerValues[0]``; empty: the GTT as a whole)."""

    rejection: Rejection
    field: str = ""


def legs_wanted(gtt_type: GttType) -> int:
    return 2 if gtt_type is GttType.TWO_LEG else 1


def _check_leg(instrument: Instrument, leg: GttLeg, at: str) -> GttCheck | None:
    if not product_allowed(instrument, leg.product):
        return GttCheck(Rejection.PRODUCT_NOT_ALLOWED, f"{at}.productType")
    if (rejection := check_quantity(instrument, leg.quantity)) is not None:
        return GttCheck(rejection, f"{at}.quantity")
    if leg.order_type is OrderType.LIMIT:
        if leg.price_paise <= 0 or leg.price_paise % instrument.tick_paise != 0:
            return GttCheck(Rejection.INVALID_PRICE, f"{at}.price")
    elif leg.order_type is not OrderType.MARKET or leg.price_paise != 0:
        return GttCheck(Rejection.INVALID_PRICE, f"{at}.orderType")
    return None


def check_gtt_terms(
    rules: AccountRules,
    *,
    instrument: Instrument,
    gtt_type: GttType,
    legs: tuple[GttLeg, ...],
    last_price_paise: int,
    now_ms: int,
) -> GttCheck | None:
    """The first rule of a GTT's terms they break (see the module doc), or None."""
    if instrument.is_index:
        return GttCheck(Rejection.NOT_TRADABLE, "instrumentId")
    if instrument.expiry is not None and now_ms >= rules.calendar.expiry_instant_ms(instrument):
        return GttCheck(Rejection.INSTRUMENT_EXPIRED, "instrumentId")
    if len(legs) != legs_wanted(gtt_type):
        return GttCheck(Rejection.INVALID_TRIGGER, "orders")
    for n, leg in enumerate(legs):
        if (refused := _check_leg(instrument, leg, f"orders[{n}]")) is not None:
            return refused
    for n, leg in enumerate(legs):
        trigger = leg.trigger_paise
        if trigger <= 0 or trigger % instrument.tick_paise != 0:
            return GttCheck(Rejection.INVALID_PRICE, f"triggerValues[{n}]")
    if last_price_paise <= 0:
        return GttCheck(Rejection.PRICE_UNAVAILABLE, "lastPrice")
    if gtt_type is GttType.SINGLE:
        if legs[0].trigger_paise == last_price_paise:
            return GttCheck(Rejection.INVALID_TRIGGER, "triggerValues[0]")
        return None
    lower, upper = legs[0].trigger_paise, legs[1].trigger_paise
    if lower >= last_price_paise:
        return GttCheck(Rejection.INVALID_TRIGGER, "triggerValues[0]")
    if upper <= last_price_paise:
        return GttCheck(Rejection.INVALID_TRIGGER, "triggerValues[1]")
    return None


def _refused(check: GttCheck) -> Decision:
    return Decision((), check.rejection, refused_field=check.field)


def _checked_terms(
    c: cmd.PlaceGtt | cmd.ModifyGtt, rules: AccountRules
) -> tuple[int, GttCheck | None]:
    """The price the terms are placed against, and the first rule they break (None: none)."""
    last = _last_price(c.last_price_paise, c.ltp_paise)
    check = check_gtt_terms(
        rules,
        instrument=c.instrument,
        gtt_type=c.gtt_type,
        legs=c.legs,
        last_price_paise=last,
        now_ms=c.now_ms,
    )
    return last, check


def _last_price(requested: int | None, ltp_paise: int) -> int:
    """What the GTT is placed against: the price the request names, else the market's."""
    return ltp_paise if requested is None else requested


def decide_place_gtt(state: AccountState, c: cmd.PlaceGtt, rules: AccountRules) -> Decision:
    if c.gtt_id in state.gtts:
        return Decision((), Rejection.DUPLICATE)
    if len(state.gtts) >= rules.gtt.active_max:
        return Decision((), Rejection.GTT_LIMIT)
    last, check = _checked_terms(c, rules)
    if check is not None:
        return _refused(check)
    placed = ev.GttPlaced(
        at_ms=c.now_ms,
        gtt_id=c.gtt_id,
        instrument_id=c.instrument.instrument_id,
        gtt_type=c.gtt_type,
        last_price_paise=last,
        legs=c.legs,
        expires_ms=c.now_ms + rules.gtt.expiry_days * MS_PER_DAY,
    )
    return Decision((placed,))


def decide_modify_gtt(state: AccountState, c: cmd.ModifyGtt, rules: AccountRules) -> Decision:
    gtt = state.gtts.get(c.gtt_id)
    if gtt is None:
        return Decision((), Rejection.GTT_NOT_ACTIVE)
    last, check = _checked_terms(c, rules)
    if check is not None:
        return _refused(check)
    modified = ev.GttModified(
        at_ms=c.now_ms, gtt_id=gtt.gtt_id, gtt_type=c.gtt_type, last_price_paise=last, legs=c.legs
    )
    return Decision((modified,))


def decide_delete_gtt(state: AccountState, c: cmd.DeleteGtt, rules: AccountRules) -> Decision:
    if c.gtt_id not in state.gtts:
        return Decision((), Rejection.GTT_NOT_ACTIVE)
    return Decision((ev.GttDeleted(at_ms=c.now_ms, gtt_id=c.gtt_id),))


def decide_end_gtt(state: AccountState, c: cmd.EndGtt, rules: AccountRules) -> Decision:
    """Expire (its life is over: not before ``expires_ms``) or disable an active GTT."""
    gtt = state.gtts.get(c.gtt_id)
    if gtt is None:
        return Decision((), Rejection.GTT_NOT_ACTIVE)
    if c.gtt_version is not None and c.gtt_version != gtt.version:
        return Decision((), Rejection.STALE_EXECUTION)
    status = GttStatus(c.status)
    if status is GttStatus.EXPIRED and c.now_ms < gtt.expires_ms:
        return Decision((), Rejection.STALE_EXECUTION)  # reported early: it still lives
    if status not in (GttStatus.EXPIRED, GttStatus.DISABLED):
        return Decision((), Rejection.INVALID_TRIGGER)
    return Decision((ev.GttExpired(at_ms=c.now_ms, gtt_id=gtt.gtt_id, status=status.value),))
