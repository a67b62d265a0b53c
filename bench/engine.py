"""In-process engine benchmark: a mixed workload over 10,000 accounts on both actor runtimes.

Each runtime runs in its own child process (so RSS and thread counts are its own) with the
market ticking every 250 ms. The client keeps a window of requests in flight: LIMIT orders that
rest, cancels of those, MARKET orders that the market actor fills, and funds queries. Printed:
ops/s, p50/p99 latency, RSS, threads, fills, and the pooled/threaded ratio from the same run;
then the walk of MARKET orders through the displayed book (1, 10 and 100 times the touch), and
the batch mark-to-market of 100,000 positions.

A third child, ``sequential``, runs the same plan by calling the account behaviours directly
on one thread: no actors, no messages, no ticks and no fills (MARKET orders wait out a delay
longer than the run), so it does less work than the actor runs and its rate is a ceiling for
them: what the domain code itself costs per request on this machine.

    python -m bench.engine [--accounts 10000] [--ops 200000] [--window 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

from engine.actors.account_actor import AccountBehaviour, Inspect, Outcome, Submit
from engine.actors.gc_tuning import apply_gc_thresholds, freeze_after_start
from engine.actors.trading_engine import TradingEngine
from engine.config import DEFAULT_INSTRUMENTS_PATH, load_config
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.enums import FundKind, OrderType, Product, Side, Validity
from engine.domain.events import OrderFilled
from engine.domain.instruments import InstrumentMaster
from engine.market import kernels
from engine.market.depth import ASKS, MarketDepth
from engine.market.instrument_import import read_instruments_csv
from engine.market.risk import RiskBook

INSTRUMENTS = 50
RUNTIMES = ("threaded", "pooled", "sequential")
FUNDS_PAISE = 1_000_000_000  # ₹1 crore per account


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _master() -> InstrumentMaster:
    equities = [i for i in read_instruments_csv(DEFAULT_INSTRUMENTS_PATH) if i.is_equity]
    return InstrumentMaster(equities[:INSTRUMENTS])


def run_workload(runtime: str, accounts: int, ops: int, window: int) -> dict[str, Any]:
    """Run the mixed workload on one runtime and return its figures."""
    config = load_config(
        execution={"market_fill_delay_ms": 0},
        accounts={"runtime": runtime},
        limits={"open_orders_max": 10_000},
    )
    apply_gc_thresholds(config.runtime)  # the server's settings (see engine.actors.gc_tuning)
    master = _master()
    instruments = list(master)
    fills = [0]
    lock = threading.Lock()

    def count_fills(_: str, events: tuple[Any, ...], __: AccountState) -> None:
        for event in events:
            if type(event) is OrderFilled:
                with lock:
                    fills[0] += 1

    ids = [f"acct-{n}" for n in range(accounts)]
    plan = _plan(ids, instruments, ops)
    engine = TradingEngine(config, master, runtime=runtime, publish=count_fills)
    started = time.perf_counter()
    engine.start(ticking=True)
    for account_id in ids:
        engine.add_account(AccountState(account_id))
    latencies = np.zeros(ops, dtype=np.int64)
    rejections: dict[str, int] = {}
    # Flow control in waves of ``window`` requests, two waves in flight: one Event per wave
    # instead of a semaphore per request.
    waves = (ops + window - 1) // window
    outstanding = [min(window, ops - w * window) for w in range(waves)]
    wave_done = [threading.Event() for _ in range(waves)]

    def make_reply(slot: int, sent_ns: int) -> Any:
        wave = slot // window

        def reply(outcome: Any) -> None:
            latencies[slot] = time.perf_counter_ns() - sent_ns
            with lock:
                if type(outcome) is Outcome and outcome.rejection is not None:
                    name = outcome.rejection.value
                    rejections[name] = rejections.get(name, 0) + 1
                outstanding[wave] -= 1
                if outstanding[wave] == 0:
                    wave_done[wave].set()

        return reply

    assert engine.registry is not None
    credit_done = threading.Semaphore(0)
    for account_id in ids:
        credit = cmd.CreditFundsRequest(FUNDS_PAISE, FundKind.DEPOSIT, reference="b")
        engine.submit(account_id, credit, lambda _: credit_done.release())
    for _ in ids:
        credit_done.acquire()
    freeze_after_start(config.runtime)
    startup_s = time.perf_counter() - started

    markets = sum(
        1
        for _, message in plan
        if isinstance(message, cmd.PlaceOrderRequest) and message.order_type is OrderType.MARKET
    )
    begin = time.perf_counter()
    submit = engine.submit
    inspect = engine.inspect
    for slot, (account_id, message) in enumerate(plan):
        if slot % window == 0 and slot >= 2 * window:
            _wait(wave_done[slot // window - 2])
        reply = make_reply(slot, time.perf_counter_ns())
        if message is None:
            inspect(account_id, _funds, reply)
        else:
            submit(account_id, message, reply)
    for event in wave_done:
        _wait(event)
    deadline = time.monotonic() + 60
    while fills[0] < markets and time.monotonic() < deadline:
        time.sleep(0.001)  # MARKET orders fill asynchronously through the market actor
    elapsed = time.perf_counter() - begin
    figures = {
        "runtime": runtime,
        "accounts": accounts,
        "ops": ops,
        "ops_per_s": ops / elapsed,
        "p50_us": float(np.percentile(latencies, 50)) / 1000,
        "p99_us": float(np.percentile(latencies, 99)) / 1000,
        "fills": fills[0],
        "rejections": rejections,
        "rss_mib": _rss_mib(),
        "threads": threading.active_count(),
        "actors_alive": engine.registry.actors_alive,
        "startup_s": startup_s,
    }
    engine.stop()
    return figures


def run_sequential(accounts: int, ops: int) -> dict[str, Any]:
    """Run the plan on account behaviours called one after another (see the module doc)."""
    config = load_config(
        execution={"market_fill_delay_ms": 3_600_000},
        limits={"open_orders_max": 10_000},
    )
    apply_gc_thresholds(config.runtime)
    master = _master()
    ids = [f"acct-{n}" for n in range(accounts)]
    plan = _plan(ids, list(master), ops)
    engine = TradingEngine(config, master)
    engine.start(ticking=False)
    assert engine.registry is not None and engine.registry.context is not None
    context = engine.registry.context
    behaviours = {
        account_id: AccountBehaviour(AccountState(account_id), context) for account_id in ids
    }
    for behaviour in behaviours.values():
        credit = cmd.CreditFundsRequest(FUNDS_PAISE, FundKind.DEPOSIT, reference="b")
        behaviour.on_receive(Submit(credit, _ignore))
    freeze_after_start(config.runtime)
    begin = time.perf_counter()
    for account_id, message in plan:
        behaviour = behaviours[account_id]
        if message is None:
            behaviour.on_receive(Inspect(_funds, _ignore))
        else:
            behaviour.on_receive(Submit(message, _ignore))
    elapsed = time.perf_counter() - begin
    figures = {
        "runtime": "sequential",
        "accounts": accounts,
        "ops": ops,
        "ops_per_s": ops / elapsed,
        "p50_us": elapsed / ops * 1e6,  # one at a time: every request takes the mean
        "p99_us": elapsed / ops * 1e6,
        "fills": 0,
        "rss_mib": _rss_mib(),
        "threads": threading.active_count(),
        "startup_s": 0.0,
    }
    engine.stop()
    return figures


def _ignore(_: Any) -> None:
    return None


def _plan(
    ids: list[str], instruments: list[Any], ops: int
) -> list[tuple[str, cmd.AccountRequest | None]]:
    """The workload, built before timing: per account, rounds of place / cancel / market / query.

    Round r of the ten-round cycle: 0, 2, 4, 6 place a resting LIMIT; 1, 3 cancel one; 5 places
    a MARKET order (filled by the market actor); 7, 8, 9 query funds (``None``).
    """
    accounts = len(ids)
    resting: list[list[str]] = [[] for _ in ids]
    plan: list[tuple[str, cmd.AccountRequest | None]] = []
    for slot in range(ops):
        a = slot % accounts
        account_id = ids[a]
        round_ = slot // accounts
        instrument = instruments[round_ % INSTRUMENTS]
        phase = round_ % 10
        if phase in (0, 2, 4, 6) or (phase in (1, 3) and not resting[a]):
            order_id = f"{account_id}-{slot}"
            resting[a].append(order_id)
            # 10 % below the reference: inside the circuit band, rests without filling.
            price = instrument.reference_price_paise * 9 // 10
            price -= price % instrument.tick_paise
            plan.append((account_id, _buy(order_id, instrument, OrderType.LIMIT, price)))
        elif phase in (1, 3):
            plan.append((account_id, cmd.CancelOrderRequest(resting[a].pop())))
        elif phase == 5:
            plan.append((account_id, _buy(f"{account_id}-{slot}", instrument, OrderType.MARKET, 0)))
        else:
            plan.append((account_id, None))
    return plan


def _wait(event: threading.Event) -> None:
    if not event.wait(600):
        raise RuntimeError("workload did not finish")


def _funds(state: AccountState) -> tuple[int, int, int]:
    return state.balance_paise, state.available_paise, state.blocked_paise


def _buy(
    order_id: str, instrument: Any, order_type: OrderType, price: int
) -> cmd.PlaceOrderRequest:
    return cmd.PlaceOrderRequest(
        order_id=order_id,
        client_order_id=None,
        instrument=instrument,
        side=Side.BUY,
        product=Product.MIS,
        order_type=order_type,
        validity=Validity.DAY,
        quantity=1,
        price_paise=price,
        trigger_paise=0,
    )


def mark_to_market_figures(positions: int = 100_000, repeats: int = 200) -> dict[str, Any]:
    """Time one batch re-mark of ``positions`` open positions over 50 instruments."""
    kernels.warm_up()
    rng = np.random.default_rng(7)
    book = RiskBook(capacity=positions)
    for n in range(positions):
        quantity = int(rng.integers(1, 500)) * (1 if n % 3 else -1)
        book.upsert(f"a{n % 10_000}", f"p{n}", n % INSTRUMENTS, quantity, quantity * 100_000)
    ltp = rng.integers(90_000, 110_000, size=INSTRUMENTS).astype(np.int64)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        book.mark(ltp, 0)
        samples.append(time.perf_counter_ns() - start)
    kernel_out = np.zeros(positions, dtype=np.int64)
    kernel_samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        kernels.mark_to_market(
            book.quantity, book.signed_cost, book.instrument_index, ltp, kernel_out
        )
        kernel_samples.append(time.perf_counter_ns() - start)
    return {
        "positions": positions,
        "kernel_median_us": float(np.median(kernel_samples)) / 1000,
        "with_per_account_totals_median_us": float(np.median(samples)) / 1000,
    }


def walking_figures(rounds: int = 200) -> list[dict[str, Any]]:
    """Time MARKET buys walking the displayed book (``MarketDepth.take``, what the market actor
    runs for each order it executes), sized at 1, 10 and 100 times the instrument's touch: one
    level, then every level the book shows within market protection (the rest would rest).
    Each round takes from a fresh book on each of the 50 instruments: the timed walk draws the
    instrument's levels too, as the first order on an instrument in a tick does (later orders
    in the same tick reuse the draw)."""
    config = load_config()
    engine = TradingEngine(config, _master(), runtime="pooled")
    engine.start(ticking=False)
    engine.tick()
    engine.sync_market()
    market = engine.market
    protection = config.execution.market_protection
    shares = [index for index in range(len(market.master)) if market.master.at(index).is_equity]
    probe = MarketDepth(market, config.market.depth, config.market.seed)
    touches = {index: probe.side(index, ASKS)[0] for index in shares}
    figures = []
    for levels in (1, 10, 100):
        samples: list[int] = []
        trades = 0
        for _ in range(rounds):
            depth = MarketDepth(market, config.market.depth, config.market.seed)
            for index in shares:
                touch = touches[index]
                limit = touch.price_paise + protection.of(touch.price_paise)
                start = time.perf_counter_ns()
                taken = depth.take(index, 1, levels * touch.quantity, limit)
                samples.append(time.perf_counter_ns() - start)
                trades += len(taken)
        figures.append(
            {
                "levels": levels,
                "orders": len(samples),
                "trades_per_order": trades / len(samples),
                "median_us": float(np.median(samples)) / 1000,
                "p99_us": float(np.percentile(samples, 99)) / 1000,
            }
        )
    engine.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--threaded-ops", type=int, default=60_000)
    parser.add_argument("--window", type=int, default=2_000)
    parser.add_argument("--child", choices=RUNTIMES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "sequential":
        print(json.dumps(run_sequential(args.accounts, args.ops)))
        return
    if args.child:
        ops = args.ops if args.child == "pooled" else args.threaded_ops
        print(json.dumps(run_workload(args.child, args.accounts, ops, args.window)))
        return
    results = {}
    for runtime in RUNTIMES:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.engine",
                "--child",
                runtime,
                "--accounts",
                str(args.accounts),
                "--ops",
                str(args.ops),
                "--threaded-ops",
                str(args.threaded_ops),
                "--window",
                str(args.window),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[runtime] = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"engine benchmark: {args.accounts} accounts, {INSTRUMENTS} instruments, ticks every 250 ms"
    )
    header = (
        "runtime",
        "ops",
        "ops/s",
        "p50 µs",
        "p99 µs",
        "fills",
        "RSS MiB",
        "threads",
        "start s",
    )
    print(f"{header[0]:<10}" + "".join(f"{h:>10}" for h in header[1:]))
    for runtime, r in results.items():
        cells = [r["ops"], round(r["ops_per_s"]), round(r["p50_us"]), round(r["p99_us"])]
        cells += [r["fills"], round(r["rss_mib"]), r["threads"], f"{r['startup_s']:.1f}"]
        print(f"{runtime:<10}" + "".join(f"{c:>10}" for c in cells))
    ratio = results["pooled"]["ops_per_s"] / results["threaded"]["ops_per_s"]
    print(f"pooled / threaded throughput ratio: {ratio:.1f}x")
    ceiling = results["pooled"]["ops_per_s"] / results["sequential"]["ops_per_s"]
    print(f"pooled / sequential (domain code alone, no actors): {ceiling:.2f}")
    for walk in walking_figures():
        print(
            f"MARKET buy of {walk['levels']:>3}x the touch: {walk['trades_per_order']:.1f} trades,"
            f" {walk['median_us']:.1f} µs median, {walk['p99_us']:.1f} µs p99 to walk the book"
            f" ({walk['orders']} orders)"
        )
    mtm = mark_to_market_figures()
    print(
        f"batch mark-to-market of {mtm['positions']} positions: kernel"
        f" {mtm['kernel_median_us']:.0f} µs median; with per-account totals"
        f" {mtm['with_per_account_totals_median_us']:.0f} µs"
    )


if __name__ == "__main__":
    main()
