"""Equity margin blocked when an order is accepted (docs/DOMAIN.md §2), in integer paise, and
the pro-rata release of a block. Futures and options are margined by portfolio, per underlying
(``engine.domain.portfolio``).

Every percentage is applied with :meth:`~engine.domain.money.Rate.of`, half-up to the paisa.
"""

from __future__ import annotations

from engine.domain.enums import Product, Side
from engine.domain.instruments import Instrument
from engine.domain.money import Rate, div_half_up
from engine.domain.parameters import MarginConfig


def var_elm(cfg: MarginConfig, instrument: Instrument) -> Rate:
    """A stock's VaR+ELM: its own where configured (by symbol), else the default."""
    return cfg.equity_var_elm_by_symbol.get(instrument.symbol, cfg.equity_var_elm)


# The six positionals are the agreed call shape (instrument, product, side, quantity, price).
def equity_margin(  # noqa: PLR0917
    cfg: MarginConfig,
    instrument: Instrument,
    product: Product,
    side: Side,
    quantity: int,
    price_paise: int,
) -> int:
    """Return the margin in paise to block for an equity order of ``quantity`` at
    ``price_paise`` (its valuation price: a MARKET order's protected ask or bid).

    CNC: a buy blocks its value, a sell nothing (the free-holdings check is the account's).
    MIS: max(the stock's VaR+ELM, SEBI's floor) of the value. Futures and options are margined
    by portfolio (``engine.domain.portfolio``); a derivative or NRML raises ``ValueError``.
    """
    if quantity <= 0 or price_paise < 0:
        raise ValueError("quantity must be positive and price not negative")
    return equity_margin_of_value(cfg, instrument, product, side, quantity * price_paise)


def equity_margin_of_value(
    cfg: MarginConfig, instrument: Instrument, product: Product, side: Side, value_paise: int
) -> int:
    """:func:`equity_margin` for a value (a position's cost share moved to another product)."""
    if not instrument.is_equity:
        raise ValueError(f"{instrument.instrument_id} is margined by portfolio")
    if product is Product.CNC:
        return value_paise if side is Side.BUY else 0
    if product is Product.MIS:
        rate = max(var_elm(cfg, instrument), cfg.mis_equity_min, key=lambda r: r.parts)
        return rate.of(value_paise)
    raise ValueError(f"{product} is not an equity product")


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
