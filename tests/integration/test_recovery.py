"""Recovery: the journal written by a running engine rebuilds every account exactly.

Drives a real ``TradingEngine`` (pooled actors, market actor, scripted prices, the real
instrument master) with the persistence actor as its sink through a seeded random session of
deposits, LIMIT/MARKET/SL-M orders, modifications, cancels, fills on ticks, stop-losses,
closes and fund blocks over several accounts. Then, for every account, the state replayed
from the journal, the state rebuilt from the projections and the engine's in-memory state
have the same ``state_fingerprint``; ``replay_all`` agrees; the ledger legs sum to zero and
the funds identity holds in SQL.
"""

from __future__ import annotations

import random

import asyncpg
import pytest

from engine.domain import commands as cmd
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.enums import FundKind, OrderType, Product, Side, Validity
from engine.domain.instruments import InstrumentMaster
from persistence.journal import PersistenceActor
from persistence.recovery import rebuild_from_projections, replay_all, verify_account
from tests.integration.conftest import fetch, run
from tests.support.engine_driver import EngineDriver
from tests.support.sql_checks import assert_ledger_and_funds

pytestmark = pytest.mark.timeout(90)

ACCOUNTS = 4
STEPS = 240
TICKERS = ("NSE:RELIANCE", "NSE:INFY", "NFO:NIFTY26DECFUT")


def _round(price: int, tick: int) -> int:
    return max(tick, price // tick * tick)


def _random_session(driver: EngineDriver, master: InstrumentMaster, rng: random.Random) -> None:
    instruments = [master.get(t) for t in TICKERS]
    assert all(i is not None for i in instruments)
    prices = {}
    for instrument in instruments:
        assert instrument is not None
        prices[instrument.instrument_id] = instrument.reference_price_paise
        driver.set_price(instrument, instrument.reference_price_paise, advance_ms=1_000)
    accounts = [f"acct-{i}" for i in range(ACCOUNTS)]
    for account_id in accounts:
        driver.engine.add_account(AccountState(account_id))
        deposit = cmd.CreditFundsRequest(
            amount_paise=5_000_000_00,
            kind=FundKind.DEPOSIT,
            reference="o",
        )
        assert driver.ask(account_id, deposit).rejection is None
    order_ids = iter(range(10**9))
    for step in range(STEPS):
        account_id = rng.choice(accounts)
        instrument = rng.choice(instruments)
        assert instrument is not None
        tick = instrument.tick_paise
        ltp = prices[instrument.instrument_id]
        roll = rng.random()
        if roll < 0.12:
            move = rng.randint(-8, 8) * max(tick, ltp // 2000 // tick * tick)
            ltp = prices[instrument.instrument_id] = _round(ltp + move, tick)
            driver.set_price(instrument, ltp, advance_ms=1_000)
            continue
        quantity = instrument.lot_size * rng.randint(1, 3)
        side = rng.choice((Side.BUY, Side.SELL))
        product = (
            Product.NRML
            if not instrument.is_equity
            else rng.choice((Product.MIS, Product.MIS, Product.CNC))
        )
        if product is Product.CNC:
            side = Side.BUY
        if roll < 0.5:
            offset = rng.randint(-5, 5) * tick * 5
            order_type = rng.choice((OrderType.LIMIT, OrderType.LIMIT, OrderType.MARKET))
            price = _round(ltp + offset, tick) if order_type is OrderType.LIMIT else 0
            if price and rng.random() < 0.08:
                price += 1  # off the tick grid: rejected INVALID_PRICE, journaled all the same
            trigger = 0
            if rng.random() < 0.15:
                order_type, price = OrderType.SL_M, 0
                trigger = _round(ltp + (tick * 10 if side is Side.BUY else -tick * 10), tick)
            driver.ask(
                account_id,
                cmd.PlaceOrderRequest(
                    order_id=f"o-{step}-{next(order_ids)}",
                    client_order_id=f"c-{step}" if rng.random() < 0.3 else None,
                    instrument=instrument,
                    side=side,
                    product=product,
                    order_type=order_type,
                    validity=Validity.IOC if rng.random() < 0.1 else Validity.DAY,
                    quantity=quantity,
                    price_paise=price,
                    trigger_paise=trigger,
                ),
            )
            continue
        state = driver.inspect(account_id, lambda s: (list(s.orders.items()), list(s.positions)))
        orders, positions = state
        if roll < 0.62 and orders:
            order_id, order = rng.choice(orders)
            if rng.random() < 0.5 and order.order_type is OrderType.LIMIT:
                order_instrument = master.get(order.instrument_id)
                assert order_instrument is not None
                driver.ask(
                    account_id,
                    cmd.ModifyOrderRequest(
                        order_id=order_id,
                        price_paise=order.price_paise + order_instrument.tick_paise,
                    ),
                )
            else:
                driver.ask(account_id, cmd.CancelOrderRequest(order_id=order_id))
        elif roll < 0.8 and positions:
            position_id = rng.choice(positions)
            position = driver.inspect(account_id, lambda s, p=position_id: s.positions.get(p))
            if position is None:
                continue
            position_instrument = master.get(position.instrument_id)
            assert position_instrument is not None
            if rng.random() < 0.5:
                driver.ask(
                    account_id,
                    cmd.ClosePositionRequest(
                        position_id=position_id,
                    ),
                )
            else:
                level = prices[position.instrument_id]
                step_paise = position_instrument.tick_paise * 20
                below, above = _round(level - step_paise, tick), level + step_paise
                long = position.quantity > 0
                driver.ask(
                    account_id,
                    cmd.SetRiskLevelsRequest(
                        position_id=position_id,
                        stop_loss_paise=below if long else above,
                        target_paise=above if long else below,
                    ),
                )
        elif roll < 0.9:
            block_id = f"b-{step}"
            driver.ask(
                account_id,
                cmd.BlockFundsRequest(block_id=block_id, amount_paise=10_000, kind=FundKind.ADMIN),
            )
            if rng.random() < 0.5:
                driver.ask(account_id, cmd.ReleaseFundsRequest(block_id=block_id))
        else:
            driver.ask(
                account_id,
                cmd.CreditFundsRequest(
                    amount_paise=rng.randint(1, 10**6),
                    kind=FundKind.DEPOSIT,
                    reference=f"r-{step}",
                ),
            )
    driver.settle()


async def _journal_views(dsn: str, account_ids: list[str]) -> dict[str, tuple[str, str, bool]]:
    conn = await asyncpg.connect(dsn)
    try:
        replayed = await replay_all(conn)
        views = {}
        for account_id in account_ids:
            rebuilt = await rebuild_from_projections(conn, account_id)
            assert rebuilt is not None
            views[account_id] = (
                state_fingerprint(replayed[account_id]),
                state_fingerprint(rebuilt),
                await verify_account(conn, account_id),
            )
        return views
    finally:
        await conn.close()


def test_random_engine_session_when_replayed_then_equals_memory_and_projections(
    driven: tuple[EngineDriver, PersistenceActor], database: str, master: InstrumentMaster
) -> None:
    driver, actor = driven
    _random_session(driver, master, random.Random(20261124))
    assert actor.flush(20)
    account_ids = sorted(driver.engine.registry.account_ids())  # type: ignore[union-attr]
    memory = {a: driver.inspect(a, state_fingerprint) for a in account_ids}
    shapes = {
        a: driver.inspect(a, lambda s: (s.seq, len(s.orders), len(s.positions), len(s.holdings)))
        for a in account_ids
    }
    views = run(_journal_views(database, account_ids))
    for account_id in account_ids:
        replayed, rebuilt, verified = views[account_id]
        assert replayed == memory[account_id], account_id
        assert rebuilt == memory[account_id], account_id
        assert verified
    assert assert_ledger_and_funds(database) == ACCOUNTS
    # The session must have exercised the interesting paths, not just deposits.
    assert sum(seq for seq, *_ in shapes.values()) > 150
    types = {
        r["type"]: r["n"]
        for r in fetch(database, "SELECT type, count(*) AS n FROM events GROUP BY 1")
    }
    for expected in (
        "OrderFilled",
        "OrderCancelled",
        "OrderModified",
        "PositionRiskSet",
        "FundsBlocked",
        "FundsReleased",
        "OrderRejected",
    ):
        assert types.get(expected, 0) > 0, types
    assert actor.stats.batches_failed == 0
    assert actor.stats.transactions > 0
