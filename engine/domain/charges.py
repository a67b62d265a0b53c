"""Brokerage, taxes and fees on executed orders (docs/DOMAIN.md §1), in integer paise.

Two conventions share one set of rates:

* :func:`order_charges` prices ONE executed order, each component rounded half-up to the
  paisa. This is what the ledger debits at every fill.
* :func:`round_trip_charges` reproduces the broker's calculator for a buy and a sell: STT and
  stamp duty are rounded to whole rupees, exchange charge, SEBI fee and GST are computed on
  the combined turnover, and a delivery sell pays the DP charge. This is what previews and the
  breakeven figure show.

The two can differ by a few paise (or up to a rupee on STT and stamp), by design: they are
the two conventions the broker itself publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from engine.domain.enums import Product, Segment, Side
from engine.domain.money import RATE_SCALE, Rate, div_half_up, round_to_rupee
from engine.domain.parameters import CategoryRates, ChargeSchedule


class ChargeCategory(StrEnum):
    """Which column of the charges table applies to an order."""

    CNC = "CNC"
    MIS = "MIS"
    FUTURES = "FUTURES"
    OPTIONS = "OPTIONS"


_CASH_SEGMENTS = frozenset({Segment.NSE, Segment.BSE})
_FUTURES_SEGMENTS = frozenset({Segment.NFO_FUT, Segment.BFO_FUT, Segment.MCX_FUT, Segment.CDS_FUT})
_OPTIONS_SEGMENTS = frozenset({Segment.NFO_OPT, Segment.BFO_OPT, Segment.MCX_OPT, Segment.CDS_OPT})


def charge_category(segment: Segment, product: Product) -> ChargeCategory:
    """Return the charge category of an order on ``segment`` with ``product``.

    Derivatives are charged by segment whatever the product. A CNC buy and sell of the same
    scrip on the same day is charged as MIS; that reclassification needs the day's trades and
    is the caller's decision, not this function's.

    Raise ``ValueError`` for combinations no order can have (NRML on a cash segment, the
    non-tradable INDICES segment): those are bugs, product validity is checked upstream.
    """
    if segment in _FUTURES_SEGMENTS:
        return ChargeCategory.FUTURES
    if segment in _OPTIONS_SEGMENTS:
        return ChargeCategory.OPTIONS
    if segment in _CASH_SEGMENTS:
        if product is Product.CNC:
            return ChargeCategory.CNC
        if product is Product.MIS:
            return ChargeCategory.MIS
    raise ValueError(f"no charge category for {product} on segment {segment}")


def rates_for(schedule: ChargeSchedule, category: ChargeCategory) -> CategoryRates:
    """Return the rates of ``category`` in ``schedule``."""
    match category:
        case ChargeCategory.CNC:
            return schedule.cnc
        case ChargeCategory.MIS:
            return schedule.mis
        case ChargeCategory.FUTURES:
            return schedule.futures
        case ChargeCategory.OPTIONS:
            return schedule.options


@dataclass(frozen=True, slots=True)
class ChargeBreakdown:
    """Charges by component, in paise. ``ChargeBreakdown()`` is the zero to accumulate from."""

    brokerage_paise: int = 0
    stt_paise: int = 0
    exchange_paise: int = 0
    sebi_paise: int = 0
    gst_paise: int = 0
    stamp_paise: int = 0
    dp_paise: int = 0

    @property
    def total_paise(self) -> int:
        return (
            self.brokerage_paise
            + self.stt_paise
            + self.exchange_paise
            + self.sebi_paise
            + self.gst_paise
            + self.stamp_paise
            + self.dp_paise
        )

    @property
    def taxes_paise(self) -> int:
        """Everything but the brokerage: the statutory charges (and the DP charge)."""
        return self.total_paise - self.brokerage_paise

    def __add__(self, other: ChargeBreakdown) -> ChargeBreakdown:
        return ChargeBreakdown(
            brokerage_paise=self.brokerage_paise + other.brokerage_paise,
            stt_paise=self.stt_paise + other.stt_paise,
            exchange_paise=self.exchange_paise + other.exchange_paise,
            sebi_paise=self.sebi_paise + other.sebi_paise,
            gst_paise=self.gst_paise + other.gst_paise,
            stamp_paise=self.stamp_paise + other.stamp_paise,
            dp_paise=self.dp_paise + other.dp_paise,
        )


def _leg_brokerage_paise(rates: CategoryRates, value_paise: int) -> int:
    """Brokerage of one executed leg; a leg with no value was not traded and pays nothing."""
    if value_paise == 0:
        return 0
    if rates.brokerage_flat_paise > 0:
        return rates.brokerage_flat_paise
    brokerage_paise = rates.brokerage.of(value_paise)
    if rates.brokerage_max_paise > 0:  # 0 means no cap
        return min(brokerage_paise, rates.brokerage_max_paise)
    return brokerage_paise


def _check_dp(dp_applies: bool, sells: bool) -> None:
    # The DP charge is levied when shares leave the demat account, so only on a sell.
    if dp_applies and not sells:
        raise ValueError("the DP charge applies only to a delivery sell")


class OrderSoFar(NamedTuple):
    """What earlier fills of the same order traded and paid in brokerage."""

    value_paise: int = 0
    brokerage_paise: int = 0


FIRST_FILL = OrderSoFar()


def order_charges(
    schedule: ChargeSchedule,
    category: ChargeCategory,
    exchange: str,
    side: Side,
    value_paise: int,
    *,
    dp_applies: bool = False,
    so_far: OrderSoFar = FIRST_FILL,
) -> ChargeBreakdown:
    """Return the charges of one executed order of ``value_paise``, each rounded to paise.

    Brokerage is per executed order, however many fills it takes: for a later fill of an
    order (``so_far``), it is the order's brokerage on its whole traded value less what
    earlier fills paid (a flat ₹20 is paid once; a capped percentage stops at the cap).
    Set ``dp_applies`` for a delivery (CNC) sell from holdings; it adds the flat DP charge,
    which already includes GST.
    """
    if value_paise < 0:
        raise ValueError("order value must not be negative")
    _check_dp(dp_applies, side is Side.SELL)
    rates = rates_for(schedule, category)
    whole_order_paise = _leg_brokerage_paise(rates, so_far.value_paise + value_paise)
    brokerage_paise = 0
    if value_paise:
        brokerage_paise = max(0, whole_order_paise - so_far.brokerage_paise)
    if side is Side.BUY:
        stt_paise = rates.stt_buy.of(value_paise)
        stamp_paise = rates.stamp_buy.of(value_paise)
    else:
        stt_paise = rates.stt_sell_rate(exchange).of(value_paise)
        stamp_paise = 0
    exchange_paise = rates.exchange_rate(exchange).of(value_paise)
    sebi_paise = schedule.sebi.of(value_paise)
    return ChargeBreakdown(
        brokerage_paise=brokerage_paise,
        stt_paise=stt_paise,
        exchange_paise=exchange_paise,
        sebi_paise=sebi_paise,
        gst_paise=schedule.gst.of(brokerage_paise + exchange_paise + sebi_paise),
        stamp_paise=stamp_paise,
        dp_paise=schedule.dp_charge_paise if dp_applies else 0,
    )


def _two_rates_of(rate_a: Rate, amount_a_paise: int, rate_b: Rate, amount_b_paise: int) -> int:
    """Apply two rates to two amounts and round the exact sum once, half-up to paise."""
    exact_parts = rate_a.parts * amount_a_paise + rate_b.parts * amount_b_paise
    return div_half_up(exact_parts, RATE_SCALE)


def round_trip_charges(
    schedule: ChargeSchedule,
    category: ChargeCategory,
    exchange: str,
    buy_value_paise: int,
    sell_value_paise: int,
    *,
    dp_applies: bool | None = None,
) -> ChargeBreakdown:
    """Return the calculator's charges for a buy of ``buy_value_paise`` and a sell.

    Brokerage is per leg; STT (on the legs its rates name: both for CNC, the sell for the
    rest) and stamp duty are rounded to paise and then to whole rupees; exchange charge, SEBI
    fee and GST are rounded to paise on the combined turnover. Pass 0 for a leg to preview a
    single order: a zero leg pays no brokerage and no turnover-based charge.

    The DP charge follows the calculator by default: a CNC (delivery) round trip with a sell
    leg pays it once, on that sell. Pass ``dp_applies=False`` when the scrip has already paid
    DP today (it is charged once per scrip per day).
    """
    if buy_value_paise < 0 or sell_value_paise < 0:
        raise ValueError("leg values must not be negative")
    delivery = category is ChargeCategory.CNC
    if dp_applies is None:
        dp_applies = delivery and sell_value_paise > 0
    if dp_applies and not delivery:
        raise ValueError("the DP charge applies only to a delivery (CNC) sell")
    _check_dp(dp_applies, sell_value_paise > 0)
    rates = rates_for(schedule, category)
    turnover_paise = buy_value_paise + sell_value_paise
    brokerage_paise = _leg_brokerage_paise(rates, buy_value_paise) + _leg_brokerage_paise(
        rates, sell_value_paise
    )
    stt_paise = _two_rates_of(
        rates.stt_buy, buy_value_paise, rates.stt_sell_rate(exchange), sell_value_paise
    )
    exchange_paise = rates.exchange_rate(exchange).of(turnover_paise)
    sebi_paise = schedule.sebi.of(turnover_paise)
    return ChargeBreakdown(
        brokerage_paise=brokerage_paise,
        stt_paise=round_to_rupee(stt_paise),
        exchange_paise=exchange_paise,
        sebi_paise=sebi_paise,
        gst_paise=schedule.gst.of(brokerage_paise + exchange_paise + sebi_paise),
        stamp_paise=round_to_rupee(rates.stamp_buy.of(buy_value_paise)),
        dp_paise=schedule.dp_charge_paise if dp_applies else 0,
    )


def breakeven_points_paise(total_charges_paise: int, quantity: int) -> int:
    """Return the price move per unit that pays ``total_charges_paise``, half-up to paise."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    return div_half_up(total_charges_paise, quantity)
