"""Which rejections a new order and a modification can get, in the order ``decide`` checks them
(``engine.domain.account.decide._check_order``): DUPLICATE is a new order's, ORDER_NOT_OPEN a
modification's."""

from __future__ import annotations

from engine.domain.enums import Rejection

PLACE_ORDER_CHECKS = (
    Rejection.DUPLICATE,
    Rejection.NOT_TRADABLE,
    Rejection.INSTRUMENT_EXPIRED,
    Rejection.MARKET_CLOSED,
    Rejection.AMO_WHILE_OPEN,
    Rejection.PRODUCT_NOT_ALLOWED,
    Rejection.INVALID_QUANTITY,
    Rejection.ABOVE_FREEZE_QUANTITY,
    Rejection.INVALID_PRICE,
    Rejection.PRICE_UNAVAILABLE,
    Rejection.OPEN_ORDERS_LIMIT,
    Rejection.ORDER_VALUE_LIMIT,
    Rejection.INSUFFICIENT_HOLDINGS,
    Rejection.INSUFFICIENT_FUNDS,
)
MODIFY_ORDER_CHECKS = (
    Rejection.ORDER_NOT_OPEN,
    Rejection.INSTRUMENT_EXPIRED,
    Rejection.MARKET_CLOSED,
    Rejection.INVALID_QUANTITY,
    Rejection.ABOVE_FREEZE_QUANTITY,
    Rejection.INVALID_PRICE,
    Rejection.PRICE_UNAVAILABLE,
    Rejection.ORDER_VALUE_LIMIT,
    Rejection.INSUFFICIENT_HOLDINGS,
    Rejection.INSUFFICIENT_FUNDS,
)
