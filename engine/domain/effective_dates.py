"""Rules that change over time, kept as entries each in force from its ``effective_from`` date
(docs/DOMAIN.md: every rate, limit and market parameter is keyed by effective date)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, TypeVar


class Dated(Protocol):
    @property
    def effective_from(self) -> date: ...


EntryT = TypeVar("EntryT", bound=Dated)


def in_force(entries: Sequence[EntryT], day: date) -> EntryT:
    """The entry in force on ``day``: the last of ``entries`` (oldest first) effective by then,
    or the first when ``day`` is before them all."""
    chosen = entries[0]
    for entry in entries:
        if entry.effective_from <= day:
            chosen = entry
    return chosen
