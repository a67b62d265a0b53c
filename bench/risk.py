"""SPAN scenario risk: the numba kernel against its plain-Python reference, per portfolio and
over a whole venue.

Three measurements, after warm-up. The portfolio margin as an order's check computes it
(``engine.risk.portfolio_margin.SpanMarginModel.margin``: the legs gathered into rows, exposure
and premium, then ``engine.risk.scenarios.portfolio_spans``, the kernel that revalues them and
takes the scan risk, calendar charge and net option value per group) on a 20-leg NIFTY book,
with the numba kernel and with its plain-Python reference, in µs per portfolio. Then the scenario
kernel alone, ``engine.risk.scenarios.risk_arrays`` followed by ``scan_risk`` (the worst of the
16 weighted losses per portfolio):

- one 20-leg NIFTY book (two futures; calls and puts at strikes ₹24,500..₹28,000 of a weekly,
  a monthly and a quarterly expiry, 7 to 70 days; forwards about ₹26,139, σ 11..15 % along a
  skew): median and p99 µs per call, numba against the plain-Python reference
  (``engine.risk.scenarios_reference``, over lists) in the same run, and their ratio;
- a pass over 10,000 accounts of 5 legs each, drawn from the same underlying's futures and
  options: one call over 50,000 legs in 10,000 groups, ms per pass (median of several), and one
  reference pass for the ratio.

Printed: the figures, the ratios, the largest difference between the two (paise) and whether
the targets are met (under 50 µs per 20-leg portfolio, under 200 ms per pass).

    .venv/bin/python -m bench.risk [--calls 20000] [--reference-calls 300] [--passes 7]
        [--reference-passes 1]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from engine.config import account_rules, load_config
from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import Instrument, Liquidity, UnderlyingKind
from engine.domain.portfolio import LegMarket, MarginLeg, UnderlyingMarket
from engine.risk import scenarios, scenarios_reference
from engine.risk.portfolio_margin import SpanMarginModel
from engine.risk.scenarios import SCENARIO_COUNT

F64 = npt.NDArray[np.float64]
SPOT_PAISE = 2_600_000.0
RATE = 0.065  # annual, continuously compounded
HORIZON_YEARS = 1.0 / 365.0
EXTREME_WEIGHT = 0.35
PRICE_SCAN = 0.093  # 9.3 % of the forward
VOL_SHIFT = 0.04  # four volatility points
LOT = 65  # NIFTY's lot size
EXPIRY_DAYS = (7, 30, 70)  # weekly, monthly, quarterly
STRIKE_STEP_PAISE = 5_000  # ₹50
ACCOUNTS = 10_000
LEGS_PER_ACCOUNT = 5
PORTFOLIO_TARGET_US = 50.0
PASS_TARGET_MS = 200.0


class Book(NamedTuple):
    """Legs in :func:`engine.risk.scenarios.risk_arrays`'s column order."""

    group: npt.NDArray[np.int64]
    quantity: F64
    is_future: npt.NDArray[np.bool_]
    is_call: npt.NDArray[np.bool_]
    strike: F64
    forward: F64
    volatility: F64
    years: F64
    price_scan: F64
    vol_shift: F64


class Leg(NamedTuple):
    """A position: ``kind`` "FUT", "CE" or "PE", strike in rupees (0 for a future), signed lots."""

    kind: str
    days: int
    strike_rupees: int
    lots: int


# A NIFTY book as an options desk might hold it: long the monthly future against a short
# quarterly one, a short weekly iron condor around the money, monthly and quarterly spreads.
NIFTY_BOOK = (
    Leg("FUT", 30, 0, 2),
    Leg("FUT", 70, 0, -1),
    Leg("CE", 7, 26_000, -2),
    Leg("PE", 7, 26_000, -2),
    Leg("CE", 7, 26_500, 2),
    Leg("PE", 7, 25_500, 2),
    Leg("CE", 7, 27_000, -1),
    Leg("PE", 7, 25_000, -1),
    Leg("CE", 30, 25_000, 1),
    Leg("CE", 30, 26_000, -3),
    Leg("CE", 30, 27_000, 2),
    Leg("PE", 30, 25_000, -1),
    Leg("PE", 30, 25_500, 2),
    Leg("PE", 30, 26_500, -1),
    Leg("CE", 70, 26_500, 1),
    Leg("CE", 70, 27_500, -1),
    Leg("CE", 70, 28_000, -1),
    Leg("PE", 70, 24_500, 1),
    Leg("PE", 70, 25_500, -1),
    Leg("PE", 70, 26_000, 2),
)


def forward_paise(days: int) -> float:
    """The underlying's forward for an expiry: spot carried at the rate (₹26,139 at 30 days)."""
    return SPOT_PAISE * math.exp(RATE * days / 365.0)


def skew_volatility(strike: float, forward: float) -> float:
    """13 % at the money, more below it and less above (about ±1.5 points at ±5 %)."""
    return 0.13 - 0.3 * math.log(strike / forward)


def book_of(legs: list[Leg], group: list[int]) -> Book:
    """Columns for ``legs``, leg ``i`` in portfolio ``group[i]``."""
    forwards = [forward_paise(leg.days) for leg in legs]
    strikes = [leg.strike_rupees * 100.0 for leg in legs]
    return Book(
        np.array(group, dtype=np.int64),
        np.array([leg.lots * LOT for leg in legs], dtype=np.float64),
        np.array([leg.kind == "FUT" for leg in legs]),
        np.array([leg.kind == "CE" for leg in legs]),
        np.array(strikes),
        np.array(forwards),
        np.array(
            [
                skew_volatility(k, f) if leg.kind != "FUT" else 0.0
                for leg, k, f in zip(legs, strikes, forwards, strict=True)
            ]
        ),
        np.array([leg.days / 365.0 for leg in legs]),
        np.full(len(legs), PRICE_SCAN),
        np.full(len(legs), VOL_SHIFT),
    )


def venue_book(seed: int) -> Book:
    """10,000 accounts of 5 legs each: futures and options of the three expiries, strikes within
    ±₹2,000 of the money, 1..10 lots long or short."""
    rng = np.random.default_rng(seed)
    legs = []
    for _ in range(ACCOUNTS * LEGS_PER_ACCOUNT):
        kind = str(rng.choice(["FUT", "CE", "PE"], p=[0.2, 0.4, 0.4]))
        days = int(rng.choice(EXPIRY_DAYS))
        strike = 0 if kind == "FUT" else 26_000 + 50 * int(rng.integers(-40, 41))
        lots = int(rng.integers(1, 11)) * int(rng.choice([-1, 1]))
        legs.append(Leg(kind, days, strike, lots))
    return book_of(legs, np.repeat(np.arange(ACCOUNTS), LEGS_PER_ACCOUNT).tolist())


TODAY = date(2026, 12, 4)


def margin_legs(legs: list[Leg]) -> list[MarginLeg]:
    """``legs`` as the portfolio margin takes them, each bought or sold at 100 paise a unit."""
    types = {"FUT": InstrumentType.FUT, "CE": InstrumentType.CE, "PE": InstrumentType.PE}
    built = []
    for n, leg in enumerate(legs):
        contract = Instrument(
            instrument_id=f"NIFTY-{n}",
            token=n,
            exchange=Exchange.NFO,
            segment=Segment.NFO_FUT if leg.kind == "FUT" else Segment.NFO_OPT,
            symbol=f"NIFTY-{n}",
            name="NIFTY",
            instrument_type=types[leg.kind],
            isin="",
            expiry=TODAY + timedelta(days=leg.days),
            strike_paise=leg.strike_rupees * 100,
            tick_paise=5,
            lot_size=LOT,
            reference_price_paise=0,
            liquidity=Liquidity.HIGH,
            underlying="NIFTY",
            underlying_kind=UnderlyingKind.INDEX,
            freeze_quantity=1800,
        )
        forward = forward_paise(leg.days)
        volatility = 0.0 if leg.kind == "FUT" else skew_volatility(leg.strike_rupees * 100, forward)
        market = LegMarket(contract, forward, volatility, leg.days / 365.0)
        units = leg.lots * LOT
        built.append(MarginLeg(market, units, units * 100))
    return built


def numba_risk(book: Book, groups: int) -> Callable[[], F64]:
    """A call of the kernel plus the worst loss per group, on buffers allocated once."""
    loss = np.zeros((groups, SCENARIO_COUNT))
    value = np.zeros(len(book.group))
    delta = np.zeros(len(book.group))

    def run() -> F64:
        scenarios.risk_arrays(*book, HORIZON_YEARS, RATE, EXTREME_WEIGHT, loss, value, delta)
        return scenarios.scan_risk(loss)

    return run


def reference_risk(book: Book, groups: int) -> Callable[[], list[float]]:
    """The same through the plain-Python reference, over lists made once."""
    columns: dict[str, Any] = {
        name: column.tolist() for name, column in zip(Book._fields, book, strict=True)
    }
    loss = [[0.0] * SCENARIO_COUNT for _ in range(groups)]
    value = [0.0] * len(book.group)
    delta = [0.0] * len(book.group)

    def run() -> list[float]:
        scenarios_reference.risk_arrays(
            **columns,
            horizon_years=HORIZON_YEARS,
            rate=RATE,
            extreme_weight=EXTREME_WEIGHT,
            out_loss=loss,
            out_value=value,
            out_delta=delta,
        )
        return [max(row) for row in loss]

    return run


def time_ns(run: Callable[[], object], calls: int) -> F64:
    """Each call's wall time in ns."""
    samples = np.empty(calls, dtype=np.float64)
    for n in range(calls):
        start = time.perf_counter_ns()
        run()
        samples[n] = time.perf_counter_ns() - start
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000, help="numba portfolio calls timed")
    parser.add_argument("--reference-calls", type=int, default=300)
    parser.add_argument("--passes", type=int, default=7, help="numba venue passes timed")
    parser.add_argument("--reference-passes", type=int, default=1)
    args = parser.parse_args()
    scenarios.warm_up()

    model = account_rules(load_config()).portfolio
    assert isinstance(model, SpanMarginModel)
    reference_model = SpanMarginModel(model.config, model.rate, scenarios_reference.portfolio_spans)
    legs = margin_legs(list(NIFTY_BOOK))
    market = UnderlyingMarket(
        "NIFTY", UnderlyingKind.INDEX, round(forward_paise(30)), 0.13, tuple(x.market for x in legs)
    )
    margin = model.margin(legs, market, TODAY)
    same = margin == reference_model.margin(legs, market, TODAY)
    margin_ns = time_ns(lambda: model.margin(legs, market, TODAY), args.calls)
    reference_margin_ns = time_ns(
        lambda: reference_model.margin(legs, market, TODAY), args.reference_calls
    )
    margin_us = float(np.median(margin_ns)) / 1e3
    reference_margin_us = float(np.median(reference_margin_ns)) / 1e3
    print(
        f"portfolio margin of the {len(legs)}-leg NIFTY book: total"
        f" ₹{margin.total_paise / 100:,.2f}, blocked ₹{margin.blocked_paise / 100:,.2f};"
        f" numba and reference figures equal to the paisa: {same}"
    )
    print(
        f"  with the numba kernel:  median {margin_us:8.1f} µs/portfolio, p99"
        f" {np.percentile(margin_ns, 99) / 1e3:8.1f} µs ({args.calls} calls)"
    )
    print(
        f"  with the reference:     median {reference_margin_us:8.1f} µs/portfolio"
        f" ({args.reference_calls} calls); reference / numba"
        f" {reference_margin_us / margin_us:.0f}×"
    )

    book = book_of(list(NIFTY_BOOK), [0] * len(NIFTY_BOOK))
    numba_one, reference_one = numba_risk(book, 1), reference_risk(book, 1)
    one_gap = abs(float(numba_one()[0]) - reference_one()[0])
    numba_ns = time_ns(numba_one, args.calls)
    reference_ns = time_ns(reference_one, args.reference_calls)
    numba_us = float(np.median(numba_ns)) / 1e3
    reference_us = float(np.median(reference_ns)) / 1e3
    print(
        f"one NIFTY book, {len(NIFTY_BOOK)} legs ({sum(leg.kind == 'FUT' for leg in NIFTY_BOOK)}"
        f" futures, options of {len(EXPIRY_DAYS)} expiries), × {SCENARIO_COUNT} scenarios;"
        f" scan risk ₹{float(numba_one()[0]) / 100:,.0f}"
    )
    print(
        f"  numba kernel + max:     median {numba_us:8.1f} µs/portfolio, p99"
        f" {np.percentile(numba_ns, 99) / 1e3:8.1f} µs ({args.calls} calls)"
    )
    print(
        f"  Python reference + max: median {reference_us:8.1f} µs/portfolio, p99"
        f" {np.percentile(reference_ns, 99) / 1e3:8.1f} µs ({args.reference_calls} calls)"
    )
    print(
        f"  reference / numba: {reference_us / numba_us:.0f}×; |scan risk gap| {one_gap:.1e} paise"
    )

    venue = venue_book(seed=20261204)
    numba_venue = numba_risk(venue, ACCOUNTS)
    numba_venue()
    pass_ns = time_ns(numba_venue, args.passes)
    pass_ms = float(np.median(pass_ns)) / 1e6
    print(
        f"venue pass: {ACCOUNTS:,} accounts × {LEGS_PER_ACCOUNT} legs = {len(venue.group):,}"
        f" legs in one call, + the max per account"
    )
    print(
        f"  numba kernel + max:     median {pass_ms:8.1f} ms/pass, min"
        f" {np.min(pass_ns) / 1e6:8.1f} ms ({args.passes} passes)"
    )
    if args.reference_passes > 0:
        reference_venue = reference_risk(venue, ACCOUNTS)
        reference_pass_ns = time_ns(reference_venue, args.reference_passes)
        reference_pass_ms = float(np.median(reference_pass_ns)) / 1e6
        venue_gap = float(np.max(np.abs(numba_venue() - np.array(reference_venue()))))
        print(
            f"  Python reference + max: median {reference_pass_ms:8.0f} ms/pass"
            f" ({args.reference_passes} passes); reference / numba"
            f" {reference_pass_ms / pass_ms:.0f}×; max |scan risk gap| {venue_gap:.1e} paise"
        )

    met = "met" if margin_us < PORTFOLIO_TARGET_US else "MISSED"
    print(f"target < {PORTFOLIO_TARGET_US:.0f} µs per 20-leg portfolio margin: {met}")
    met = "met" if numba_us < PORTFOLIO_TARGET_US else "MISSED"
    print(f"target numba kernel < {PORTFOLIO_TARGET_US:.0f} µs per 20-leg portfolio: {met}")
    met = "met" if pass_ms < PASS_TARGET_MS else "MISSED"
    print(f"target numba < {PASS_TARGET_MS:.0f} ms per 10,000-account pass: {met}")


if __name__ == "__main__":
    main()
