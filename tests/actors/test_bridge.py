"""The asyncio bridge over a real engine: answers, timeouts, and replies that come too late."""

from __future__ import annotations

import asyncio
import threading

import pytest

from engine.domain.instruments import InstrumentMaster
from gateway.bridge import EngineBridge, EngineTimeoutError
from tests.actors.test_engine_actors import make_harness
from tests.support.engine_driver import exact_config

ACCOUNT = "acct-bridge"


def test_inspect_when_actor_answers_then_value_awaited(master: InstrumentMaster) -> None:
    harness = make_harness(master, "pooled", exact_config())
    try:
        harness.open_account(ACCOUNT, 1_000_000)
        bridge = EngineBridge(harness.engine, timeout_s=5.0)
        balance = asyncio.run(bridge.inspect(ACCOUNT, lambda state: state.balance_paise))
        assert balance == 1_000_000
    finally:
        harness.engine.stop()


def test_inspect_when_actor_slower_than_timeout_then_timeout_and_late_reply_dropped(
    master: InstrumentMaster,
) -> None:
    harness = make_harness(master, "pooled", exact_config())
    release = threading.Event()
    try:
        harness.open_account(ACCOUNT, 1_000_000)
        bridge = EngineBridge(harness.engine, timeout_s=0.05)

        async def scenario() -> int:
            with pytest.raises(EngineTimeoutError, match=r"no answer within 0\.05 s"):
                await bridge.inspect(ACCOUNT, lambda state: release.wait(5))
            release.set()  # the actor now answers the ask that already timed out
            # The late reply lands on a finished future and is dropped; the account still
            # answers the next ask, in order, after the slow one.
            return await bridge.inspect(ACCOUNT, lambda state: state.balance_paise)

        loop = asyncio.new_event_loop()
        errors: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _, context: errors.append(context))
        try:
            assert loop.run_until_complete(scenario()) == 1_000_000
            loop.run_until_complete(asyncio.sleep(0.05))  # let any late callback run
        finally:
            loop.close()
        assert errors == []
    finally:
        release.set()
        harness.engine.stop()
