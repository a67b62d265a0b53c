"""Integer money: paise for amounts and prices, rates as exact fractions.

Every amount inside the engine is an ``int`` of paise. Rates (brokerage, STT, margin
percentages) are parsed once from configuration into :class:`Rate`, an exact fraction
with a fixed denominator, so applying a rate is integer arithmetic with half-up rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PAISE_PER_RUPEE = 100

# Rates are stored in parts per 10^9: every rate in docs/DOMAIN.md (0.00307 %, 0.0001 %, 18 %)
# is an exact multiple of that unit.
RATE_SCALE = 1_000_000_000


def div_half_up(numerator: int, denominator: int) -> int:
    """Divide two integers rounding half away from zero (2.5 -> 3, -2.5 -> -3)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def round_to_rupee(paise: int) -> int:
    """Round an amount of paise half-up to whole rupees, still in paise."""
    return div_half_up(paise, PAISE_PER_RUPEE) * PAISE_PER_RUPEE


@dataclass(frozen=True, slots=True)
class Rate:
    """An exact fractional rate, ``parts`` per :data:`RATE_SCALE`."""

    parts: int

    @classmethod
    def percent(cls, text: str | int | float) -> Rate:
        """Parse a percentage such as ``"0.00307"`` (meaning 0.00307 %)."""
        parts = Decimal(str(text)) * RATE_SCALE / 100
        if parts != parts.to_integral_value():
            raise ValueError(f"rate {text}% is finer than 1e-9")
        return cls(int(parts))

    def of(self, amount_paise: int) -> int:
        """Apply the rate to an amount, rounded half-up to the paisa."""
        return div_half_up(amount_paise * self.parts, RATE_SCALE)


def rupees_to_paise(value: str | int | float | Decimal) -> int:
    """Convert rupees (as given in JSON or CSV) to paise; reject sub-paisa amounts."""
    paise = Decimal(str(value)) * PAISE_PER_RUPEE
    if paise != paise.to_integral_value():
        raise ValueError(f"{value} has more than two decimals")
    return int(paise)


def paise_to_rupees(paise: int) -> float:
    """Render paise as rupees for JSON (the only place floats appear)."""
    return paise / PAISE_PER_RUPEE
