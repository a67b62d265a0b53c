"""An account whose batch cannot be journaled stops taking writes instead of drifting.

A real ``TradingEngine`` with the persistence actor as its sink, against a real PostgreSQL.
A command that reaches the engine without the gateway's validation carries a NUL byte, which
PostgreSQL text cannot hold: the account actor applies it, the journal refuses it for good.
The reply says unavailable, the account is quarantined (every later write answered
unavailable and nothing applied), the journal holds exactly the account's durable history,
and other accounts keep trading.
"""

from __future__ import annotations

import pytest

from engine.domain import commands as cmd
from engine.domain.instruments import Instrument, InstrumentMaster
from persistence.journal import PersistenceActor
from tests.integration.conftest import fetch
from tests.support.engine_driver import EngineDriver, order_request

pytestmark = pytest.mark.timeout(60)


def _limit_buy(
    instrument: Instrument, order_id: str, client_order_id: str | None
) -> cmd.PlaceOrderRequest:
    price = instrument.reference_price_paise * 9 // 10
    return order_request(
        instrument,
        order_id,
        price_paise=price - price % instrument.tick_paise,
        client_order_id=client_order_id,
    )


def test_batch_when_journal_refuses_it_then_account_quarantined_and_others_trade(
    driven: tuple[EngineDriver, PersistenceActor], master: InstrumentMaster, database: str
) -> None:
    driver, actor = driven
    reliance = master.get("NSE:RELIANCE")
    assert reliance is not None
    driver.set_price(reliance, reliance.reference_price_paise, advance_ms=1_000)
    driver.open_account("acct-bad", 1_000_000_00)
    driver.open_account("acct-good", 1_000_000_00)

    refused = driver.ask("acct-bad", _limit_buy(reliance, "o-nul", "retry\x00-1"))
    assert refused.unavailable
    assert actor.quarantined("acct-bad") and not actor.quarantined("acct-good")
    assert actor.quarantined_accounts == ["acct-bad"]

    orders_before = driver.inspect("acct-bad", lambda state: sorted(state.orders))
    later = driver.ask("acct-bad", _limit_buy(reliance, "o-later", None))
    assert later.unavailable and later.events == ()
    assert driver.inspect("acct-bad", lambda state: sorted(state.orders)) == orders_before

    placed = driver.ask("acct-good", _limit_buy(reliance, "o-good", "retry-1"))
    assert placed.rejection is None and not placed.unavailable
    assert actor.flush(timeout_s=10)

    journaled = fetch(
        database,
        "SELECT account_id, type FROM events ORDER BY account_id, account_seq",
    )
    assert [(r["account_id"], r["type"]) for r in journaled] == [
        ("acct-bad", "FundsCredited"),
        ("acct-good", "FundsCredited"),
        ("acct-good", "OrderAccepted"),
    ]
    assert actor.stats.accounts_quarantined == 1
    assert actor.stats.batches_failed == 1
