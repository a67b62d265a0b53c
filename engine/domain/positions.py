"""Net positions and holdings, and the arithmetic of a fill against a position.

A position keeps its *signed cost* (Σ signed quantity × price of the open quantity) instead of
an average price, so partial reductions realize P&L exactly and a full close leaves no paisa
behind: the cost share of a reduction is floor-prorated and the last reduction takes the rest.
"""

from __future__ import annotations

import msgspec

from engine.domain.enums import Product
from engine.domain.margin import pro_rata


class Position(msgspec.Struct, gc=False):
    """The net position of one account in one instrument and product."""

    position_id: str
    instrument_id: str
    product: Product
    quantity: int  # signed: + long, - short
    cost_paise: int  # signed cost of the open quantity
    margin_paise: int
    realized_pnl_paise: int
    opened_ms: int
    stop_loss_paise: int | None = None
    target_paise: int | None = None
    # A CNC long holds today's buys: what they paid, split as the ledger books it, so a sell
    # the same day can re-rate them as intraday (docs/DOMAIN.md §1).
    buy_brokerage_paise: int = 0
    buy_taxes_paise: int = 0

    def average_price_paise(self) -> int:
        if self.quantity == 0:
            return 0
        return abs(self.cost_paise) // abs(self.quantity)

    def unrealized_pnl_paise(self, ltp_paise: int) -> int:
        return self.quantity * ltp_paise - self.cost_paise


class Holding(msgspec.Struct, gc=False):
    """Delivery (CNC) shares carried from earlier sessions; their cost stays blocked."""

    instrument_id: str
    quantity: int
    cost_paise: int


class FillResult(msgspec.Struct, frozen=True, gc=False):
    """A position after a fill, and what the fill realized and released."""

    quantity: int
    cost_paise: int
    margin_paise: int
    realized_pnl_paise: int
    margin_released_paise: int
    opened_quantity: int  # units that opened or increased exposure at the fill price


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def reduce_signed(amount: int, part: int, whole: int) -> int:
    """Prorate a signed amount, flooring its magnitude (the last share takes the rest)."""
    return _sign(amount) * pro_rata(abs(amount), part, whole)


def fill_against(
    quantity: int,
    cost_paise: int,
    margin_paise: int,
    signed_fill_quantity: int,
    *,
    price_paise: int,
    opening_margin_paise: int,
) -> FillResult:
    """Apply a fill to a position given as (quantity, cost, margin).

    ``opening_margin_paise`` is the margin for the part of the fill that opens exposure
    (computed by the caller at the fill price, for ``FillResult.opened_quantity`` units, which
    the caller learns from :func:`opening_quantity`).
    """
    fill_abs = abs(signed_fill_quantity)
    if quantity == 0 or _sign(quantity) == _sign(signed_fill_quantity):
        return FillResult(
            quantity=quantity + signed_fill_quantity,
            cost_paise=cost_paise + signed_fill_quantity * price_paise,
            margin_paise=margin_paise + opening_margin_paise,
            realized_pnl_paise=0,
            margin_released_paise=0,
            opened_quantity=fill_abs,
        )
    held = abs(quantity)
    reduced = min(fill_abs, held)
    cost_share = reduce_signed(cost_paise, reduced, held)
    margin_released = pro_rata(margin_paise, reduced, held)
    realized = _sign(quantity) * reduced * price_paise - cost_share
    quantity_after = quantity + _sign(signed_fill_quantity) * reduced
    cost_after = cost_paise - cost_share
    margin_after = margin_paise - margin_released
    opened = fill_abs - reduced
    if opened:
        # The fill flipped the position: the rest opens a new one at the fill price.
        quantity_after = _sign(signed_fill_quantity) * opened
        cost_after = quantity_after * price_paise
        margin_after = opening_margin_paise
    return FillResult(
        quantity=quantity_after,
        cost_paise=cost_after,
        margin_paise=margin_after,
        realized_pnl_paise=realized,
        margin_released_paise=margin_released,
        opened_quantity=opened,
    )


def opening_quantity(position_quantity: int, signed_fill_quantity: int) -> int:
    """How many units of a fill open or increase exposure (the rest reduces)."""
    if position_quantity == 0 or _sign(position_quantity) == _sign(signed_fill_quantity):
        return abs(signed_fill_quantity)
    return max(0, abs(signed_fill_quantity) - abs(position_quantity))
