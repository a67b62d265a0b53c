"""The implied-volatility surface of each option underlying (``[market.options.surface]``).

Per underlying, an at-the-money level ``a`` walks as a log Ornstein–Uhlenbeck process in the
same trading time as the prices: ``d ln a = κ (ln ā − ln a) dt + η dB``, with ``ā`` the
configured level, ``κ = ln 2 / half-life`` and ``B`` correlated with the underlying's own shocks
(``spot_correlation``, negative: IV rises as the index falls). An option's volatility is then

    ATM_T = a × (max(T, floor) / 30 days) ^ term_slope
    z     = ln(K / F) / (ATM_T × √T), clipped to ±moneyness_limit
    IV    = ATM_T × (1 + skew × z + curvature × z²), clipped to [min, max]

so the smile is read in standard deviations of moneyness and keeps its shape across expiries.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.config import SurfaceConfig
from engine.domain.instruments import UnderlyingKind

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]

TERM_REFERENCE_YEARS = 30 / 365
DAY_YEARS = 1 / 365


class VolatilitySurface:
    """The ATM levels (state) and the smile and term structure (a pure function of them)."""

    def __init__(
        self,
        config: SurfaceConfig,
        underlyings: tuple[str, ...],
        kinds: tuple[UnderlyingKind, ...],
        trading_year_ms: float,
        session_ms: float,
    ) -> None:
        self.config = config
        self.underlyings = underlyings
        base = [
            config.underlyings.get(name, config.atm.get(kind.value or "STOCK", config.atm["STOCK"]))
            for name, kind in zip(underlyings, kinds, strict=True)
        ]
        self.mean_log_atm = np.log(np.array(base, dtype=np.float64))
        self.log_atm = self.mean_log_atm.copy()
        half_life_ms = config.mean_reversion_half_life_sessions * session_ms
        self._kappa_per_ms = math.log(2) / half_life_ms
        self._eta_per_sqrt_ms = config.vol_of_vol / math.sqrt(trading_year_ms)

    def carry_over(self, previous: VolatilitySurface) -> None:
        """Take the ATM levels of the underlyings ``previous`` also had (a surface laid out
        again as contracts list and expire)."""
        position = {name: p for p, name in enumerate(previous.underlyings)}
        for p, name in enumerate(self.underlyings):
            if name in position:
                self.log_atm[p] = previous.log_atm[position[name]]

    @property
    def atm(self) -> Float64Array:
        """Each underlying's ATM level now (annualised, a fraction)."""
        level: Float64Array = np.exp(self.log_atm)
        return level

    def advance(self, elapsed_ms: float, spot_shocks: Float64Array, own: Float64Array) -> None:
        """Move every ATM level over ``elapsed_ms``: ``spot_shocks`` are the underlyings'
        standardised shocks over the same time, ``own`` independent standard normals."""
        if elapsed_ms <= 0:
            return
        rho = self.config.spot_correlation
        shocks = rho * spot_shocks + math.sqrt(1 - rho * rho) * own
        pull = 1 - math.exp(-self._kappa_per_ms * elapsed_ms)
        self.log_atm += pull * (self.mean_log_atm - self.log_atm)
        self.log_atm += self._eta_per_sqrt_ms * math.sqrt(elapsed_ms) * shocks

    def smile(
        self, surface: Int64Array, forward: Float64Array, strike: Float64Array, years: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        """Each option's implied volatility (annualised) on the surface named by ``surface``,
        and its standardised moneyness ``ln(K/F) / (ATM_T √T)`` unclipped (how far from the
        money it is, in standard deviations)."""
        config = self.config
        term_years = np.maximum(years, config.term_floor_days * DAY_YEARS)
        atm = self.atm[surface] * (term_years / TERM_REFERENCE_YEARS) ** config.term_slope
        with np.errstate(divide="ignore", invalid="ignore"):
            moneyness: Float64Array = np.log(strike / forward) / (atm * np.sqrt(term_years))
        z = np.clip(np.nan_to_num(moneyness), -config.moneyness_limit, config.moneyness_limit)
        smile = 1 + config.skew * z + config.curvature * z * z
        volatility: Float64Array = np.clip(atm * smile, config.minimum, config.maximum)
        return volatility, moneyness
