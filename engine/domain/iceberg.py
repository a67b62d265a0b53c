"""Iceberg orders (docs/DOMAIN.md §3, "Iceberg orders"): one large order worked as a chain of
smaller ones, its legs. Only one leg works at a time; the next is placed, as a new order with
every check of one, when the one before it has filled completely.

An iceberg of ``total_quantity`` in legs of ``leg_quantity`` has ``ceil(total / leg)`` legs, the
last one what is left. Its terms are checked in one order, first failure wins: the number of
legs (``limits.iceberg_legs_min`` to ``_max``), the leg's quantity (whole lots, within the
freeze quantity), the total (whole lots) and the two agreeing (``legs`` is the number of legs
``leg_quantity`` makes of the total). Each refusal names the field at fault.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from engine.domain.enums import Rejection
from engine.domain.instruments import Instrument
from engine.domain.parameters import LimitsConfig
from engine.domain.rules import check_quantity


class Iceberg(msgspec.Struct, frozen=True, gc=False):
    """Where one leg stands in its iceberg: leg ``leg`` of ``legs``. ``parent_order_id`` is the
    first leg's order id, shared by every leg."""

    parent_order_id: str
    leg: int  # 1 for the first leg
    legs: int
    leg_quantity: int  # every leg's quantity but the last's, which is what is left
    total_quantity: int

    def quantity_of_leg(self, leg: int) -> int:
        return min(self.leg_quantity, self.total_quantity - (leg - 1) * self.leg_quantity)

    @property
    def remaining_quantity(self) -> int:
        """What the legs after this one are to trade (Kite's ``remaining_quantity``)."""
        return max(0, self.total_quantity - self.leg * self.leg_quantity)

    def next_leg(self) -> Iceberg | None:
        """The leg after this one; None after the last."""
        if self.leg >= self.legs:
            return None
        return msgspec.structs.replace(self, leg=self.leg + 1)


class IcebergCheck(NamedTuple):
    """The first rule an iceberg's terms break, and the field at fault (``iceberg.legs``)."""

    rejection: Rejection
    field: str
    message: str


def legs_for(total_quantity: int, leg_quantity: int) -> int:
    """How many legs of ``leg_quantity`` the total takes (the last one what is left)."""
    return -(-total_quantity // leg_quantity)


def check_iceberg(
    instrument: Instrument, iceberg: Iceberg, limits: LimitsConfig
) -> IcebergCheck | None:
    """The first rule ``iceberg``'s terms break (see the module doc), or None."""
    low, high = limits.iceberg_legs_min, limits.iceberg_legs_max
    if not low <= iceberg.legs <= high:
        return IcebergCheck(
            Rejection.INVALID_QUANTITY, "iceberg.legs", f"an iceberg has {low} to {high} legs"
        )
    if (rejection := check_quantity(instrument, iceberg.leg_quantity)) is not None:
        return IcebergCheck(
            rejection,
            "iceberg.legQuantity",
            f"a leg is a positive multiple of the lot size ({instrument.lot_size})"
            + (
                f", at most {instrument.freeze_quantity}"
                if rejection is Rejection.ABOVE_FREEZE_QUANTITY
                else ""
            ),
        )
    total = iceberg.total_quantity
    if total <= 0 or total % instrument.lot_size != 0:
        return IcebergCheck(
            Rejection.INVALID_QUANTITY,
            "quantity",
            f"the quantity is a positive multiple of the lot size ({instrument.lot_size})",
        )
    wanted = legs_for(total, iceberg.leg_quantity)
    if iceberg.legs != wanted:
        return IcebergCheck(
            Rejection.INVALID_QUANTITY,
            "iceberg.legs",
            f"{total} in legs of {iceberg.leg_quantity} is {wanted} legs, not {iceberg.legs}",
        )
    return None
