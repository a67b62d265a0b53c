"""Trades and order history as the journal writer projects them, against a real PostgreSQL.

Proves that every fill is one trade whose id is ``<order id>-<account seq>``, that every order
event is one history row with the order's filled quantity and terms after it, that the same
batches written twice (through the same writer and a fresh one) leave each trade and history row
once, and that migration 0014's backfill from the journal gives exactly the rows the writer
projected (so re-projecting the journal gives the same trade ids).
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from engine.config import Config
from engine.domain import events as ev
from engine.domain.instruments import InstrumentMaster
from engine.domain.rules import AccountRules
from persistence.journal import PersistenceActor
from persistence.migrate import migrate
from tests.integration.conftest import fetch, run
from tests.support.scenario import Session, add_decider, every_event_session

pytestmark = pytest.mark.timeout(60)

MakeActor = Callable[..., PersistenceActor]
TRADES = "SELECT * FROM trades ORDER BY id"
HISTORY = "SELECT * FROM order_history ORDER BY trading_account_id, account_seq"
ORDER_EVENTS = (
    ev.OrderAccepted,
    ev.OrderRejected,
    ev.OrderModified,
    ev.OrderTriggered,
    ev.OrderCancelled,
    ev.OrderFilled,
)


@pytest.fixture
def session(
    database: str, config: Config, rules: AccountRules, master: InstrumentMaster
) -> Session:
    add_decider(database)
    return every_event_session("acct-trades", config, rules, master)


def write(actor: PersistenceActor, session: Session) -> None:
    for batch in session.batches:
        actor.submit(batch, lambda durable: None)
    assert actor.flush(timeout_s=20)


def journaled(session: Session) -> list[tuple[int, ev.AccountEvent]]:
    """(account_seq, event) of every order event the session journaled, in order."""
    return [
        (batch.first_seq + i, event)
        for batch in session.batches
        for i, event in enumerate(batch.events)
        if isinstance(event, ORDER_EVENTS)
    ]


def test_fills_when_projected_then_one_trade_each_with_its_history(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    write(make_actor(database), session)
    fills = [(seq, e) for seq, e in journaled(session) if isinstance(e, ev.OrderFilled)]
    trades = fetch(database, "SELECT * FROM trades ORDER BY account_seq")
    assert [(t["id"], t["order_id"], t["quantity"], t["price_paise"]) for t in trades] == [
        (f"{e.order_id}-{seq}", e.order_id, e.quantity, e.price_paise) for seq, e in fills
    ]
    assert [t["charges_paise"] for t in trades] == [e.charges_paise for _, e in fills]
    history = fetch(
        database,
        "SELECT status, filled_quantity, quantity, price_paise, reason FROM order_history"
        " WHERE order_id = 'buy-1' ORDER BY account_seq",
    )
    # buy-1: accepted at 10 @ ₹1540.00, modified to ₹1542.00, filled 4 then 6.
    assert [tuple(r) for r in history] == [
        ("PENDING", 0, 10, 154_000, None),
        ("MODIFIED", 0, 10, 154_200, None),
        ("PARTIALLY_FILLED", 4, 10, 154_200, None),
        ("EXECUTED", 10, 10, 154_200, None),
    ]
    assert len(fetch(database, HISTORY)) == len(journaled(session))


def test_batches_when_written_twice_then_each_trade_once(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    actor = make_actor(database)
    write(actor, session)
    trades, history = fetch(database, TRADES), fetch(database, HISTORY)
    assert trades and history
    write(actor, session)  # its mirror knows them
    write(make_actor(database), session)  # it must learn from the journal that they are there
    assert fetch(database, TRADES) == trades
    assert fetch(database, HISTORY) == history


async def _migrate_again(dsn: str) -> list[str]:
    """Drop what migration 0014 made and apply it again: its backfill reads the journal."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DROP TABLE trades, order_history; DELETE FROM schema_migrations WHERE version = 14"
        )
        return await migrate(conn)
    finally:
        await conn.close()


def test_backfill_when_migrated_over_a_journal_then_same_rows_as_projected(
    database: str, make_actor: MakeActor, session: Session
) -> None:
    write(make_actor(database), session)
    trades, history = fetch(database, TRADES), fetch(database, HISTORY)
    assert run(_migrate_again(database)) == ["0014_trades_and_order_history.sql"]
    assert fetch(database, TRADES) == trades
    assert fetch(database, HISTORY) == history
