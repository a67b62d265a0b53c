"""The ``[journal]`` bounds: loaded from the defaults; the renamed ``backlog_max`` and a bound
that is not positive are refused at load."""

from __future__ import annotations

import pytest

from engine.config import load_config


def test_journal_config_when_defaults_then_bounds_loaded() -> None:
    journal = load_config().journal
    assert (journal.inbox_max, journal.mirrors_max, journal.mirror_idle_ms) == (
        100_000,
        10_000,
        600_000,
    )


def test_journal_config_when_old_backlog_max_or_zero_bound_then_refused() -> None:
    with pytest.raises(ValueError, match=r"journal\.backlog_max is now journal\.inbox_max"):
        load_config(journal={"backlog_max": 5})
    with pytest.raises(ValueError, match="must be positive"):
        load_config(journal={"mirrors_max": 0})
