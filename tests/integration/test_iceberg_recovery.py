"""Iceberg orders journaled, projected and recovered with a real PostgreSQL (docs/DOMAIN.md §3).

A real engine whose sink is the persistence actor in ``commit`` mode takes a MARKET iceberg of
7 RELIANCE in legs of 3, each filling a second after it is placed. One market tick a second
later fills the first leg, and the account places the
second in the same batch: the ``orders`` rows carry each leg's place in the iceberg, and the
journal's replay, the projections' rebuild and the engine's memory agree. The server stops
with the second leg working; a second one recovers as the server does, and its ticks fill the
second leg and place and fill the third from the recovered slicing, to the total of 7.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from engine.config import Config
from engine.domain.account.state import state_fingerprint
from engine.domain.enums import OrderType, Product
from engine.domain.iceberg import Iceberg
from engine.domain.instruments import Instrument
from persistence.journal import PersistenceActor
from tests.integration.conftest import Server, fetch, recovered
from tests.support.engine_driver import START_MS, EngineDriver, exact_config, order_request

pytestmark = pytest.mark.timeout(90)

FILL_DELAY_MS = 1_000


@pytest.fixture(scope="module")
def config() -> Config:
    # A MARKET order fills a second after it is taken: one leg a second.
    return exact_config(
        journal={"durability": "commit"}, execution={"market_fill_delay_ms": FILL_DELAY_MS}
    )


def leg_rows(database: str) -> list[tuple[Any, ...]]:
    """(status, quantity, filled, parent, leg, legs, leg quantity, total), leg by leg."""
    rows = fetch(
        database,
        "SELECT status, quantity, filled_quantity, iceberg_parent_id, iceberg_leg, iceberg_legs,"
        " iceberg_leg_quantity, iceberg_total_quantity FROM orders ORDER BY iceberg_leg",
    )
    return [tuple(r) for r in rows]


def tick(driver: EngineDriver, journal: PersistenceActor) -> None:
    """A market tick a second on, and what it caused made durable: the market learns of a
    placed leg only once its batch is committed."""
    driver.clock.advance(FILL_DELAY_MS)
    driver.engine.tick()
    driver.settle()
    assert journal.flush(20)
    driver.settle()


def test_iceberg_when_server_restarts_between_legs_then_the_recovered_leg_goes_on_to_the_total(
    restartable: Callable[[int], Server], database: str, reliance: Instrument
) -> None:
    first, journal = restartable(START_MS + 86_400_000)
    first.set_price(reliance, 150_000)
    first.open_account("acct", 10_000_000)
    request = order_request(reliance, "ice", quantity=3, order_type=OrderType.MARKET)
    slicing = Iceberg("ice", 1, 3, 3, 7)
    assert first.ask("acct", msgspec.structs.replace(request, iceberg=slicing)).rejection is None

    tick(first, journal)  # the first leg fills; the second is placed
    assert journal.flush(20)

    assert leg_rows(database) == [
        ("EXECUTED", 3, 3, "ice", 1, 3, 3, 7),
        ("PENDING", 3, 0, "ice", 2, 3, 3, 7),
    ]
    replayed, rebuilt, verified = recovered(database, "acct")
    assert rebuilt is not None and verified
    memory = first.inspect("acct", state_fingerprint)
    assert state_fingerprint(replayed) == state_fingerprint(rebuilt) == memory
    (second_leg,) = rebuilt.orders.values()
    assert second_leg.iceberg == slicing.next_leg()
    first.engine.stop()

    second, journal = restartable(START_MS + 86_400_000 + 60_000)
    second.set_price(reliance, 150_000)
    second.engine.restore_account(recovered(database, "acct")[0])
    second.engine.catch_up_sessions()
    second.settle()
    assert journal.flush(20)
    for _ in range(3):
        tick(second, journal)

    assert second.inspect("acct", lambda s: list(s.orders)) == []
    held = second.inspect(
        "acct", lambda s: s.position_for(reliance.instrument_id, Product.MIS).quantity
    )
    assert held == 7
    assert journal.flush(20)
    assert leg_rows(database) == [
        ("EXECUTED", 3, 3, "ice", 1, 3, 3, 7),
        ("EXECUTED", 3, 3, "ice", 2, 3, 3, 7),
        ("EXECUTED", 1, 1, "ice", 3, 3, 3, 7),
    ]
    assert recovered(database, "acct")[2]
