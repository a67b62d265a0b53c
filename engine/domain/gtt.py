"""GTT (good-till-triggered) triggers: one or two trigger levels on an instrument, each with the
order it places when the last traded price reaches it (docs/DOMAIN.md §7).

A GTT blocks no margin while it waits; the order it places when it fires goes through the
account's order checks like any other. Its lifecycle is a transition table: ACTIVE is the only
state that leaves, and the GTT leaves the account's state when it does (its row keeps it).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from engine.domain.enums import OrderType, Product, Side
from engine.domain.invariants import InvariantError


class GttType(StrEnum):
    SINGLE = "SINGLE"  # one trigger, one order
    TWO_LEG = "TWO_LEG"  # OCO: a stop-loss below the price and a target above it


class GttStatus(StrEnum):
    ACTIVE = "ACTIVE"  # waiting for its trigger
    TRIGGERED = "TRIGGERED"  # fired and its order was accepted
    REJECTED = "REJECTED"  # fired and its order was refused (the reason is kept)
    CANCELLED = "CANCELLED"  # deleted by the trader
    EXPIRED = "EXPIRED"  # not fired within its life (``gtt.expiry_days``)
    DISABLED = "DISABLED"  # its contract expired before it fired


TRANSITIONS: frozenset[tuple[GttStatus | None, GttStatus]] = frozenset(
    {
        (None, GttStatus.ACTIVE),
        (GttStatus.ACTIVE, GttStatus.ACTIVE),  # a modification
        (GttStatus.ACTIVE, GttStatus.TRIGGERED),
        (GttStatus.ACTIVE, GttStatus.REJECTED),
        (GttStatus.ACTIVE, GttStatus.CANCELLED),
        (GttStatus.ACTIVE, GttStatus.EXPIRED),
        (GttStatus.ACTIVE, GttStatus.DISABLED),
    }
)


def transition(current: GttStatus | None, target: GttStatus) -> GttStatus:
    """Return ``target`` if the lifecycle allows it; an illegal move is a bug, not a branch."""
    if (current, target) not in TRANSITIONS:
        raise InvariantError(f"illegal GTT transition {current} -> {target}")
    return target


class GttLeg(msgspec.Struct, frozen=True, gc=False):
    """One trigger level and the order it places (LIMIT at ``price_paise``, or MARKET)."""

    trigger_paise: int
    side: Side
    quantity: int
    order_type: OrderType
    price_paise: int  # 0 for MARKET
    product: Product


class Gtt(msgspec.Struct, gc=False):
    """An active GTT inside an account. A two-leg GTT's legs are (stop-loss, target): the
    lower trigger first."""

    gtt_id: str
    instrument_id: str
    gtt_type: GttType
    last_price_paise: int  # the price when it was placed or last modified: which side it waits on
    legs: tuple[GttLeg, ...]
    status: GttStatus
    created_ms: int
    updated_ms: int
    expires_ms: int
    # Bumped by every modification: a firing the market reports for older terms is refused.
    version: int = 0


def leg_fires(leg_trigger_paise: int, last_price_paise: int, ltp_paise: int) -> bool:
    """Whether a trigger placed when the price was ``last_price_paise`` fires at ``ltp_paise``:
    a trigger above that price fires when the price rises to it or beyond, one below it when
    the price falls to it or beyond (touching it fires, as at Zerodha)."""
    if ltp_paise <= 0:
        return False
    if leg_trigger_paise > last_price_paise:
        return ltp_paise >= leg_trigger_paise
    return ltp_paise <= leg_trigger_paise


def rises_to(gtt: Gtt, leg: int) -> bool:
    """Whether leg ``leg`` of ``gtt`` waits for the price to rise to its trigger (else fall)."""
    return gtt.legs[leg].trigger_paise > gtt.last_price_paise
