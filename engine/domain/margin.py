"""Margin blocked when an order is accepted (docs/DOMAIN.md §2), in integer paise.

Every percentage is applied with :meth:`~engine.domain.money.Rate.of`, half-up to the paisa. Where
the table adds two percentages (SPAN + exposure, option sell + expiry-day extra) each one is
computed on the same notional with ``Rate.of`` and the rounded amounts are added, so every
figure shown to the user is itself a correctly rounded percentage of the notional.
"""

from __future__ import annotations

from engine.domain.enums import Exchange, Product, Side
from engine.domain.instruments import Instrument, UnderlyingKind
from engine.domain.money import Rate, div_half_up
from engine.domain.parameters import MarginConfig


def _futures_rates(cfg: MarginConfig, instrument: Instrument) -> tuple[Rate, ...]:
    """The rates (SPAN, exposure…) whose sum is the futures margin on ``instrument``."""
    kind = instrument.underlying_kind
    if kind is UnderlyingKind.NONE:
        # An imported master may not say what a derivative is written on: MCX contracts are
        # commodities; anything else gets the stock rates, the most conservative in the table.
        is_mcx = instrument.exchange is Exchange.MCX
        kind = UnderlyingKind.COMMODITY if is_mcx else UnderlyingKind.STOCK
    match kind:
        case UnderlyingKind.INDEX:
            return (cfg.futures_index_span, cfg.futures_index_exposure)
        case UnderlyingKind.STOCK:
            return (cfg.futures_stock_span, cfg.futures_stock_exposure)
        case _:
            return (cfg.futures_commodity,)


def _sum_of_rates(rates: tuple[Rate, ...], notional_paise: int) -> int:
    return sum(rate.of(notional_paise) for rate in rates)


def _equity_margin(cfg: MarginConfig, product: Product, side: Side, value_paise: int) -> int:
    if product is Product.CNC:
        # A CNC sell blocks no cash; the free-holdings check is the account's.
        return value_paise if side is Side.BUY else 0
    if product is Product.MIS:
        rate = max(cfg.equity_var_elm, cfg.mis_equity_min, key=lambda r: r.parts)
        return rate.of(value_paise)
    raise ValueError(f"{product} is not an equity product")


def _option_sell_margin(
    cfg: MarginConfig,
    instrument: Instrument,
    quantity: int,
    underlying_price_paise: int,
    expiry_day: bool,
) -> int:
    reference_paise = underlying_price_paise or instrument.strike_paise
    if reference_paise <= 0:
        raise ValueError(f"no underlying price or strike for {instrument.instrument_id}")
    notional_paise = quantity * reference_paise
    margin_paise = _sum_of_rates(_futures_rates(cfg, instrument), notional_paise)
    if expiry_day:
        margin_paise += _expiry_day_extra_on(cfg, instrument, notional_paise)
    return margin_paise


def _expiry_day_extra_on(cfg: MarginConfig, instrument: Instrument, notional_paise: int) -> int:
    # SEBI's extra ELM on expiry day is for index options only (from 2024-11-20).
    if not instrument.is_option or instrument.underlying_kind is not UnderlyingKind.INDEX:
        return 0
    return cfg.option_sell_expiry_day_extra.of(notional_paise)


def expiry_day_extra(
    cfg: MarginConfig, instrument: Instrument, quantity: int, underlying_price_paise: int
) -> int:
    """Return the extra ELM in paise a short of ``quantity`` units of ``instrument`` carries on
    its expiry day: ``option_sell_expiry_day_extra`` of ``quantity ×`` the underlying's price
    (the strike when it is 0), the notional an option sell is margined on; 0 for anything but
    an index option.

    It is the same amount :func:`order_margin` adds to an index option sell on its expiry day,
    so a short opened before its expiry day and one opened on it carry the same extra.
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    reference_paise = underlying_price_paise or instrument.strike_paise
    if reference_paise <= 0:
        raise ValueError(f"no underlying price or strike for {instrument.instrument_id}")
    return _expiry_day_extra_on(cfg, instrument, quantity * reference_paise)


# The six positionals are the agreed call shape (instrument, product, side, quantity, price).
def order_margin(  # noqa: PLR0917
    cfg: MarginConfig,
    instrument: Instrument,
    product: Product,
    side: Side,
    quantity: int,
    price_paise: int,
    *,
    underlying_price_paise: int = 0,
    expiry_day: bool = False,
) -> int:
    """Return the margin in paise to block for an order of ``quantity`` at ``price_paise``.

    ``price_paise`` is the order's valuation price (a MARKET order's protected ask or bid).
    An option sell is margined on ``quantity × underlying_price_paise``, falling back to the
    strike when the underlying price is 0. Whether ``product`` is allowed on ``instrument`` is
    checked before margin (``PRODUCT_NOT_ALLOWED``); a combination with no row in the table
    (NRML equity, CNC derivative) raises ``ValueError``.
    """
    if quantity <= 0 or price_paise < 0:
        raise ValueError("quantity must be positive and price not negative")
    value_paise = quantity * price_paise
    if instrument.is_equity:
        return _equity_margin(cfg, product, side, value_paise)
    if product is Product.CNC:
        raise ValueError("CNC is not a derivatives product")
    if instrument.is_future:
        return _sum_of_rates(_futures_rates(cfg, instrument), value_paise)
    if side is Side.BUY:
        return value_paise  # an option buyer's risk is the premium paid
    return _option_sell_margin(cfg, instrument, quantity, underlying_price_paise, expiry_day)


def leverage_x100(value_paise: int, margin_paise: int) -> int:
    """Return value / margin × 100, half-up (500 means 5×); 0 when no margin is blocked."""
    if margin_paise <= 0:
        return 0
    return div_half_up(value_paise * 100, margin_paise)


def pro_rata(amount_paise: int, part: int, whole: int) -> int:
    """Return the share of ``amount_paise`` for ``part`` of ``whole`` units, rounded down.

    Use it on what is still blocked: a fill reducing a position of ``whole`` units by
    ``part`` releases ``pro_rata(blocked, part, whole)``. Rounding down means a partial
    release never takes more than its exact share, so the margin left behind always covers
    the units still open and the sum of releases can never exceed what was blocked; the
    last release (``part == whole``) returns the remainder exactly, so the sum of all
    releases equals the block to the paisa.
    """
    if whole <= 0 or not 0 <= part <= whole:
        raise ValueError("need 0 <= part <= whole and whole > 0")
    if amount_paise < 0:
        raise ValueError("amount must not be negative")
    return amount_paise * part // whole
