"""The engine the actor tests drive: exact prices, the pooled runtime, the in-memory sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.domain.instruments import InstrumentMaster
from tests.support.engine_driver import EngineDriver, started_driver


@pytest.fixture
def driver(master: InstrumentMaster) -> Iterator[EngineDriver]:
    driven = started_driver(master)
    yield driven
    driven.engine.stop()
