"""A basket's margins in the shape docs/API.md documents ("Basket margins"): rupees, camelCase,
each figure broken down as a broker shows it."""

from __future__ import annotations

from typing import Any

from engine.domain.account.basket import BasketMargins, MarginFigures, OrderMargins
from engine.domain.money import paise_to_rupees


def breakdown_view(figures: MarginFigures) -> dict[str, Any]:
    return {
        "span": paise_to_rupees(figures.span_paise),
        "exposure": paise_to_rupees(figures.exposure_paise),
        "additional": paise_to_rupees(figures.additional_paise),
        "optionPremium": paise_to_rupees(figures.option_premium_paise),
        "premiumCredit": paise_to_rupees(figures.premium_credit_paise),
        "var": paise_to_rupees(figures.var_paise),
        "total": paise_to_rupees(figures.total_paise),
        "blocked": paise_to_rupees(figures.blocked_paise),
    }


def basket_order_view(priced: OrderMargins) -> dict[str, Any]:
    order, requirements = priced.order, priced.requirements
    rejection = requirements.rejection
    return {
        "instrumentId": order.instrument.instrument_id,
        "orderSide": order.side.value,
        "quantity": order.quantity,
        **breakdown_view(priced.figures),
        "charges": paise_to_rupees(requirements.charges_paise),
        "sufficient": rejection is None,
        "rejection": None if rejection is None else rejection.value,
        "standalone": breakdown_view(priced.standalone),
    }


def basket_view(margins: BasketMargins, available_paise: int) -> dict[str, Any]:
    return {
        "initial": breakdown_view(margins.initial),
        "final": breakdown_view(margins.final),
        "benefit": paise_to_rupees(margins.benefit_paise),
        "charges": paise_to_rupees(margins.charges_paise),
        "availableMargin": paise_to_rupees(available_paise),
        "orders": [basket_order_view(priced) for priced in margins.orders],
    }
