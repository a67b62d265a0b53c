"""The persistence actor against a real PostgreSQL.

Proves that every account event type goes through the actor into the journal and the
projections and comes back identical (decoded payloads, replayed state, rebuilt state), that
many quick submits share few transactions (group commit, bounded by ``batch_max``), that the
same batch written twice leaves one set of rows, that ``commit`` mode acknowledges only once
the rows are visible to another connection while ``async`` mode acknowledges before anything
is written, and that the ledger and funds identity hold in SQL.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from engine.actors.sink import EventBatch
from engine.config import Config
from engine.domain import events as ev
from engine.domain.account.apply import apply
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.events import FundsCredited, decode_event
from engine.domain.instruments import InstrumentMaster
from engine.domain.rules import AccountRules
from persistence.journal import PersistenceActor
from persistence.recovery import rebuild_from_projections, replay_account, verify_account
from tests.integration.conftest import fetch, fetchval, run
from tests.support.scenario import (
    ALL_EVENT_TYPES,
    Session,
    add_decider,
    every_event_session,
)
from tests.support.sql_checks import assert_ledger_and_funds, verify_all_accounts

pytestmark = pytest.mark.timeout(60)

MakeActor = Callable[..., PersistenceActor]


def submit_all(actor: PersistenceActor, batches: list[EventBatch]) -> list[bool]:
    acks: list[bool] = []
    for batch in batches:
        actor.submit(batch, acks.append)
    assert actor.flush(timeout_s=20)
    return acks


async def _replay_and_rebuild(dsn: str, account_id: str) -> tuple[str, str, bool]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        replayed = await replay_account(conn, account_id)
        rebuilt = await rebuild_from_projections(conn, account_id)
        assert rebuilt is not None
        verified = await verify_account(conn, account_id)
        return state_fingerprint(replayed), state_fingerprint(rebuilt), verified
    finally:
        await conn.close()


@pytest.fixture
def session(
    database: str, config: Config, rules: AccountRules, master: InstrumentMaster
) -> Session:
    add_decider(database)
    return every_event_session("acct-all", config, rules, master)


def test_every_event_type_when_journaled_then_journal_and_projections_match_memory(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    actor = make_actor(database)
    acks = submit_all(actor, session.batches)
    assert acks == [True] * len(session.batches)

    rows = fetch(
        database,
        "SELECT account_seq, type, payload::text AS payload FROM events"
        " WHERE account_id = 'acct-all' ORDER BY account_seq",
    )
    journaled = [e for b in session.batches for e in b.events]
    assert [r["account_seq"] for r in rows] == list(range(1, len(journaled) + 1))
    assert {r["type"] for r in rows} == ALL_EVENT_TYPES
    assert [decode_event(r["payload"]) for r in rows] == journaled

    replayed, rebuilt, verified = run(_replay_and_rebuild(database, "acct-all"))
    assert replayed == rebuilt == state_fingerprint(session.state)
    assert verified
    assert assert_ledger_and_funds(database) == 1

    orders = {
        r["id"]: r
        for r in fetch(database, "SELECT * FROM orders WHERE trading_account_id = 'acct-all'")
    }
    assert orders["buy-1"]["status"] == "EXECUTED"
    assert orders["buy-1"]["filled_quantity"] == 10
    assert orders["buy-1"]["average_price_paise"] == (4 * 154_200 + 6 * 154_100) // 10
    assert orders["big-1"]["status"] == "REJECTED"
    assert orders["big-1"]["rejection_reason"] == "INSUFFICIENT_FUNDS"
    assert orders["slm-1"]["status"] == "CANCELLED"
    assert orders["slm-1"]["triggered"] is True
    assert orders["rest-1"]["status"] == "PENDING"
    positions = fetch(database, "SELECT status, close_reason FROM positions ORDER BY opened_at, id")
    assert [(p["status"], p["close_reason"]) for p in positions] == [
        ("CLOSED", "CLOSED"),
        ("CLOSED", "EXPIRED"),  # an option settled at expiry in the money
        ("CLOSED", "EXPIRED"),  # and one expired worthless
        ("CLOSED", "EXPIRED"),  # a short held into its expiry day, then expired worthless
        ("CLOSED", "EXPIRED"),  # a stock future settled by delivery
        ("CLOSED", "SETTLED"),
        ("OPEN", None),  # INFY MIS, with a stop-loss
        ("OPEN", None),  # three of it converted to CNC
    ]
    converted = fetch(
        database,
        "SELECT product, quantity, margin_paise FROM positions"
        " WHERE status = 'OPEN' ORDER BY opened_at, id",
    )
    # 7 INFY MIS @ ₹1548: 3 of them moved at their cost 464,400, now blocked whole as CNC.
    assert [tuple(r) for r in converted] == [("MIS", 4, 123_840), ("CNC", 3, 464_400)]
    settled = fetch(
        database,
        "SELECT id, status, filled_quantity, average_price_paise, charges_paise FROM orders"
        " WHERE id LIKE 'expiry-%' ORDER BY id",
    )
    # Exercised in the money: ₹150 × 65, STT on exercise 0.125 % = ₹12.19; worthless: nothing.
    assert [tuple(r) for r in settled] == [
        ("expiry-26000", "EXECUTED", 65, 15_000, 1_219),
        ("expiry-26500", "EXECUTED", 65, 0, 0),
        ("expiry-fut", "EXECUTED", 500, 154_500, 0),  # closed at its settlement price
        ("expiry-put", "EXECUTED", 65, 0, 0),
    ]
    # Each revaluation's BLOCKED leg is the change of the portfolio margins it books, as the
    # session's own state saw it (the expiry-day one adds the short put's extra ELM, ₹33,980.18,
    # less what the day's nearer expiry takes off its SPAN).
    expected_legs = []
    replay = AccountState("acct-all")
    for event in journaled:
        before = replay.blocked_paise
        apply(replay, event)
        if isinstance(event, ev.PortfolioMarginRevalued) and replay.blocked_paise != before:
            kind = "MARGIN_BLOCK" if replay.blocked_paise > before else "MARGIN_RELEASE"
            expected_legs.append((kind, replay.blocked_paise - before))
    margin_legs = fetch(
        database,
        "SELECT kind, amount_paise FROM transactions"
        " WHERE book = 'BLOCKED' AND description = 'PortfolioMarginRevalued' ORDER BY account_seq",
    )
    assert [tuple(r) for r in margin_legs] == expected_legs
    assert expected_legs and expected_legs[0][0] == "MARGIN_BLOCK"
    # Its 500 shares owed and none held: closed out at ₹1,545, a 20 % penalty of ₹1,54,500.
    penalty = fetch(
        database,
        "SELECT book, counterparty_book, kind, amount_paise FROM transactions"
        " WHERE reference = 'expiry-fut' AND book = 'CASH'",
    )
    assert [tuple(r) for r in penalty] == [("CASH", "PENALTIES", "CLOSE_OUT", -15_450_000)]
    logs = fetch(database, "SELECT category, level, message FROM trading_logs ORDER BY id")
    messages = [r["message"] for r in logs]
    assert "order placed" in messages
    assert "order rejected: INSUFFICIENT_FUNDS" in messages
    assert "order cancelled: USER" in messages
    assert "order executed" in messages
    assert "position closed" in messages
    assert "futures settled to market: 1" in messages
    assert "margin call: equity below the required margin" in messages
    assert "margin call met" in messages
    assert "shares delivered at expiry: 0, 500 closed out" in messages
    assert "funds credited: DEPOSIT" in messages
    assert "funds debited: ADJUSTMENT" in messages
    for message in ("deposit approved", "deposit rejected", "withdrawal approved"):
        assert message in messages
    requests = fetch(
        database,
        "SELECT id, status, decided_by, journaled FROM deposits UNION ALL"
        " SELECT id, status, decided_by, journaled FROM withdrawals ORDER BY id",
    )
    assert [tuple(r) for r in requests] == [
        ("dep-0", "APPROVED", "scenario-admin", True),
        ("dep-1", "REJECTED", "scenario-admin", True),
        ("dep-open", "PENDING", None, True),
        ("wd-0", "APPROVED", "scenario-admin", True),
        ("wd-1", "REJECTED", "scenario-admin", True),
        ("wd-open", "PENDING", None, True),
    ]
    operation = fetch(
        database, "SELECT operation, amount_paise, account_seq FROM admin_fund_operations"
    )
    assert [tuple(r) for r in operation] == [
        ("ADD", 30_000, session.state.fund_operations["key-1"].account_seq)
    ]
    # Each GTT's row says how it ended (or that it is active), as the session left it.
    gtts = fetch(
        database,
        "SELECT id, status, version, triggered_leg, triggered_price_paise, order_id,"
        " rejection_reason FROM gtts WHERE trading_account_id = 'acct-all' ORDER BY id",
    )
    assert [tuple(r) for r in gtts] == [
        ("gtt-1", "TRIGGERED", 1, 0, 151_000, "gtt-1-order", None),
        ("gtt-2", "REJECTED", 0, 0, 300_000, "gtt-2-order", "INSUFFICIENT_HOLDINGS"),
        ("gtt-3", "CANCELLED", 0, None, None, None, None),
        ("gtt-4", "EXPIRED", 0, None, None, None, None),
        ("gtt-5", "DISABLED", 0, None, None, None, None),
        ("gtt-live", "ACTIVE", 0, None, None, None, None),
    ]


def test_same_batches_twice_when_resubmitted_then_one_set_of_rows(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    actor = make_actor(database)
    submit_all(actor, session.batches)
    counts_sql = (
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM transactions),"
        " (SELECT count(*) FROM trading_logs), (SELECT count(*) FROM orders)"
    )
    before = tuple(fetch(database, counts_sql)[0])
    # Again through the same actor (its mirror knows them) and through a fresh actor (which
    # must learn from the journal that they are already there).
    assert submit_all(actor, session.batches) == [True] * len(session.batches)
    fresh = make_actor(database)
    assert submit_all(fresh, session.batches) == [True] * len(session.batches)
    assert tuple(fetch(database, counts_sql)[0]) == before
    assert actor.stats.batches_duplicate == len(session.batches)
    assert fresh.stats.events_written == 0
    assert run(_replay_and_rebuild(database, "acct-all"))[2]
    assert assert_ledger_and_funds(database) == 1


def test_many_quick_submits_when_written_then_grouped_into_few_transactions(
    database: str, make_actor: MakeActor, config: Config, rules: AccountRules
) -> None:
    from engine.domain import commands as cmd

    batch_max = 50
    actor = make_actor(database, batch_max=batch_max)
    sessions = [Session(f"acct-{i}", config, rules) for i in range(10)]
    for step in range(100):
        for s in sessions:
            s.run(
                cmd.CreditFunds(
                    now_ms=s.tick(), amount_paise=100 + step, kind="DEPOSIT", reference="g"
                )
            )
    batches = [b for step in range(100) for b in (s.batches[step] for s in sessions)]
    submit_all(actor, batches)
    stats = actor.stats
    assert stats.events_written == 1_000
    assert stats.batches_written == 1_000
    assert stats.group_events_max <= batch_max
    assert stats.transactions >= 1_000 // batch_max
    assert stats.transactions <= 1_000 // 4, stats  # far fewer than one per batch
    assert fetchval(database, "SELECT count(*) FROM events") == 1_000
    assert fetchval(database, "SELECT count(DISTINCT account_id) FROM events") == 10
    for s in sessions:
        assert run(_replay_and_rebuild(database, s.state.account_id))[0] == state_fingerprint(
            s.state
        )
    assert assert_ledger_and_funds(database) == 10


def _visible_from_another_connection(dsn: str, account_id: str) -> int:
    """Count the account's journal rows from a fresh thread and connection."""
    box: list[int] = []
    thread = threading.Thread(
        target=lambda: box.append(
            fetchval(dsn, "SELECT count(*) FROM events WHERE account_id = $1", account_id)
        )
    )
    thread.start()
    thread.join(10)
    return box[0]


def test_commit_mode_when_acknowledged_then_rows_already_visible_elsewhere(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    actor = make_actor(database, durability="commit")
    seen: list[tuple[int, int]] = []
    done = threading.Event()
    batches = session.batches[:5]
    expected = 0
    for batch in batches:
        expected += len(batch.events)
        want = expected

        def on_durable(ok: bool, want: int = want) -> None:
            assert ok
            # Runs on the writer thread: nothing else commits until it returns.
            seen.append((want, _visible_from_another_connection(database, "acct-all")))
            if len(seen) == len(batches):
                done.set()

        actor.submit(batch, on_durable)
    assert done.wait(20)
    for want, visible in seen:
        assert visible >= want


def test_async_mode_when_submitted_then_acknowledged_before_written(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    actor = make_actor(database, durability="async")
    visible_at_ack: list[int] = []
    batch = session.batches[0]
    actor.submit(
        batch,
        lambda ok: visible_at_ack.append(_visible_from_another_connection(database, "acct-all")),
    )
    assert visible_at_ack == [0]
    assert actor.flush(timeout_s=10)
    deadline = time.monotonic() + 10
    while fetchval(database, "SELECT count(*) FROM events") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert fetchval(database, "SELECT count(*) FROM events") == len(batch.events)


# JSON's own escapes, line and paragraph separators, a tab, non-ASCII text and an astral-plane
# character: the group statement carries rows as JSON, so these must come back byte for byte.
AWKWARD_TEXT = 'say "hi" \\ back\\slash \n new line\ttab ₹ हिंदी 😀 \u2028\u2029 {"x": [1]}'


def test_awkward_text_when_journaled_then_ledger_and_payload_exact(
    database: str, make_actor: MakeActor
) -> None:
    actor = make_actor(database)
    credit = FundsCredited(
        at_ms=1_795_496_400_000, amount_paise=1_00, kind="DEPOSIT", reference=AWKWARD_TEXT
    )
    assert submit_all(actor, [EventBatch("acct-text", 1, (credit,))]) == [True]

    legs = fetch(
        database,
        "SELECT reference FROM transactions WHERE trading_account_id = 'acct-text' ORDER BY leg",
    )
    assert [r["reference"] for r in legs] == [AWKWARD_TEXT, AWKWARD_TEXT]
    payload = fetch(
        database, "SELECT payload::text AS p FROM events WHERE account_id = 'acct-text'"
    )
    assert decode_event(payload[0]["p"]) == credit
    details = fetch(
        database, "SELECT details->>'reference' AS r FROM trading_logs WHERE account_seq = 1"
    )
    assert [r["r"] for r in details] == [AWKWARD_TEXT]


def test_writer_when_run_on_callers_loop_then_acks_there_and_stop_drains_queue(
    database: str, config: Config, session: Session
) -> None:
    """The server's way of running the writer: on its own event loop, no thread of its own."""
    actor = PersistenceActor(database, config.journal)

    async def scenario() -> tuple[list[bool], list[bool], bool]:
        await actor.start_in_running_loop()
        loop_thread = threading.get_ident()
        first, second = session.batches[:3], session.batches[3:]
        acked = asyncio.Event()
        early: list[bool] = []

        def on_durable(ok: bool) -> None:
            assert threading.get_ident() == loop_thread  # acknowledged on the caller's loop
            early.append(ok)
            if len(early) == len(first):
                acked.set()

        for batch in first:
            actor.submit(batch, on_durable)
        await asyncio.wait_for(acked.wait(), 10)
        late: list[bool] = []
        for batch in second:  # still queued when stop begins: stop writes them first
            actor.submit(batch, late.append)
        await actor.stop_in_running_loop(timeout_s=10)
        return early, late, actor.accepting()

    early, late, accepting_after_stop = run(scenario())
    assert early == [True] * 3
    assert late == [True] * (len(session.batches) - 3)
    assert not accepting_after_stop
    journaled = sum(len(b.events) for b in session.batches)
    assert fetchval(database, "SELECT count(*) FROM events") == journaled


def test_group_when_one_batch_refused_then_others_written_and_its_account_quarantined(
    database: str, config: Config
) -> None:
    """A refused batch fails its whole group statement: the mirrors that group advanced are
    dropped and replayed, every other batch is written once, in order, and only the culprit's
    account is quarantined."""
    actor = PersistenceActor(database, config.journal)

    def credit(n: int, reference: str) -> FundsCredited:
        return FundsCredited(
            at_ms=1_795_496_400_000 + n, amount_paise=100 * n, kind="DEPOSIT", reference=reference
        )

    batches = [
        EventBatch("acct-a", 1, (credit(1, "a-1"),)),
        EventBatch("acct-b", 1, (credit(2, "b-1 \x00 PostgreSQL refuses NUL"),)),
        EventBatch("acct-a", 2, (credit(3, "a-2"),)),
        EventBatch("acct-c", 1, (credit(4, "c-1"),)),
    ]

    async def scenario() -> tuple[list[bool], list[bool]]:
        await actor.start_in_running_loop()
        acks: list[bool] = []
        for batch in batches:  # no await in between: the writer takes them as one group
            actor.submit(batch, acks.append)
        while len(acks) < len(batches):
            await asyncio.sleep(0.01)
        later: list[bool] = []
        actor.submit(EventBatch("acct-a", 3, (credit(5, "a-3"),)), later.append)
        await actor.stop_in_running_loop(timeout_s=10)
        return acks, later

    acks, later = run(scenario())
    assert acks == [True, False, True, True]
    assert later == [True]  # acct-a's mirror was replayed from the journal after the failure
    assert actor.stats.groups_isolated == 1  # the four went as one group, refused as one
    assert actor.quarantined_accounts == ["acct-b"]
    rows = fetch(database, "SELECT account_id, account_seq FROM events ORDER BY seq")
    assert [(r["account_id"], r["account_seq"]) for r in rows] == [
        ("acct-a", 1),
        ("acct-a", 2),
        ("acct-c", 1),
        ("acct-a", 3),
    ]
    balances = fetch(database, "SELECT id, balance_paise FROM trading_accounts ORDER BY id")
    assert [(r["id"], r["balance_paise"]) for r in balances] == [
        ("acct-a", 100 + 300 + 500),
        ("acct-c", 400),
    ]
    assert verify_all_accounts(database) == {"acct-a": True, "acct-c": True}
