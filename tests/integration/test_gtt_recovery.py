"""GTTs journaled, projected and recovered with a real PostgreSQL (docs/DOMAIN.md §7).

Drives a real engine whose sink is the persistence actor in ``commit`` mode: GTTs placed,
modified, deleted, one fired whose order is accepted and one whose order is refused. Then the
``gtts`` rows say how each ended (the fired ones with their leg, price, order and reason), the
journal's replay, the projections' rebuild and the engine's memory agree on every account's
state (the active GTTs included), and a second
engine given the replayed account puts its active GTT back in the books, where a crossing tick
fires it. A batch written twice (a retry after a lost acknowledgement) leaves one row.
"""

from __future__ import annotations

import asyncpg
import pytest

from engine.actors.sink import EventBatch
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.enums import OrderType, Product, Side
from engine.domain.gtt import GttLeg, GttType
from engine.domain.instruments import Instrument, InstrumentMaster
from persistence.journal import PersistenceActor
from persistence.recovery import rebuild_from_projections, replay_account, verify_account
from tests.actors.test_engine_actors import make_harness
from tests.integration.conftest import fetch, run
from tests.support.engine_driver import EngineDriver, exact_config

pytestmark = pytest.mark.timeout(90)


def _leg(trigger: int, side: Side, quantity: int = 10) -> GttLeg:
    return GttLeg(trigger, side, quantity, OrderType.LIMIT, trigger, Product.CNC)


def _place(instrument: Instrument, gtt_id: str, *legs: GttLeg) -> cmd.PlaceGttRequest:
    kind = GttType.TWO_LEG if len(legs) == 2 else GttType.SINGLE
    return cmd.PlaceGttRequest(gtt_id, instrument, kind, legs)


async def _views(dsn: str, account_id: str) -> tuple[str, str | None, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        replayed = await replay_account(conn, account_id)
        rebuilt = await rebuild_from_projections(conn, account_id)
        verified = await verify_account(conn, account_id)
        return (
            state_fingerprint(replayed),
            None if rebuilt is None else state_fingerprint(rebuilt),
            verified,
        )
    finally:
        await conn.close()


def test_gtts_when_journaled_then_rows_replay_and_recovery_agree(
    driven: tuple[EngineDriver, PersistenceActor],
    database: str,
    master: InstrumentMaster,
    reliance: Instrument,
) -> None:
    driver, actor = driven
    driver.set_price(reliance, 150_000)
    driver.open_account("rich", 100_000_00)
    driver.open_account("poor", 1_000_00)
    asks = [
        ("rich", _place(reliance, "g-fire", _leg(149_000, Side.BUY))),
        ("rich", _place(reliance, "g-oco", _leg(140_000, Side.SELL), _leg(160_000, Side.BUY))),
        ("rich", _place(reliance, "g-del", _leg(170_000, Side.BUY))),
        ("rich", cmd.DeleteGttRequest("g-del")),
        ("rich", cmd.ModifyGttRequest("g-oco", GttType.SINGLE, (_leg(165_000, Side.BUY),))),
        ("poor", _place(reliance, "g-poor", _leg(149_000, Side.BUY))),
    ]
    for account_id, request in asks:
        assert driver.ask(account_id, request).rejection is None, request
    driver.set_price(reliance, 148_900)  # fires g-fire (accepted) and g-poor (refused)
    assert actor.flush(20)
    rows = {r["id"]: r for r in fetch(database, "SELECT * FROM gtts ORDER BY id")}
    assert {k: r["status"] for k, r in rows.items()} == {
        "g-del": "CANCELLED",
        "g-fire": "TRIGGERED",
        "g-oco": "ACTIVE",
        "g-poor": "REJECTED",
    }
    fired, refused = rows["g-fire"], rows["g-poor"]
    assert (fired["triggered_leg"], fired["triggered_price_paise"]) == (0, 148_900)
    assert fired["order_id"] and fired["rejection_reason"] is None
    assert refused["rejection_reason"] == "INSUFFICIENT_FUNDS"
    order = fetch(database, "SELECT status FROM orders WHERE id = $1", refused["order_id"])
    assert [o["status"] for o in order] == ["REJECTED"]
    assert (rows["g-oco"]["version"], rows["g-oco"]["gtt_type"]) == (1, "SINGLE")
    for account_id in ("rich", "poor"):
        memory = driver.inspect(account_id, state_fingerprint)
        replayed, rebuilt, verified = run(_views(database, account_id))
        assert replayed == rebuilt == memory, account_id
        assert verified

    replayed_state = run(_replayed(database, "rich"))
    assert list(replayed_state.gtts) == ["g-oco"]

    # A second engine given the recovered account fires the GTT it holds.
    second = make_harness(master, "pooled", exact_config())
    try:
        second.set_price(reliance, 150_000)
        second.engine.restore_account(replayed_state)
        second.settle()
        second.set_price(reliance, 165_000)
        assert second.inspect("rich", lambda s: list(s.gtts)) == []
    finally:
        second.engine.stop()


async def _replayed(dsn: str, account_id: str) -> AccountState:
    conn = await asyncpg.connect(dsn)
    try:
        return await replay_account(conn, account_id)
    finally:
        await conn.close()


def test_gtt_batch_when_written_twice_then_one_row(
    make_actor: object, database: str, reliance: Instrument
) -> None:
    placed = ev.GttPlaced(
        at_ms=1_000,
        gtt_id="g1",
        instrument_id=reliance.instrument_id,
        gtt_type=GttType.SINGLE,
        last_price_paise=150_000,
        legs=(_leg(149_000, Side.BUY),),
        expires_ms=2_000,
    )
    credit = ev.FundsCredited(at_ms=1_000, amount_paise=100, kind="DEPOSIT", reference="t")
    for _ in range(2):
        actor = make_actor(database)  # type: ignore[operator]
        done: list[bool] = []
        actor.submit(EventBatch("acct-x", 1, (credit, placed)), done.append)
        assert actor.flush(20) and done == [True]
        actor.stop(timeout_s=5)
    assert [r["status"] for r in fetch(database, "SELECT status FROM gtts")] == ["ACTIVE"]
