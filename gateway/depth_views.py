"""The displayed book as the API shows it (docs/API.md "Market data"): five levels a side,
best first, prices in rupees."""

from __future__ import annotations

from typing import Any

from engine.domain.money import paise_to_rupees
from engine.domain.quote import DepthLevel
from engine.market.depth import MarketDepth
from engine.market.market_data import MarketSnapshot


def _levels(levels: list[DepthLevel]) -> list[dict[str, Any]]:
    return [
        {
            "price": paise_to_rupees(level.price_paise),
            "quantity": level.quantity,
            "orders": level.orders,
        }
        for level in levels
    ]


def depth_view(
    depth: MarketDepth, index: int, snapshot: MarketSnapshot
) -> dict[str, list[dict[str, Any]]]:
    """``{buy, sell}``: the bids and the asks an instrument shows around ``snapshot`` (the one
    the rest of the quote was read from), net of what orders took (both empty while it has no
    price)."""
    bids, asks = depth.book(index, snapshot)
    return {"buy": _levels(bids), "sell": _levels(asks)}
