"""The journal's bounds as Prometheus exposes them: mirrors held, mirrors replayed and dropped,
a full inbox (as a count of episodes and as a 0/1 gauge) and invariant violations."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from engine.config import Config
from gateway.observability.metrics import JournalCollector
from persistence.journal import PersistenceActor


def test_journal_collector_when_scraped_then_bounds_exposed(config: Config) -> None:
    journal = PersistenceActor("postgresql://unused", config.journal)  # never started
    journal.stats.mirrors_evicted = 3
    journal.stats.mirrors_replayed = 5
    journal.stats.inbox_full_episodes = 1
    journal.stats.invariant_violations = 2
    hub: Any = SimpleNamespace(clients=(), dropped_total=0)

    values = {
        sample.name: sample.value
        for family in JournalCollector(journal, hub).collect()
        for sample in family.samples
    }

    assert values["paperdesk_journal_mirrors"] == 0
    assert values["paperdesk_journal_mirrors_evicted_total"] == 3
    assert values["paperdesk_journal_mirrors_replayed_total"] == 5
    assert values["paperdesk_journal_inbox_full_episodes_total"] == 1
    assert values["paperdesk_journal_inbox_refusing"] == 0
    assert values["paperdesk_journal_invariant_violations_total"] == 2
