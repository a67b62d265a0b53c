"""How listed derivatives are named and numbered, the way Zerodha's Kite instrument master does
(docs/DOMAIN.md §6), so a Kite-compatible facade can serve them unchanged.

* **Trading symbols**: a monthly contract is the underlying, the year's last two digits and the
  month's three letters (``NIFTY26DECFUT``, ``NIFTY26DEC26000CE``); a weekly option replaces the
  month by a one-character month code (1–9, then O, N, D) and the day (``NIFTY26D0826000CE``).
  A strike is written without a fractional part when it has none (``RELIANCE26DEC1542.5CE``).
* **Tokens**: a contract's exchange token is a stable hash of its ticker, above the range the
  sample master uses, probed upwards past any token its exchange already uses; Kite's
  instrument token is that exchange token shifted left 8 bits with the segment's code in the low
  byte.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from hashlib import blake2b

from engine.domain.enums import Exchange, InstrumentType

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"

# Kite's segment code of each exchange (the low byte of an instrument token).
SEGMENT_CODES = {
    Exchange.NSE: 1,
    Exchange.NFO: 2,
    Exchange.CDS: 3,
    Exchange.BSE: 4,
    Exchange.BFO: 5,
    Exchange.MCX: 7,
}
INDICES_SEGMENT_CODE = 9

# Generated exchange tokens start here (the sample master's are below it) and stay below 2^24,
# so an instrument token fits 32 bits.
FIRST_GENERATED_TOKEN = 35_000
GENERATED_TOKEN_SPAN = (1 << 24) - FIRST_GENERATED_TOKEN


def strike_text(strike_paise: int) -> str:
    """A strike as a symbol writes it: rupees, with decimals only where it has them."""
    rupees, paise = divmod(strike_paise, 100)
    if not paise:
        return str(rupees)
    return f"{rupees}.{paise:02d}".rstrip("0")


def contract_symbol(
    underlying: str,
    expiry: date,
    instrument_type: InstrumentType,
    strike_paise: int = 0,
    *,
    monthly: bool = True,
) -> str:
    """The trading symbol of a future or option expiring on ``expiry`` (``monthly``: its
    series is the month's, named by the month; otherwise a weekly, named by the date)."""
    year = f"{expiry.year % 100:02d}"
    if monthly:
        series = f"{year}{MONTHS[expiry.month - 1]}"
    else:
        series = f"{year}{WEEKLY_MONTH_CODES[expiry.month - 1]}{expiry.day:02d}"
    if instrument_type is InstrumentType.FUT:
        return f"{underlying}{series}FUT"
    return f"{underlying}{series}{strike_text(strike_paise)}{instrument_type.value}"


def exchange_token(ticker: str, taken: Container[int]) -> int:
    """A stable exchange token for ``ticker`` (``NFO:NIFTY26DECFUT``) that is not in ``taken``."""
    digest = int.from_bytes(blake2b(ticker.encode(), digest_size=8).digest(), "big")
    offset = digest % GENERATED_TOKEN_SPAN
    for probe in range(GENERATED_TOKEN_SPAN):
        token = FIRST_GENERATED_TOKEN + (offset + probe) % GENERATED_TOKEN_SPAN
        if token not in taken:
            return token
    raise ValueError("no exchange token left")


def instrument_token(token: int, exchange: Exchange, *, index: bool = False) -> int:
    """Kite's instrument token: the exchange token shifted left 8 bits, the segment's code in
    the low byte (9 for an index)."""
    return token << 8 | (INDICES_SEGMENT_CODE if index else SEGMENT_CODES[exchange])
