"""The persistence actor's bounds and its funds-identity check, against a real PostgreSQL.

Proves that the writer keeps at most ``journal.mirrors_max`` account mirrors, dropping the
least recently written, never one of the group being written, and drops mirrors idle for
``journal.mirror_idle_ms``; that an account whose mirror was dropped is replayed and projected
exactly as if it had been kept (every event type, the mirror dropped before each batch); that
a full inbox (``journal.inbox_max``) turns ``accepting()`` False until fewer than 90 % wait
while later batches (what the market causes) are still queued and written; and that a batch
breaking the funds identity fails alone, its account quarantined and the breach logged at
CRITICAL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from engine.actors.clock import FakeClock
from engine.actors.sink import EventBatch
from engine.config import Config
from engine.domain.account.state import state_fingerprint
from engine.domain.enums import OrderType, Product, Side, Validity
from engine.domain.events import FundsCredited, OrderAccepted, OrderCancelled
from engine.domain.instruments import InstrumentMaster
from engine.domain.rules import AccountRules
from persistence.journal import PersistenceActor
from persistence.recovery import rebuild_from_projections, replay_account
from tests.integration.conftest import fetch, journal_config, run
from tests.support.scenario import add_decider, every_event_session
from tests.support.sql_checks import assert_ledger_and_funds, verify_all_accounts

pytestmark = pytest.mark.timeout(60)

MakeActor = Callable[..., PersistenceActor]
START_MS = 1_795_496_400_000


def credit(account_id: str, seq: int, amount_paise: int) -> EventBatch:
    """A one-event batch: ``amount_paise`` deposited into ``account_id`` as its event ``seq``."""
    event = FundsCredited(
        at_ms=START_MS + seq,
        amount_paise=amount_paise,
        kind="DEPOSIT",
        reference=f"{account_id}-{seq}",
    )
    return EventBatch(account_id, seq, (event,))


def write_one(actor: PersistenceActor, batch: EventBatch) -> bool:
    """Submit ``batch`` alone and wait: a group of its own."""
    acks: list[bool] = []
    actor.submit(batch, acks.append)
    assert actor.flush(timeout_s=20)
    return acks == [True]


def balances(dsn: str) -> dict[str, int]:
    rows = fetch(dsn, "SELECT id, balance_paise FROM trading_accounts ORDER BY id")
    return {r["id"]: r["balance_paise"] for r in rows}


def test_mirrors_when_past_mirrors_max_then_least_recently_written_dropped_and_replayed(
    database: str, make_actor: MakeActor
) -> None:
    actor = make_actor(database, mirrors_max=2)
    for account_id in ("acct-a", "acct-b", "acct-c"):
        assert write_one(actor, credit(account_id, 1, 100))
    assert list(actor._mirrors) == ["acct-b", "acct-c"]  # acct-a, least recently written, went
    assert actor.mirrors == 2
    assert actor.stats.mirrors_evicted == 1

    assert write_one(actor, credit("acct-b", 2, 20))  # acct-b becomes the most recent
    assert write_one(actor, credit("acct-a", 2, 10))  # replayed; acct-c is now the oldest
    assert list(actor._mirrors) == ["acct-b", "acct-a"]
    assert actor.stats.mirrors_evicted == 2
    assert actor.stats.mirrors_replayed == 4  # three first sights and acct-a again

    assert balances(database) == {"acct-a": 110, "acct-b": 120, "acct-c": 100}
    assert verify_all_accounts(database) == {"acct-a": True, "acct-b": True, "acct-c": True}
    assert assert_ledger_and_funds(database) == 3


def test_group_when_more_accounts_than_mirrors_max_then_none_of_them_dropped(
    database: str, config: Config
) -> None:
    actor = PersistenceActor(database, journal_config(config, mirrors_max=2))
    group = [credit(f"acct-{n}", 1, 100 * n) for n in range(1, 5)]

    async def scenario() -> tuple[list[bool], list[str], list[str]]:
        await actor.start_in_running_loop()
        acks: list[bool] = []
        for batch in group:  # no await in between: the writer takes the four as one group
            actor.submit(batch, acks.append)
        while len(acks) < len(group):
            await asyncio.sleep(0.01)
        after_group = list(actor._mirrors)
        actor.submit(credit("acct-5", 1, 500), acks.append)
        while len(acks) < len(group) + 1:
            await asyncio.sleep(0.01)
        after_next = list(actor._mirrors)
        await actor.stop_in_running_loop(timeout_s=10)
        return acks, after_group, after_next

    acks, after_group, after_next = run(scenario())
    assert acks == [True] * 5
    assert actor.stats.transactions == 2  # the four in one group, then acct-5
    assert after_group == ["acct-1", "acct-2", "acct-3", "acct-4"]  # over the bound, all kept
    assert after_next == ["acct-4", "acct-5"]  # the next group brings it back to mirrors_max
    assert actor.stats.mirrors_evicted == 3
    assert verify_all_accounts(database) == {f"acct-{n}": True for n in range(1, 6)}


def test_mirror_when_idle_past_mirror_idle_ms_then_dropped_and_replayed_when_written(
    database: str, config: Config
) -> None:
    clock = FakeClock(START_MS)
    actor = PersistenceActor(
        database, journal_config(config, mirror_idle_ms=60_000, mirrors_max=100), clock=clock
    )
    actor.start()
    try:
        assert write_one(actor, credit("acct-a", 1, 100))
        clock.advance(30_000)
        assert write_one(actor, credit("acct-b", 1, 200))
        clock.advance(30_000)  # acct-a unwritten for 60 s, acct-b for 30 s
        assert write_one(actor, credit("acct-c", 1, 300))
        assert list(actor._mirrors) == ["acct-b", "acct-c"]
        assert actor.stats.mirrors_evicted == 1

        clock.advance(59_999)  # acct-b idle 89.999 s, acct-c 59.999 s: only acct-b goes
        assert write_one(actor, credit("acct-a", 2, 10))
        assert list(actor._mirrors) == ["acct-c", "acct-a"]
        assert actor.stats.mirrors_evicted == 2
        assert actor.stats.mirrors_replayed == 4  # acct-a replayed from its journal
    finally:
        actor.stop(timeout_s=5)
    assert balances(database) == {"acct-a": 110, "acct-b": 200, "acct-c": 300}
    assert verify_all_accounts(database) == {"acct-a": True, "acct-b": True, "acct-c": True}


def test_every_event_type_when_mirror_dropped_before_each_batch_then_projections_match(
    database: str,
    make_actor: MakeActor,
    config: Config,
    rules: AccountRules,
    master: InstrumentMaster,
) -> None:
    """One mirror for two accounts: each batch of the every-event session is projected from a
    mirror just replayed from the journal, and ends exactly where the session's state is."""
    add_decider(database)
    session = every_event_session("acct-all", config, rules, master)
    actor = make_actor(database, mirrors_max=1)
    for n, batch in enumerate(session.batches, start=1):
        assert write_one(actor, batch)
        assert write_one(actor, credit("acct-other", n, 1))  # drops acct-all's mirror

    assert actor.stats.mirrors_replayed == 2 * len(session.batches)
    assert actor.stats.batches_failed == 0

    async def replayed_and_rebuilt() -> tuple[str, str]:
        import asyncpg

        conn = await asyncpg.connect(database)
        try:
            replayed = await replay_account(conn, "acct-all")
            rebuilt = await rebuild_from_projections(conn, "acct-all")
            assert rebuilt is not None
            return state_fingerprint(replayed), state_fingerprint(rebuilt)
        finally:
            await conn.close()

    replayed, rebuilt = run(replayed_and_rebuilt())
    assert replayed == rebuilt == state_fingerprint(session.state)
    assert verify_all_accounts(database) == {"acct-all": True, "acct-other": True}
    assert assert_ledger_and_funds(database) == 2


def test_inbox_when_full_then_not_accepting_until_below_resume_mark_and_later_batches_queued(
    database: str, config: Config
) -> None:
    """``inbox_max`` 10 (resume below 9), one batch per group: ten user writes fill the inbox;
    three batches more (what the market causes: their callers never ask ``accepting()``) are
    queued all the same; writes are taken again once eight wait."""
    actor = PersistenceActor(database, journal_config(config, inbox_max=10, batch_max=1))

    async def scenario() -> tuple[list[bool], list[bool], list[tuple[int, bool]], int]:
        await actor.start_in_running_loop()
        while_filling: list[bool] = []
        settled: list[tuple[int, bool]] = []  # (batches still queued, accepting) per ack

        def on_durable(ok: bool) -> None:
            assert ok
            settled.append((actor.backlog, actor.accepting()))

        for seq in range(1, 11):  # no await: the writer cannot take any yet
            while_filling.append(actor.accepting())
            actor.submit(credit("acct-user", seq, 100), on_durable)
        full = [actor.accepting(), actor.inbox_full]
        for seq in range(1, 4):
            actor.submit(credit("acct-market", seq, 1), on_durable)
        queued = actor.backlog
        while len(settled) < 13:
            await asyncio.sleep(0.01)
        await actor.stop_in_running_loop(timeout_s=10)
        return while_filling, full, settled, queued

    while_filling, full, settled, queued = run(scenario())
    assert while_filling == [True] * 10  # accepting before each of the ten
    assert full == [False, True]
    assert queued == 13
    assert settled == [
        (12, False),
        (11, False),
        (10, False),
        (9, False),  # not below 9 yet
        (8, True),
        (7, True),
        (6, True),
        (5, True),
        (4, True),
        (3, True),
        (2, True),
        (1, True),
        (0, True),
    ]
    assert actor.stats.inbox_full_episodes == 1
    assert balances(database) == {"acct-market": 3, "acct-user": 1_000}


def test_batch_when_it_breaks_funds_identity_then_it_alone_fails_and_account_quarantined(
    database: str, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancel releasing less margin than its order blocked leaves ``blocked`` above its
    parts: the writer's check refuses that batch (on_durable False), logs it at CRITICAL,
    quarantines its account and writes the rest of the group."""
    accepted = OrderAccepted(
        at_ms=START_MS + 2,
        order_id="o-1",
        client_order_id=None,
        instrument_id="NSE_EQ-2885",
        side=Side.BUY,
        product=Product.CNC,
        order_type=OrderType.LIMIT,
        validity=Validity.DAY,
        quantity=10,
        price_paise=5_000,
        trigger_paise=0,
        margin_blocked_paise=50_000,
    )
    short_release = OrderCancelled(
        at_ms=START_MS + 3, order_id="o-1", margin_released_paise=20_000, reason="USER"
    )
    batches = [
        credit("acct-x", 1, 100_000),
        EventBatch("acct-x", 2, (accepted,)),
        credit("acct-y", 1, 700),
        EventBatch("acct-x", 3, (short_release,)),
        credit("acct-y", 2, 70),
    ]
    actor = PersistenceActor(database, config.journal)

    async def scenario() -> list[bool]:
        await actor.start_in_running_loop()
        acks: list[bool] = []
        for batch in batches:  # no await in between: one group
            actor.submit(batch, acks.append)
        while len(acks) < len(batches):
            await asyncio.sleep(0.01)
        await actor.stop_in_running_loop(timeout_s=10)
        return acks

    with caplog.at_level(logging.CRITICAL, logger="persistence.journal"):
        acks = run(scenario())

    assert acks == [True, True, True, False, True]
    assert actor.quarantined_accounts == ["acct-x"]
    assert actor.stats.invariant_violations == 1
    assert actor.stats.batches_failed == 1
    assert actor.stats.groups_isolated == 1
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert "INVARIANT BROKEN" in critical[0].getMessage()
    assert "acct-x@3" in critical[0].getMessage()
    assert "funds identity broken" in critical[0].getMessage()
    rows = fetch(database, "SELECT account_id, account_seq FROM events ORDER BY seq")
    assert [(r["account_id"], r["account_seq"]) for r in rows] == [
        ("acct-x", 1),
        ("acct-x", 2),
        ("acct-y", 1),
        ("acct-y", 2),
    ]
    assert verify_all_accounts(database) == {"acct-x": True, "acct-y": True}
