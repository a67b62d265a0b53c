"""Prove the worker pool's ready queue is bounded by its actors, not by their messages.

With the pool's only worker held inside one actor's turn, hundreds of messages told to each of
a few other actors leave each of them on the ready queue once (only the holder of an actor's
scheduling token queues it), and every message is still handled once the worker is free.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from engine.actors.actor_pool import WorkerPool, actor_class_for

pytestmark = pytest.mark.timeout(60)

TIMEOUT_S = 10.0


class Gate:
    """Hold the worker on "hold" until ``release`` is set; count everything else."""

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        super().__init__()
        self.entered = entered
        self.release = release
        self.handled = 0

    def on_receive(self, message: Any) -> Any:
        if message == "hold":
            self.entered.set()
            self.release.wait(TIMEOUT_S)
        elif message == "count":
            return self.handled
        else:
            self.handled += 1
        return None


def test_ready_queue_when_actors_flooded_behind_busy_worker_then_each_queued_once() -> None:
    pool = WorkerPool(workers=1, batch_max=8, name="ready-bound")
    pool.start()
    entered, release = threading.Event(), threading.Event()
    try:
        actor_class = actor_class_for(Gate, "pooled", pool)
        holder = actor_class.start(entered, release)
        others = [actor_class.start(threading.Event(), release) for _ in range(5)]
        for ref in others:  # started and idle: none is on the ready queue
            assert ref.ask("count", timeout=TIMEOUT_S) == 0
        holder.tell("hold")
        assert entered.wait(TIMEOUT_S)

        for _ in range(200):
            for ref in others:
                ref.tell("tick")
        queued = pool._ready.qsize()

        release.set()
        counts = [ref.ask("count", timeout=TIMEOUT_S) for ref in others]
    finally:
        release.set()
        for future in pykka.ActorRegistry.stop_all(block=False):
            future.get(timeout=TIMEOUT_S)
        pool.stop(timeout_s=TIMEOUT_S)

    assert queued == len(others)  # 1,000 messages, one entry per actor
    assert counts == [200] * len(others)
