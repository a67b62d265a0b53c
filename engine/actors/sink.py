"""The seam between account actors and durability.

Every accepted event batch is handed to an :class:`EventSink` together with a callback the
sink calls once the batch is durable (or has failed). The in-memory sink here acknowledges at
once; the Postgres persistence actor implements the same protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import msgspec

from engine.domain.events import AccountEvent


class EventBatch(msgspec.Struct, frozen=True, gc=False):
    """Events one command produced for one account; ``first_seq`` numbers the first."""

    account_id: str
    first_seq: int
    events: tuple[AccountEvent, ...]


OnDurable = Callable[[bool], None]


class EventSink(Protocol):
    def accepting(self) -> bool:
        """False while writes cannot be made durable: callers refuse new writes then."""
        ...

    def quarantined(self, account_id: str) -> bool:
        """True once a batch of this account failed to become durable for good: its state in
        memory is ahead of the journal, so callers refuse its new writes until a restart
        recovers it from the journal."""
        ...

    def quarantine(self, account_id: str) -> None:
        """Quarantine an account whose actor cannot hand over what it applied (an invariant
        broke while applying): ``quarantined`` is True for it from now on."""
        ...

    def submit(self, batch: EventBatch, on_durable: OnDurable) -> None:
        """Take a batch; call ``on_durable(True)`` once it is safe, ``False`` if it failed."""
        ...


class InMemorySink:
    """Keeps every batch in a list and acknowledges immediately (tests and benchmarks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches: list[EventBatch] = []
        self._quarantined: set[str] = set()

    def accepting(self) -> bool:
        return True

    def quarantined(self, account_id: str) -> bool:
        return account_id in self._quarantined

    def quarantine(self, account_id: str) -> None:
        self._quarantined.add(account_id)

    def submit(self, batch: EventBatch, on_durable: OnDurable) -> None:
        with self._lock:
            self.batches.append(batch)
        on_durable(True)

    def events_for(self, account_id: str) -> list[AccountEvent]:
        with self._lock:
            return [e for b in self.batches if b.account_id == account_id for e in b.events]
