"""Journal benchmark: group commit through the PersistenceActor against a real PostgreSQL.

Starts an embedded PostgreSQL (pgserver) in a temporary directory, or uses ``DATABASE_URL``,
migrates a template database and gives every run a fresh copy of it. Each run is a child
process (its own heap, threads and GIL) driving one ``PersistenceActor``:

- ``commit``: durability "commit", ``--batch-max`` events per transaction, every account a
  client with one batch in flight (submit, wait for ``on_durable``, submit its next), all
  accounts at once from ``--producers`` threads. Figures: events/s, submit -> on_durable
  latency, and events per transaction (read back from the journal: rows written by one
  transaction share ``xmin``).
- ``async``: the same with durability "async": ``on_durable`` runs inside ``submit``, so the
  ack rate is how fast batches are queued and the flush rate is how fast they are written.
- ``baseline``: group commit off (``batch_max`` = 1: one transaction per engine decision,
  which is one event for all but the two-event position close), the same concurrent clients,
  on the first ``--baseline-accounts`` accounts. Only the grouping differs from ``commit``:
  same actor, SQL, projections, fsync per commit and client pattern, so the ratio measures
  group commit and nothing else.
- ``serial``: one transaction per decision with one client waiting for each ack before its
  next submit (no queue ever forms, no other thread competes for the GIL): the textbook
  "write, commit, reply" loop. The ratio is printed against both baselines.

Every event comes from ``engine.domain.account.decide`` / ``apply`` (an order placed, modified,
filled, given a stop-loss and closed, a resting order cancelled, funds blocked and released),
all generated before timing, so each transaction writes the journal plus orders, positions,
fund blocks, accounts, ledger legs and trading logs. Each account's opening deposit is
written before timing, so the actor's per-account mirrors are warm (a running server's are).

The machine is shared: the modes run ``--repeats`` times, interleaved, and the table shows
each mode's best run (other load only slows a run down); every run's events/s is printed too.

    python -m bench.journal [--events 30] [--accounts 1000] [--batch-max 1000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from engine.actors.gc_tuning import apply_gc_thresholds, freeze_after_start
from engine.actors.sink import EventBatch
from engine.config import DEFAULT_INSTRUMENTS_PATH, Config, account_rules, load_config
from engine.domain import commands as cmd
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide
from engine.domain.account.state import AccountState
from engine.domain.enums import FundKind, OrderType, Product, Side, Validity
from engine.domain.instruments import Instrument
from engine.domain.quote import Quote
from engine.domain.rules import AccountRules, circuit_band
from engine.market.instrument_import import read_instruments_csv
from persistence.embedded import DATABASE_URL_ENV, EmbeddedPostgres, dsn_with_database
from persistence.journal import PersistenceActor
from persistence.migrate import migrate
from persistence.recovery import verify_account

# A Tuesday 10:30 IST, inside the NSE session (the tests' fixed instant).
START_MS = 1_795_496_400_000
FUNDS_PAISE = 1_000_000_000  # ₹1 crore per account
INSTRUMENTS = 20
BLOCK_PAISE = 100_000
# Children read the DSN from the environment: a DATABASE_URL password never shows in argv.
DSN_ENV = "PAPERDESK_BENCH_DSN"
CHILD_TIMEOUT_S = 600
MODES = ("commit", "async", "baseline", "serial")

# -- the workload ----------------------------------------------------------------------------


def _equities() -> list[Instrument]:
    equities = [i for i in read_instruments_csv(DEFAULT_INSTRUMENTS_PATH) if i.is_equity]
    return equities[:INSTRUMENTS]


def _snap(price_paise: int, tick_paise: int) -> int:
    return price_paise - price_paise % tick_paise


def _quote(config: Config, instrument: Instrument, ltp_paise: int, now_ms: int) -> Quote:
    low, high = circuit_band(config.circuits, instrument, instrument.reference_price_paise)
    tick = instrument.tick_paise
    return Quote(ltp_paise, ltp_paise - tick, ltp_paise + tick, low, high, now_ms)


def _limit_buy(
    order_id: str, instrument: Instrument, quantity: int, price_paise: int, quote: Quote
) -> cmd.PlaceOrder:
    return cmd.PlaceOrder(
        now_ms=quote.timestamp_ms,
        order_id=order_id,
        client_order_id=None,
        instrument=instrument,
        side=Side.BUY,
        product=Product.MIS,
        order_type=OrderType.LIMIT,
        validity=Validity.DAY,
        quantity=quantity,
        price_paise=price_paise,
        trigger_paise=0,
        quote=quote,
    )


def _script(
    state: AccountState, config: Config, equities: list[Instrument], offset: int
) -> Iterator[cmd.AccountCommand]:
    """An account's commands; each is decided and applied before the next is made."""
    clock = iter(range(START_MS, 2**62, 1_000))
    yield cmd.CreditFunds(
        now_ms=next(clock), amount_paise=FUNDS_PAISE, kind=FundKind.DEPOSIT, reference="open"
    )
    cycle = 0
    while True:
        instrument = equities[(offset + cycle) % len(equities)]
        tick = instrument.tick_paise
        price = _snap(instrument.reference_price_paise, tick)
        quantity = 1 + cycle % 5
        order_id = f"{state.account_id}-o{cycle}"  # order ids are global, as the gateway's are
        yield _limit_buy(
            order_id,
            instrument,
            quantity,
            price - 2 * tick,
            _quote(config, instrument, price, next(clock)),
        )
        quote = _quote(config, instrument, price, next(clock))
        yield cmd.ModifyOrder(
            now_ms=quote.timestamp_ms,
            order_id=order_id,
            instrument=instrument,
            quote=quote,
            price_paise=price - tick,
        )
        yield cmd.FillOrder(
            now_ms=next(clock),
            order_id=order_id,
            instrument=instrument,
            quantity=quantity,
            price_paise=price - tick,
            order_version=1,  # the modification's
        )
        position_id = state.position_ids["MIS:" + instrument.instrument_id]
        yield cmd.SetRiskLevels(
            now_ms=next(clock),
            position_id=position_id,
            tick_paise=tick,
            stop_loss_paise=_snap(price * 95 // 100, tick),
            target_paise=_snap(price * 105 // 100, tick),
        )
        exit_price = price + (tick if cycle % 2 else -tick)
        yield cmd.ClosePosition(
            now_ms=next(clock),
            position_id=position_id,
            exit_order_id=f"{state.account_id}-x{cycle}",
            instrument=instrument,
            price_paise=exit_price,
        )
        resting = _snap(price * 9 // 10, tick)  # 10 % below: inside the band, never fills
        resting_id = f"{state.account_id}-r{cycle}"
        yield _limit_buy(
            resting_id, instrument, 1, resting, _quote(config, instrument, price, next(clock))
        )
        yield cmd.CancelOrder(now_ms=next(clock), order_id=resting_id)
        yield cmd.BlockFunds(
            now_ms=next(clock), block_id=f"b{cycle}", amount_paise=BLOCK_PAISE, kind=FundKind.ADMIN
        )
        yield cmd.ReleaseFunds(now_ms=next(clock), block_id=f"b{cycle}")
        cycle += 1


def plan_account(
    account_id: str,
    offset: int,
    events: int,
    *,
    config: Config,
    rules: AccountRules,
    equities: list[Instrument],
) -> list[EventBatch]:
    """The opening deposit batch, then batches holding at least ``events`` events."""
    state = AccountState(account_id)
    batches: list[EventBatch] = []
    counted = 0
    for command in _script(state, config, equities, offset):
        decision = decide(state, command, rules)
        if decision.rejection is not None:
            raise RuntimeError(f"{account_id}: {type(command).__name__} {decision.rejection}")
        first_seq = state.seq + 1
        apply_all(state, decision.events)
        batches.append(EventBatch(account_id, first_seq, decision.events))
        if len(batches) > 1:  # the deposit is written before timing, not counted
            counted += len(decision.events)
        if counted >= events:
            return batches
    raise AssertionError("the script is endless")


def plan(accounts: int, events: int) -> list[list[EventBatch]]:
    """Every account's batches, through the real ``decide`` and ``apply``."""
    config = load_config()
    rules = account_rules(config)
    equities = _equities()
    return [
        plan_account(f"bench-{n:05d}", n, events, config=config, rules=rules, equities=equities)
        for n in range(accounts)
    ]


# -- the clients -----------------------------------------------------------------------------


def _offsets(plans: list[list[EventBatch]]) -> list[int]:
    offsets, total = [], 0
    for batches in plans:
        offsets.append(total)
        total += len(batches)
    return offsets


def closed_loop(
    actor: PersistenceActor, plans: list[list[EventBatch]], producers: int
) -> tuple[np.ndarray, int]:
    """Every account keeps one batch in flight; return (latencies in ns, failed batches).

    Producer thread ``t`` owns accounts ``t, t + producers, ..``; ``on_durable`` puts the
    account back on its producer's queue and the producer submits the account's next batch.
    """
    offsets = _offsets(plans)
    total = offsets[-1] + len(plans[-1]) if plans else 0
    sent = np.zeros(total, dtype=np.int64)
    acked = np.zeros(total, dtype=np.int64)
    failures = [0]
    queues: list[queue.SimpleQueue[int]] = [queue.SimpleQueue() for _ in range(producers)]

    def on_durable(ready: queue.SimpleQueue[int], account: int, slot: int, ok: bool) -> None:
        acked[slot] = time.perf_counter_ns()
        if not ok:
            failures[0] += 1
        ready.put(account)

    def produce(t: int) -> None:
        ready = queues[t]
        position = dict.fromkeys(range(t, len(plans), producers), 0)
        for account in position:
            ready.put(account)
        live = len(position)
        submit, clock = actor.submit, time.perf_counter_ns
        while live:
            account = ready.get()
            batches, i = plans[account], position[account]
            if i == len(batches):
                live -= 1
                continue
            position[account] = i + 1
            slot = offsets[account] + i
            sent[slot] = clock()
            submit(batches[i], partial(on_durable, ready, account, slot))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acked - sent, failures[0]


def one_at_a_time(actor: PersistenceActor, plans: list[list[EventBatch]]) -> tuple[np.ndarray, int]:
    """One client, one batch in flight: submit, wait for ``on_durable``, submit the next.

    Accounts take turns (first batch of every account, then the second, ..), as in the
    concurrent runs; returns (latencies in ns, failed batches).
    """
    rounds = max(map(len, plans), default=0)
    order = [p[i] for i in range(rounds) for p in plans if i < len(p)]
    latencies = np.zeros(len(order), dtype=np.int64)
    done = threading.Event()
    outcome = [True]
    failures = 0

    def on_durable(ok: bool) -> None:
        outcome[0] = ok
        done.set()

    for slot, batch in enumerate(order):
        done.clear()
        sent = time.perf_counter_ns()
        actor.submit(batch, on_durable)
        if not done.wait(CHILD_TIMEOUT_S):
            raise RuntimeError("a batch was never acknowledged")
        latencies[slot] = time.perf_counter_ns() - sent
        failures += not outcome[0]
    return latencies, failures


# -- one run (a child process) ---------------------------------------------------------------


async def _check_journal(dsn: str, sample: list[str]) -> tuple[list[int], bool]:
    """Events per transaction in the timed part, and whether ``sample`` accounts verify.

    Rows one transaction inserted share its id in ``xmin``: this counts what really
    committed together, whatever the actor's own counters say (account_seq 1 is the untimed
    deposit). Verifying replays each sampled account's journal against its projections.
    """
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT count(*) AS n FROM events WHERE account_seq > 1 GROUP BY xmin::text"
        )
        verified = [await verify_account(conn, account_id) for account_id in sample]
        return sorted(int(r["n"]) for r in rows), all(verified)
    finally:
        await conn.close()


def _distribution(sizes: list[int]) -> dict[str, float]:
    if not sizes:
        return {"min": 0, "median": 0, "p90": 0, "max": 0}
    values = np.asarray(sizes)
    return {
        "min": int(values.min()),
        "median": float(np.median(values)),
        "p90": float(np.percentile(values, 90)),
        "max": int(values.max()),
    }


def run_child(mode: str, dsn: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm the actor with every opening deposit, then time one mode; return its figures."""
    grouped = mode in ("commit", "async")
    accounts = args.accounts if grouped else min(args.accounts, args.baseline_accounts)
    runtime = load_config().runtime
    apply_gc_thresholds(runtime)  # the server's settings (see engine.actors.gc_tuning)
    began = time.perf_counter()
    plans = plan(accounts, args.events)
    plan_s = time.perf_counter() - began
    journal = replace(
        load_config().journal,
        durability="async" if mode == "async" else "commit",
        batch_max=args.batch_max if grouped else 1,
    )
    actor = PersistenceActor(dsn, journal, name=f"bench-{mode}")
    actor.start()
    try:
        for batches in plans:
            actor.submit(batches[0], lambda ok: None)
        if not actor.flush(timeout_s=CHILD_TIMEOUT_S):
            raise RuntimeError("the opening deposits were not written")
        timed = [batches[1:] for batches in plans]
        freeze_after_start(runtime)
        transactions_before = actor.stats.transactions
        began = time.perf_counter()
        if mode == "serial":
            latencies, failures = one_at_a_time(actor, timed)
        else:
            latencies, failures = closed_loop(actor, timed, args.producers)
        ack_s = time.perf_counter() - began
        if not actor.flush(timeout_s=CHILD_TIMEOUT_S):
            raise RuntimeError("the journal did not catch up")
        durable_s = time.perf_counter() - began
        transactions = actor.stats.transactions - transactions_before
        failures += actor.stats.batches_failed
    finally:
        actor.stop()
    sample = [plans[0][0].account_id, plans[-1][0].account_id]
    groups, verified = asyncio.run(_check_journal(dsn, sample))
    events = sum(len(b.events) for batches in timed for b in batches)
    if failures or sum(groups) != events or len(groups) != transactions or not verified:
        raise RuntimeError(
            f"{mode}: {sum(groups)} of {events} events journaled in {len(groups)} transactions"
            f" ({transactions} counted), {failures} batches failed, projections {verified=}"
        )
    return {
        "mode": mode,
        "accounts": accounts,
        "events": events,
        "batches": sum(map(len, timed)),
        "ack_s": ack_s,
        "durable_s": durable_s,
        "transactions": transactions,
        "groups": _distribution(groups),
        "p50_us": float(np.percentile(latencies, 50)) / 1000,
        "p99_us": float(np.percentile(latencies, 99)) / 1000,
        "plan_s": plan_s,
    }


# -- the parent: server, databases, children, table ------------------------------------------


@contextmanager
def database_server() -> Iterator[str]:
    """The admin DSN: ``DATABASE_URL``, or an embedded server in a temporary directory."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        yield url
        return
    # mkdtemp, as the integration tests do: the server runs as an unprivileged user when we
    # run as root, and it must still reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="paperdesk-bench-pg-"))
    embedded = EmbeddedPostgres(root / "data")
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _admin(dsn: str, *statements: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = []
        for statement in statements:
            rows = list(await conn.fetch(statement))
        return rows
    finally:
        await conn.close()


async def _migrate(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


@contextmanager
def database(admin_dsn: str, template: str | None = None) -> Iterator[tuple[str, str]]:
    """A new database (a copy of ``template`` if given), dropped afterwards: (name, DSN)."""
    name = f"paperdesk_bench_{uuid.uuid4().hex[:12]}"
    source = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"{source}'))
    try:
        yield name, dsn_with_database(admin_dsn, name)
    finally:
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _server_settings(dsn: str) -> str:
    rows = asyncio.run(
        _admin(
            dsn,
            "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings"
            " WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'server_version')",
        )
    )
    return str(rows[0][0])


def _child(mode: str, dsn: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.journal", "--child", mode]
    for flag in ("events", "accounts", "batch_max", "producers", "baseline_accounts"):
        command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    child = subprocess.run(
        command,
        env={**os.environ, DSN_ENV: dsn},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{child.stderr}")
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


def _events_per_s(figures: dict[str, Any]) -> float:
    rate: float = figures["events"] / figures["durable_s"]
    return rate


def run_all(args: argparse.Namespace) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """Start (or reach) the server; run every mode ``--repeats`` times, interleaved, each run
    on a fresh migrated database."""
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with database_server() as admin_dsn, database(admin_dsn) as (template, template_dsn):
        asyncio.run(_migrate(template_dsn))
        settings = _server_settings(template_dsn)
        for _ in range(args.repeats):
            for mode in MODES:
                with database(admin_dsn, template) as (_, dsn):
                    runs[mode].append(_child(mode, dsn, args))
    return settings, runs


def print_table(
    args: argparse.Namespace, settings: str, runs: dict[str, list[dict[str, Any]]]
) -> None:
    """The best run of each mode (other load only ever slows a run down), then every run."""
    print(
        f"journal benchmark: {args.accounts} accounts x >= {args.events} events, batch_max"
        f" {args.batch_max}, {args.producers} producer threads, best of {args.repeats};"
        f" {settings}"
    )
    best = {mode: max(figures, key=_events_per_s) for mode, figures in runs.items()}
    header = ["mode", "accounts", "events", "txns", "events/s", "ack ev/s", "p50 ms", "p99 ms"]
    header += ["grp min", "grp med", "grp p90", "grp max"]
    print(f"{header[0]:<9}" + "".join(f"{h:>10}" for h in header[1:]))
    for mode, r in best.items():
        g = r["groups"]
        cells = [r["accounts"], r["events"], r["transactions"]]
        cells += [round(_events_per_s(r)), round(r["events"] / r["ack_s"])]
        cells += [f"{r['p50_us'] / 1000:.3g}", f"{r['p99_us'] / 1000:.3g}"]
        cells += [g["min"], f"{g['median']:g}", f"{g['p90']:g}", g["max"]]
        print(f"{mode:<9}" + "".join(f"{c:>10}" for c in cells))
    print(
        "events/s: until every event is committed; ack ev/s: until every on_durable has run;"
        " latency: submit -> on_durable;\ngrp: events per committed transaction. baseline:"
        " batch_max 1 (one transaction per decision), same concurrent clients; serial:"
        " batch_max 1, one client waiting for each ack"
    )
    every = ", ".join(
        f"{mode} " + "/".join(str(round(_events_per_s(r))) for r in figures)
        for mode, figures in runs.items()
    )
    print(f"events/s of every run: {every}")
    commit = _events_per_s(best["commit"])
    for mode in ("baseline", "serial"):
        ratio = commit / _events_per_s(best[mode])
        print(f"commit events/s / {mode} events/s: {ratio:.1f}x (target >= 20x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=30, help="timed events per account")
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--batch-max", type=int, default=1_000, help="events per transaction")
    parser.add_argument("--producers", type=int, default=4, help="submitting threads")
    parser.add_argument("--baseline-accounts", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2, help="runs per mode; the best counts")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, os.environ[DSN_ENV], args)))
        return
    settings, results = run_all(args)
    print_table(args, settings, results)


if __name__ == "__main__":
    main()
