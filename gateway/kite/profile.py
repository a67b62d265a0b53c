"""The profile fields Kite answers at login and at ``/user/profile``, for a paperdesk user."""

from __future__ import annotations

from typing import Any

EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX")
PRODUCTS = ("CNC", "NRML", "MIS")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
BROKER = "PAPERDESK"


def profile_view(user: Any) -> dict[str, Any]:
    """``user`` (a ``users`` row) as Kite's profile; ``user_id`` is paperdesk's user id."""
    name = user["name"]
    return {
        "user_id": user["id"],
        "user_type": "individual",
        "email": user["email"],
        "user_name": name,
        "user_shortname": name.split()[0] if name.split() else name,
        "broker": BROKER,
        "exchanges": list(EXCHANGES),
        "products": list(PRODUCTS),
        "order_types": list(ORDER_TYPES),
        "avatar_url": None,
        "meta": {"demat_consent": "physical"},
    }
