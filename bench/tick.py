"""One simulated market tick over the default master: the sample only, against the generated
F&O universe listed on top of it (``[market.universe]``), measured in the same run.

A tick (``TradingEngine.tick``, the market actor's whole turn with no orders resting) draws the
driven prices, carries the futures, prices every live option by Black-76 with its greeks, quotes
everything and publishes the snapshot. Timed per tick after warm-up on a fake clock that steps
250 ms (the default tick interval), median and p99; the ratio generated / sample is printed.

    .venv/bin/python -m bench.tick [--ticks 2000]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import numpy as np

from engine.actors.clock import FakeClock
from engine.actors.trading_engine import TradingEngine
from engine.config import DEFAULT_INSTRUMENTS_PATH, load_config
from engine.domain.instruments import InstrumentMaster
from engine.market.instrument_import import read_instruments_csv

IST = timezone(timedelta(hours=5, minutes=30))
START_MS = int(datetime(2026, 12, 4, 10, 0, tzinfo=IST).timestamp() * 1000)
TICK_MS = 250


def time_ticks(generate: bool, ticks: int) -> tuple[int, int, np.ndarray]:
    """Instruments in the master, live options priced, and each tick's time in ns."""
    config = load_config(market={"universe": {"generate": generate}})
    master = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
    clock = FakeClock(START_MS)
    engine = TradingEngine(config, master, clock=clock, runtime="serial")
    engine.start(ticking=False)
    try:
        for _ in range(50):  # warm-up
            clock.advance(TICK_MS)
            engine.tick()
        times = np.empty(ticks, dtype=np.int64)
        for n in range(ticks):
            clock.advance(TICK_MS)
            began = time.perf_counter_ns()
            engine.tick()
            times[n] = time.perf_counter_ns() - began
        options = engine.market.snapshot.options
        priced = 0 if options is None else int(np.count_nonzero(~np.isnan(options.iv)))
        return len(engine.master), priced, times
    finally:
        engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--ticks", type=int, default=2000)
    args = parser.parse_args()
    runs = {}
    for generate in (False, True):
        size, priced, times = time_ticks(generate, args.ticks)
        median_us = float(np.median(times)) / 1000
        p99_us = float(np.percentile(times, 99)) / 1000
        runs[generate] = median_us
        label = "generated universe" if generate else "sample master     "
        print(
            f"{label}: {size:5d} instruments, {priced:5d} options priced;"
            f" median {median_us:7.0f} µs/tick, p99 {p99_us:7.0f} µs ({args.ticks} ticks)"
        )
    print(f"generated / sample: {runs[True] / runs[False]:.1f}× per tick")


if __name__ == "__main__":
    main()
