"""An account whose state breaks the funds identity when a batch is applied is quarantined by
its actor: the batch is not journaled, the request answers unavailable, and the account's later
writes are refused until a restart recovers it from the journal; other accounts trade on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.actors.sink import InMemorySink
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.enums import FundKind
from engine.domain.instruments import InstrumentMaster
from tests.support.engine_driver import EngineDriver, started_driver


@pytest.fixture
def harness(master: InstrumentMaster) -> Iterator[tuple[EngineDriver, InMemorySink]]:
    sink = InMemorySink()
    driver = started_driver(master, sink)
    yield driver, sink
    driver.engine.stop()


def credit(amount_paise: int) -> cmd.CreditFundsRequest:
    return cmd.CreditFundsRequest(amount_paise, FundKind.DEPOSIT, reference="t")


def test_batch_when_applying_breaks_funds_identity_then_not_journaled_and_account_quarantined(
    harness: tuple[EngineDriver, InMemorySink],
) -> None:
    driver, sink = harness
    # Blocked ₹1 more than its parts: no journal replay could give this state.
    driver.engine.restore_account(AccountState("broken", blocked_paise=100))
    driver.open_account("sound", 0)

    outcome = driver.ask("broken", credit(1_000_00))

    assert outcome.unavailable and outcome.events == ()
    assert sink.quarantined("broken") and not sink.quarantined("sound")
    assert sink.events_for("broken") == []  # nothing of it was handed over
    assert driver.ask("broken", credit(1_00)).unavailable  # refused from now on
    assert driver.ask("sound", credit(1_000_00)).rejection is None
    assert len(sink.events_for("sound")) == 1
