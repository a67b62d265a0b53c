"""The collector settings of ``[runtime]``: loaded, validated, and applied to this process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace

import pytest

from engine.actors.gc_tuning import apply_gc_thresholds, freeze_after_start
from engine.config import load_config


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_config_when_defaults_then_runtime_thresholds_and_freeze() -> None:
    runtime = load_config().runtime
    assert runtime.gc_thresholds == (50_000, 20, 100)
    assert runtime.gc_freeze_after_start is True


@pytest.mark.parametrize("thresholds", [[50_000, 20], [0, 20, 100], [50_000, 0, 100]])
def test_config_when_thresholds_malformed_then_error_names_key(thresholds: list[int]) -> None:
    with pytest.raises(ValueError, match=r"runtime\.gc_thresholds"):
        load_config(runtime={"gc_thresholds": thresholds})


def test_apply_when_called_then_process_thresholds_set(restore_gc: None) -> None:
    apply_gc_thresholds(load_config(runtime={"gc_thresholds": [12_345, 7, 9]}).runtime)
    assert gc.get_threshold() == (12_345, 7, 9)


def test_freeze_when_enabled_then_live_objects_leave_collections(restore_gc: None) -> None:
    runtime = load_config().runtime
    freeze_after_start(replace(runtime, gc_freeze_after_start=False))
    assert gc.get_freeze_count() == 0
    kept = [{"order": n} for n in range(1_000)]
    freeze_after_start(runtime)
    assert gc.get_freeze_count() >= len(kept)
