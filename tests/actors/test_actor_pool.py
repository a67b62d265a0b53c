"""Prove the pooled actor runtime keeps pykka's actor contract while sharing a few threads.

Per actor: messages from one producer are handled in the order sent, one at a time even when the
actor hops between workers, and none is stranded by the schedule/unschedule race. Lifecycle:
`on_start` runs on a worker before the first message, `stop` handles what was sent before it
and answers later asks with `ActorDeadError`, a failing `tell` (or a `BaseException`) stops only
that actor and never a worker. Scale: 10,000 actors run on 2 threads. Portability: one behaviour
class gives identical results on the pooled and the threaded runtime via `actor_class_for`.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope

from engine.actors.actor_pool import PooledActor, WorkerPool, actor_class_for, bind_pool

pytestmark = pytest.mark.timeout(60)

TIMEOUT_S = 10.0

MakePool = Callable[..., WorkerPool]


@pytest.fixture
def make_pool() -> Iterator[MakePool]:
    """Build started pools; stop every actor, then every pool, after the test."""
    pools: list[WorkerPool] = []

    def make(workers: int = 2, batch_max: int = 8, name: str = "test-pool") -> WorkerPool:
        pool = WorkerPool(workers, batch_max, name)
        pool.start()
        pools.append(pool)
        return pool

    yield make
    for future in pykka.ActorRegistry.stop_all(block=False):
        future.get(timeout=TIMEOUT_S)
    for pool in pools:
        pool.stop(timeout_s=TIMEOUT_S)


def wait_until(predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return predicate()


class SequenceChecker:
    """Record, per producer, whether sequence numbers arrive in the order sent."""

    def __init__(self) -> None:
        super().__init__()
        self.last_by_producer: dict[int, int] = {}
        self.handled = 0
        self.out_of_order: list[tuple[int, int, int]] = []

    def on_receive(self, message: Any) -> Any:
        if message == "report":
            return self.handled, self.out_of_order
        producer, seq = message
        last = self.last_by_producer.get(producer, -1)
        if seq != last + 1:
            self.out_of_order.append((producer, last, seq))
        self.last_by_producer[producer] = seq
        self.handled += 1
        return None


def test_tell_when_many_producers_then_order_per_actor_kept(make_pool: MakePool) -> None:
    pool = make_pool(workers=2, batch_max=3)  # small batches force many re-queues
    actor_class = actor_class_for(SequenceChecker, "pooled", pool)
    refs = [actor_class.start() for _ in range(2_000)]
    producers, per_actor = 4, 5

    def produce(producer: int) -> None:
        for seq in range(per_actor):
            for ref in refs:
                ref.tell((producer, seq))

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)

    futures = [ref.ask("report", block=False) for ref in refs]
    reports = [future.get(timeout=TIMEOUT_S) for future in futures]
    assert all(handled == producers * per_actor for handled, _ in reports)
    assert [violations for _, violations in reports if violations] == []


class OverlapDetector:
    """Count handler entries that found another handler of this actor still running."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = threading.Lock()
        self.overlaps = 0
        self.count = 0
        self.thread_names: set[str] = set()

    def on_receive(self, message: Any) -> Any:
        if message == "report":
            return self.count, self.overlaps, self.thread_names
        if not self.busy.acquire(False):
            self.overlaps += 1
            return None
        try:
            self.thread_names.add(threading.current_thread().name)
            count = self.count
            time.sleep(0)  # drop the GIL mid-update to invite any concurrent turn to interleave
            self.count = count + 1
        finally:
            self.busy.release()
        return None


def test_handle_when_many_workers_then_one_message_at_a_time(make_pool: MakePool) -> None:
    pool = make_pool(workers=4, batch_max=1)  # every message is a new turn, on any worker
    actor_class = actor_class_for(OverlapDetector, "pooled", pool)
    refs = [actor_class.start() for _ in range(8)]
    producers, per_actor = 4, 300

    def produce() -> None:
        for _ in range(per_actor):
            for ref in refs:
                ref.tell("work")

    threads = [threading.Thread(target=produce) for _ in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)

    reports: list[tuple[int, int, set[str]]] = [
        ref.ask("report", block=True, timeout=TIMEOUT_S) for ref in refs
    ]
    assert [overlaps for _, overlaps, _ in reports] == [0] * len(refs)
    assert [count for count, _, _ in reports] == [producers * per_actor] * len(refs)
    # The guarantee is only meaningful if actors really moved between workers.
    assert any(len(names) > 1 for _, _, names in reports)


class Tally:
    """Count messages into a shared list slot, so a test can watch progress without asking."""

    def __init__(self, slot: int, counts: list[int]) -> None:
        super().__init__()
        self.slot = slot
        self.counts = counts

    def on_receive(self, message: Any) -> Any:
        self.counts[self.slot] += 1
        return None


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond so races in short windows actually happen."""
    interval_s = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval_s)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_put_when_worker_unschedules_concurrently_then_no_message_stranded(
    make_pool: MakePool,
) -> None:
    pool = make_pool(workers=2, batch_max=1)
    actor_class = actor_class_for(Tally, "pooled", pool)
    actors, producers, per_producer = 20, 4, 5_000
    counts = [0] * actors
    refs = [actor_class.start(slot, counts) for slot in range(actors)]

    def produce(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(per_producer):
            refs[rng.randrange(actors)].tell("tick")
            if rng.random() < 0.2:
                time.sleep(0)  # let workers drain and go idle, so puts race the unschedule

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)

    # No further message is sent: a stranded envelope would never be handled.
    total = producers * per_producer
    assert wait_until(lambda: sum(counts) == total), f"{total - sum(counts)} messages stranded"
    assert wait_until(lambda: pool.messages_total == total)


class RaceAtRelease:
    """Stand in for an inbox's scheduling token; a producer puts just before its release.

    That is the classic window: the worker has found the inbox empty but still holds the
    token, so the producer's put cannot schedule the actor.
    """

    def __init__(self, token: Any, put: Callable[[], None]) -> None:
        self.token = token
        self.put = put
        self.raced = False

    def acquire(self, blocking: bool = True) -> bool:
        return bool(self.token.acquire(blocking))

    def release(self) -> None:
        if not self.raced:
            self.raced = True
            self.put()
        self.token.release()


def test_put_when_it_lands_between_empty_check_and_unschedule_then_handled(
    make_pool: MakePool,
) -> None:
    pool = make_pool(workers=1)
    counts = [0]
    ref = actor_class_for(Tally, "pooled", pool).start(0, counts)
    ref.ask("settle", timeout=TIMEOUT_S)
    inbox: Any = ref.actor_inbox
    assert wait_until(lambda: not inbox._token.locked())  # idle: the worker let go of it
    inbox._token = RaceAtRelease(inbox._token, lambda: ref.tell("raced"))

    ref.tell("first")

    assert wait_until(lambda: counts[0] == 3), "the raced message was stranded"
    assert inbox._token.raced


def test_put_when_actor_died_after_liveness_check_then_future_gets_dead_error(
    make_pool: MakePool,
) -> None:
    pool = make_pool()
    ref = actor_class_for(Calculator, "pooled", pool).start()
    assert ref.stop(timeout=TIMEOUT_S) is True
    inbox = ref.actor_inbox
    assert wait_until(inbox.empty)
    future = pykka.ThreadingFuture[Any]()

    # What a caller that passed ActorRef's is_alive() check just before the stop ends up doing.
    inbox.put(Envelope(1, reply_to=future))

    with pytest.raises(pykka.ActorDeadError):
        future.get(timeout=TIMEOUT_S)


class Probe(pykka.Actor):
    """Report where and in which order lifecycle hooks and messages ran.

    It subclasses the abstract `pykka.Actor` (not a runtime) so that `self.actor_ref` is typed.
    """

    def __init__(self, events: list[str] | None = None) -> None:
        super().__init__()
        self.events = [] if events is None else events
        self.start_thread = ""
        self.actor_ref.tell("sent-before-start")

    def on_start(self) -> None:
        self.start_thread = threading.current_thread().name
        self.events.append("on_start")

    def on_stop(self) -> None:
        self.events.append("on_stop")

    def on_receive(self, message: Any) -> Any:
        if message == "report":
            return list(self.events), self.start_thread
        self.events.append(str(message))
        return None


def test_start_when_messages_sent_early_then_on_start_runs_first_on_worker(
    make_pool: MakePool,
) -> None:
    pool = make_pool(name="probe-pool")
    ref = actor_class_for(Probe, "pooled", pool).start()

    report: tuple[list[str], str] = ref.ask("report", block=True, timeout=TIMEOUT_S)
    events, start_thread = report

    assert events == ["on_start", "sent-before-start"]
    assert start_thread.startswith("probe-pool-")


class NoisyCounter:
    """Answer asks with a running count."""

    def __init__(self) -> None:
        super().__init__()
        self.started = False
        self.count = 0

    def on_start(self) -> None:
        self.started = True

    def on_receive(self, message: Any) -> Any:
        self.count += 1
        return self.started, self.count


def test_start_when_10000_actors_then_threads_stay_at_pool_size(make_pool: MakePool) -> None:
    threads_before = threading.active_count()
    pool = make_pool(workers=2, batch_max=64)
    actor_class = actor_class_for(NoisyCounter, "pooled", pool)

    refs = [actor_class.start() for _ in range(10_000)]
    futures = [ref.ask("ping", block=False) for ref in refs]
    answers = [future.get(timeout=TIMEOUT_S) for future in futures]

    assert answers == [(True, 1)] * 10_000
    assert threading.active_count() <= threads_before + pool.workers
    assert len(pool.threads) == 2


class Calculator:
    """Divide through a proxy, so errors travel back to the asking caller."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def divide(self, numerator: int, denominator: int) -> int:
        self.calls += 1
        return numerator // denominator

    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            msg = "bad ask"
            raise ValueError(msg)
        return message * 2


def test_ask_when_handler_returns_or_raises_then_caller_gets_it_and_actor_lives(
    make_pool: MakePool,
) -> None:
    pool = make_pool()
    ref = actor_class_for(Calculator, "pooled", pool).start()
    proxy = ref.proxy()

    assert ref.ask(21, timeout=TIMEOUT_S) == 42
    with pytest.raises(ValueError, match="bad ask"):
        ref.ask("boom", timeout=TIMEOUT_S)
    assert proxy.divide(7, 2).get(timeout=TIMEOUT_S) == 3
    with pytest.raises(ZeroDivisionError):
        proxy.divide(1, 0).get(timeout=TIMEOUT_S)

    assert ref.is_alive()
    assert proxy.calls.get(timeout=TIMEOUT_S) == 2


class Fragile:
    """Fail on 'explode' (an Exception) or 'exit' (a BaseException); record the hooks called."""

    def __init__(self, hooks: list[str]) -> None:
        super().__init__()
        self.hooks = hooks

    def on_failure(self, *_exc_info: Any) -> None:
        self.hooks.append("on_failure")

    def on_stop(self) -> None:
        self.hooks.append("on_stop")

    def on_receive(self, message: Any) -> Any:
        if message == "explode":
            msg = "handler bug"
            raise RuntimeError(msg)
        if message == "exit":
            raise SystemExit(3)
        return "alive"


def test_tell_when_handler_raises_then_only_that_actor_stops(
    make_pool: MakePool, caplog: pytest.LogCaptureFixture
) -> None:
    pool = make_pool(workers=1)  # a dead worker would leave nothing to run the others
    actor_class = actor_class_for(Fragile, "pooled", pool)
    hooks: list[str] = []
    victim = actor_class.start(hooks)
    others = [actor_class.start([]) for _ in range(5)]

    victim.tell("explode")

    assert wait_until(lambda: not victim.is_alive())
    assert hooks == ["on_failure"]  # pykka: on_failure, not on_stop
    assert "handler bug" in caplog.text
    with pytest.raises(pykka.ActorDeadError):
        victim.ask("hello", timeout=TIMEOUT_S)
    assert victim not in pykka.ActorRegistry.get_all()
    assert [ref.ask("hello", timeout=TIMEOUT_S) for ref in others] == ["alive"] * 5
    assert all(thread.is_alive() for thread in pool.threads)


def test_handler_when_base_exception_then_actor_stops_and_worker_survives(
    make_pool: MakePool,
) -> None:
    pool = make_pool(workers=1)
    actor_class = actor_class_for(Fragile, "pooled", pool)
    told_hooks: list[str] = []
    told = actor_class.start(told_hooks)
    asked = actor_class.start([])
    bystander = actor_class.start([])

    told.tell("exit")
    with pytest.raises(pykka.ActorDeadError) as raised:
        asked.ask("exit", timeout=TIMEOUT_S)

    assert isinstance(raised.value.__cause__, SystemExit)
    assert wait_until(lambda: not told.is_alive())
    assert told_hooks == ["on_stop"]
    assert not asked.is_alive()
    assert bystander.ask("hello", timeout=TIMEOUT_S) == "alive"
    assert all(thread.is_alive() for thread in pool.threads)


class Gated:
    """Block on a gate when told 'hold', so a test can queue messages behind it."""

    def __init__(self, entered: threading.Event, gate: threading.Event, log: list[str]) -> None:
        super().__init__()
        self.entered = entered
        self.gate = gate
        self.log = log

    def on_stop(self) -> None:
        self.log.append("on_stop")

    def on_receive(self, message: Any) -> Any:
        if message == "hold":
            self.entered.set()
            self.gate.wait(TIMEOUT_S)
        self.log.append(str(message))
        return message


def test_stop_when_messages_queued_then_earlier_handled_and_later_dead(
    make_pool: MakePool,
) -> None:
    pool = make_pool()
    entered, gate = threading.Event(), threading.Event()
    log: list[str] = []
    ref = actor_class_for(Gated, "pooled", pool).start(entered, gate, log)

    ref.tell("hold")
    assert entered.wait(TIMEOUT_S)
    ref.tell("before-1")
    before = ref.ask("before-2", block=False)
    stopped = ref.stop(block=False)
    after_ask = ref.ask("after", block=False)
    second_stop = ref.stop(block=False)
    gate.set()

    assert stopped.get(timeout=TIMEOUT_S) is True
    assert before.get(timeout=TIMEOUT_S) == "before-2"
    with pytest.raises(pykka.ActorDeadError):
        after_ask.get(timeout=TIMEOUT_S)
    assert second_stop.get(timeout=TIMEOUT_S) is True  # pykka: queued stops report True
    assert log == ["hold", "before-1", "before-2", "on_stop"]
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("late", timeout=TIMEOUT_S)
    assert ref.stop(timeout=TIMEOUT_S) is False


def test_ask_when_racing_actor_stop_then_every_future_answered(make_pool: MakePool) -> None:
    pool = make_pool(workers=2, batch_max=1)
    actor_class = actor_class_for(Calculator, "pooled", pool)
    refs = [actor_class.start() for _ in range(50)]
    futures: list[pykka.Future[Any]] = []

    def ask_all() -> None:
        for _ in range(20):
            futures.extend(ref.ask(1, block=False) for ref in refs)

    asker = threading.Thread(target=ask_all)
    asker.start()
    for ref in refs:
        ref.stop(block=False)
    asker.join(TIMEOUT_S)

    outcomes: set[Any] = set()
    for future in futures:
        try:
            outcomes.add(future.get(timeout=TIMEOUT_S))
        except pykka.ActorDeadError:
            outcomes.add("dead")
    assert outcomes <= {2, "dead"}


class FailsToStart:
    def on_start(self) -> None:
        msg = "no config"
        raise RuntimeError(msg)


def test_start_when_on_start_raises_then_actor_stops_and_asks_dead(make_pool: MakePool) -> None:
    pool = make_pool(workers=1)
    ref = actor_class_for(FailsToStart, "pooled", pool).start()
    early = ref.ask("hello", block=False)

    with pytest.raises(pykka.ActorDeadError):
        early.get(timeout=TIMEOUT_S)
    assert not ref.is_alive()
    assert actor_class_for(Calculator, "pooled", pool).start().ask(1, timeout=TIMEOUT_S) == 2


def test_pool_stop_when_called_twice_then_threads_joined() -> None:
    pool = WorkerPool(3, 8, name="lifecycle")
    pool.start()
    pool.start()
    threads = pool.threads
    assert len(threads) == 3
    assert all(thread.is_alive() and thread.daemon for thread in threads)

    pool.stop(timeout_s=TIMEOUT_S)
    pool.stop(timeout_s=TIMEOUT_S)

    assert not pool.running
    assert not any(thread.is_alive() for thread in threads)
    with pytest.raises(RuntimeError, match="not running"):
        actor_class_for(Calculator, "pooled", pool).start()


class Ledger:
    """A tiny domain-like behaviour, used unchanged on both runtimes."""

    def __init__(self, opening_paise: int) -> None:
        super().__init__()
        self.balance_paise = opening_paise
        self.history: list[tuple[str, int]] = []

    def credit(self, amount_paise: int) -> int:
        self.balance_paise += amount_paise
        self.history.append(("credit", amount_paise))
        return self.balance_paise

    def debit(self, amount_paise: int) -> int:
        if amount_paise > self.balance_paise:
            msg = "insufficient funds"
            raise ValueError(msg)
        self.balance_paise -= amount_paise
        self.history.append(("debit", amount_paise))
        return self.balance_paise

    def on_receive(self, message: Any) -> Any:
        return ("echo", message)


def run_ledger_script(actor_class: type[pykka.Actor]) -> list[Any]:
    ref = actor_class.start(1_000)
    proxy = ref.proxy()
    results: list[Any] = []
    for amount in range(1, 51):
        proxy.credit(amount)  # not awaited: order alone must make the balance right
    results.append(proxy.balance_paise.get(timeout=TIMEOUT_S))
    results.append(proxy.debit(300).get(timeout=TIMEOUT_S))
    try:
        proxy.debit(10**9).get(timeout=TIMEOUT_S)
    except ValueError as error:
        results.append(("rejected", str(error)))
    results.append(ref.ask("hi", timeout=TIMEOUT_S))
    results.append(proxy.history.get(timeout=TIMEOUT_S)[-2:])
    results.append(ref.stop(timeout=TIMEOUT_S))
    results.append(ref.is_alive())
    return results


def test_actor_class_for_when_same_behaviour_then_both_runtimes_agree(
    make_pool: MakePool,
) -> None:
    pool = make_pool()
    pooled = actor_class_for(Ledger, "pooled", pool)
    threaded = actor_class_for(Ledger, "threaded", None)

    assert actor_class_for(Ledger, "pooled", pool) is pooled
    assert actor_class_for(Ledger, "threaded", None) is threaded
    assert issubclass(pooled, Ledger) and issubclass(pooled, PooledActor)
    assert issubclass(threaded, Ledger) and issubclass(threaded, pykka.ThreadingActor)
    assert pooled.__name__ == threaded.__name__ == "Ledger"

    pooled_results = run_ledger_script(pooled)
    threaded_results = run_ledger_script(threaded)

    assert pooled_results == threaded_results
    assert pooled_results == [
        1_000 + 1_275,
        1_975,
        ("rejected", "insufficient funds"),
        ("echo", "hi"),
        [("credit", 50), ("debit", 300)],
        True,
        False,
    ]


def test_actor_class_for_when_misused_then_rejected(make_pool: MakePool) -> None:
    pool = make_pool()
    with pytest.raises(ValueError, match="unknown actor runtime"):
        actor_class_for(Ledger, "greenlet", pool)
    with pytest.raises(ValueError, match="needs a WorkerPool"):
        actor_class_for(Ledger, "pooled", None)
    with pytest.raises(TypeError, match="already picks a runtime"):
        actor_class_for(pykka.ThreadingActor, "pooled", pool)


class Echo(PooledActor):
    def on_receive(self, message: Any) -> Any:
        return message


def test_bind_pool_when_pooled_actor_subclass_then_runs_on_that_pool(
    make_pool: MakePool,
) -> None:
    first, second = make_pool(name="first"), make_pool(name="second")
    on_first = bind_pool(Echo, first)

    assert bind_pool(Echo, first) is on_first
    assert bind_pool(Echo, second) is not on_first
    assert on_first.start().ask("x", timeout=TIMEOUT_S) == "x"
    with pytest.raises(TypeError, match="has no pool"):
        Echo.start()
    assert first.messages_total >= 1
    assert second.messages_total == 0


def test_counters_when_messages_handled_then_totals_add_up(make_pool: MakePool) -> None:
    pool = make_pool(workers=2, batch_max=4)
    counts = [0]
    ref = actor_class_for(Tally, "pooled", pool).start(0, counts)
    for _ in range(99):
        ref.tell("tick")
    ref.ask("last", timeout=TIMEOUT_S)

    assert counts == [100]
    assert wait_until(lambda: pool.messages_total == 100)
    # A turn handles at most batch_max messages (the first also runs on_start): >= 100 / 4.
    assert 25 <= pool.scheduled_total <= 1 + 100
