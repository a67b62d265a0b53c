"""Run many pykka actors M:N on a small pool of worker threads, like an Akka dispatcher.

A `ThreadingActor` owns one OS thread for its whole life, which collapses at thousands of
trading-account actors. A `PooledActor` keeps pykka's contract (its own `ActorRef`, an ordered
inbox, one message handled at a time, `on_start` / `on_stop` / `on_failure`) but only borrows a
worker thread while it has messages:

- `put` appends the envelope to the actor's inbox and schedules the actor on the pool's ready
  queue unless it is already scheduled or running;
- a worker takes one ready actor, handles up to `batch_max` envelopes one at a time with pykka's
  own `_handle_receive`, then re-queues the actor if more are waiting (fairness) or releases it.

Scheduling invariant: each inbox owns a `threading.Lock` used as a token, held by whoever has
scheduled or is running the actor. `put` appends, then tries to take the token without blocking
and submits the actor only if it got it. A worker that finds the inbox empty releases the token
and then looks at the inbox once more, re-taking the token if a message arrived meanwhile. Every
append is therefore followed by a successful take, by either its producer or the worker, so no
message is stranded; and since the token is a mutex, an actor is never run by two workers at
once. The lock also orders each run's memory effects before the next run's, on any worker.
The scheme relies only on `deque.append` / `popleft` being atomic and on that lock.

Bounded ready queue. Only the token's holder puts an actor on the ready queue (`put` and
`_yield` after taking it, `start` holding it from birth), and the holder has either queued the
actor once or is running it, never both; a dead actor keeps its token and is never queued
again. So an actor is on the ready queue at most once, and the queue holds at most as many
entries as the pool has live actors (plus one stop sentinel per worker): bounded by the
actors, it needs no limit of its own. What grows with load is each actor's inbox, which
callers bound (the account registry's `accounts.inbox_max`).

Do not block a pooled actor on an `ask` to another pooled actor (nor on `Future.get`): each
blocked handler holds a worker, and a small pool deadlocks once every worker waits. Use `tell`
and send the answer back as another `tell` (pass your own `actor_ref` in the message); pykka
futures have no completion callbacks. Callers outside the pool (gateway threads, tests) may
block on futures as usual, since futures are `pykka.ThreadingFuture`.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, cast

import pykka
from pykka.messages import _ActorStop

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykka._actor import ActorInbox
    from pykka._envelope import Envelope

__all__ = [
    "RUNTIMES",
    "PooledActor",
    "PooledInbox",
    "WorkerPool",
    "actor_class_for",
    "bind_pool",
]

logger = logging.getLogger(__name__)

RUNTIMES: Final = ("pooled", "threaded")

A = TypeVar("A", bound=pykka.Actor)
P = TypeVar("P", bound="PooledActor")


class WorkerPool:
    """Run the ready actors of every `PooledActor` bound to this pool on `workers` threads."""

    def __init__(self, workers: int, batch_max: int, name: str = "actor-pool") -> None:
        """Create a stopped pool; `batch_max` bounds the messages one actor handles per turn."""
        if workers < 1:
            msg = f"workers must be >= 1, got {workers}"
            raise ValueError(msg)
        if batch_max < 1:
            msg = f"batch_max must be >= 1, got {batch_max}"
            raise ValueError(msg)
        self.workers: Final = workers
        self.batch_max: Final = batch_max
        self.name: Final = name
        # None is the sentinel that tells one worker to exit. Each actor is queued at most once
        # (see the module doc), so the queue is bounded by the actors on the pool.
        self._ready: queue.SimpleQueue[PooledInbox | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._running = False
        self._lifecycle = threading.Lock()
        # One slot per worker, written only by that worker, so counting needs no lock.
        self._runs_by_worker = [0] * workers
        self._messages_by_worker = [0] * workers
        self._classes: dict[tuple[type, ...], type[PooledActor]] = {}
        self._classes_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<WorkerPool {self.name!r} workers={self.workers} {state}>"

    @property
    def running(self) -> bool:
        """Tell whether the workers have been started and not stopped."""
        return self._running

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """Return the worker threads of the current (or last) run of the pool."""
        return tuple(self._threads)

    @property
    def scheduled_total(self) -> int:
        """Count actor turns taken by workers: each time an actor was scheduled and run."""
        return sum(self._runs_by_worker)

    @property
    def messages_total(self) -> int:
        """Count envelopes handled by the workers."""
        return sum(self._messages_by_worker)

    def start(self) -> None:
        """Start the worker threads; do nothing if they are running."""
        with self._lifecycle:
            if self._running:
                return
            self._threads = [
                threading.Thread(
                    target=self._work, args=(index,), name=f"{self.name}-{index}", daemon=True
                )
                for index in range(self.workers)
            ]
            self._running = True
            for thread in self._threads:
                thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the workers once they reach the end of the ready queue, and join them.

        Stop the pool's actors first (e.g. `pykka.ActorRegistry.stop_all()`): an actor
        scheduled after the workers exit is not run until the pool is started again.
        Do nothing if the pool is not running.
        """
        with self._lifecycle:
            if not self._running:
                return
            self._running = False
            threads = self._threads
            for _ in threads:
                self._ready.put(None)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        current = threading.current_thread()
        for thread in threads:
            if thread is current:
                continue  # stop() called from a handler: this worker exits after its turn
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)

    def _work(self, index: int) -> None:
        get_ready = self._ready.get
        batch_max = self.batch_max
        runs = self._runs_by_worker
        handled = self._messages_by_worker
        while True:
            inbox = get_ready()
            if inbox is None:
                return
            runs[index] += 1
            try:
                handled[index] += inbox.run(batch_max)
            except BaseException:
                # PooledInbox.run contains every actor error; this is the last line of defence
                # that keeps the worker (and every other actor on the pool) alive.
                logger.exception("error escaped an actor turn on %s", threading.current_thread())

    def _class_for(self, key: tuple[type, ...], build: Callable[[], type[PooledActor]]) -> type:
        with self._classes_lock:
            actor_class = self._classes.get(key)
            if actor_class is None:
                actor_class = self._classes[key] = build()
            return actor_class


class PooledInbox:
    """Hold one pooled actor's envelopes in order and schedule the actor on its pool.

    It implements pykka's inbox protocol (`put`, `get`, `empty`); `get` never blocks.
    """

    __slots__ = ("_actor", "_dead", "_messages", "_ref", "_started", "_submit", "_token")

    def __init__(self, actor: PooledActor, pool: WorkerPool) -> None:
        """Create the inbox of `actor`, held back until `start()` schedules `on_start`."""
        self._messages: deque[Envelope[Any]] = deque()
        self._token = threading.Lock()
        # Held from birth: envelopes put before start wait for on_start, as with ThreadingActor.
        self._token.acquire()
        self._submit = pool._ready.put
        self._actor: PooledActor | None = actor
        self._ref: pykka.ActorRef[Any] | None = None
        self._started = False
        self._dead = False

    def __len__(self) -> int:
        return len(self._messages)

    def put(self, envelope: Envelope[Any], /) -> None:
        """Append `envelope` and schedule the actor unless it is already scheduled."""
        self._messages.append(envelope)
        if self._token.acquire(False):
            self._submit(self)
        elif self._dead:
            # The actor died after the caller's liveness check; its teardown may already have
            # drained the inbox, so answer this envelope here rather than leave it stranded.
            self._reject_all()

    def get(self) -> Envelope[Any]:
        """Pop the oldest envelope; raise `queue.Empty` if there is none (never block)."""
        try:
            return self._messages.popleft()
        except IndexError:
            raise queue.Empty from None

    def empty(self) -> bool:
        """Tell whether no envelope is waiting."""
        return not self._messages

    def start(self) -> None:
        """Schedule the actor's first turn, which runs `on_start` before any message."""
        self._submit(self)

    def run(self, batch_max: int) -> int:
        """Handle up to `batch_max` envelopes on the calling worker; return how many."""
        actor = self._actor
        if actor is None:  # unreachable: a dead inbox keeps its token, so it is never submitted
            return 0
        handled = 0
        try:
            if not self._started:
                self._started = True
                actor._actor_loop_setup()
            stopped = actor.actor_stopped
            messages = self._messages
            handle = actor._handle_envelope
            while handled < batch_max and not stopped.is_set():
                try:
                    envelope = messages.popleft()
                except IndexError:
                    break
                handled += 1
                handle(envelope)
        except BaseException:
            # on_start raising a BaseException, or on_stop / on_failure raising one while the
            # actor was being stopped: stop this actor only, as pykka's failure path does.
            actor._handle_failure(*sys.exc_info())
        if actor.actor_stopped.is_set():
            self._die(actor)
        else:
            self._yield()
        return handled

    def _yield(self) -> None:
        messages = self._messages
        if messages:
            self._submit(self)  # keep the token: the actor goes to the back of the ready queue
            return
        self._token.release()
        # A producer may have appended after the emptiness check above and failed to take the
        # token we still held; look again so its envelope is not stranded.
        if messages and self._token.acquire(False):
            self._submit(self)

    def _die(self, actor: PooledActor) -> None:
        # The token stays held for good, so the dead actor is never scheduled again.
        self._ref = actor.actor_ref  # ActorRef holds the actor weakly, so the state can be freed
        self._actor = None
        self._dead = True
        self._reject_all()

    def _reject_all(self) -> None:
        """Answer every waiting envelope as pykka's `_actor_loop_teardown` does."""
        messages = self._messages
        while True:
            try:
                envelope = messages.popleft()
            except IndexError:
                return
            reply_to = envelope.reply_to
            if reply_to is None:
                continue
            if isinstance(envelope.message, _ActorStop):
                reply_to.set(None)
            else:
                error = pykka.ActorDeadError(f"{self._ref} stopped before handling the message")
                reply_to.set_exception(exc_info=(pykka.ActorDeadError, error, None))


class PooledActor(pykka.Actor):
    """A pykka actor whose turns run on the `WorkerPool` in `actor_pool`.

    Bind a pool with `bind_pool(MyActor, pool)` or build the class with `actor_class_for`.
    Callers see `ThreadingActor` semantics, with one difference: a `BaseException` (such as
    `SystemExit`) raised by a handler stops only this actor, where pykka would stop all actors;
    an `ask` caller then gets `ActorDeadError` caused by it.
    """

    actor_pool: ClassVar[WorkerPool | None] = None
    """The pool running this class's actors; set on a subclass by `bind_pool`."""

    _pooled_inbox: PooledInbox

    # pykka calls this as self._create_actor_inbox() from Actor.__init__; an instance method
    # lets the inbox know its actor and pool.
    def _create_actor_inbox(self) -> ActorInbox:  # type: ignore[override]  # static in pykka
        pool = type(self).actor_pool
        if pool is None:
            msg = f"{type(self).__name__} has no pool: use bind_pool() or actor_class_for()"
            raise TypeError(msg)
        if not pool.running:
            msg = f"{pool!r} is not running; start it before starting actors on it"
            raise RuntimeError(msg)
        self._pooled_inbox = PooledInbox(self, pool)
        return self._pooled_inbox

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return pykka.ThreadingFuture()

    def _start_actor_loop(self) -> None:
        self._pooled_inbox.start()

    def _handle_envelope(self, envelope: Envelope[Any]) -> None:
        """Handle one envelope exactly as the body of pykka's `_actor_loop_running` does."""
        reply_to = envelope.reply_to
        try:
            response = self._handle_receive(envelope.message)
            if reply_to is not None:
                reply_to.set(response)
        except Exception:
            if reply_to is not None:
                logger.info("Exception returned from %s to caller:", self, exc_info=True)
                reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:  # pykka logs it; the actor stays stopped
                    self._handle_failure(*sys.exc_info())
        except BaseException as error:
            # pykka would stop every actor from here; on a shared pool that would block this
            # worker on the others, so stop only this actor.
            logger.error("%r in %s: stopping this actor", error, self, exc_info=True)
            if reply_to is not None:
                dead = pykka.ActorDeadError(f"{self.actor_ref} stopped by {error!r}")
                dead.__cause__ = error
                reply_to.set_exception(exc_info=(pykka.ActorDeadError, dead, None))
            if self.actor_stopped.is_set():
                pykka.ActorRegistry.unregister(self.actor_ref)
            else:
                self._stop()


def bind_pool(actor_class: type[P], pool: WorkerPool) -> type[P]:
    """Return a subclass of `actor_class` whose actors run on `pool` (cached per pool)."""

    def build() -> type[PooledActor]:
        return cast("type[PooledActor]", _subclass(actor_class, (actor_class,), pool))

    return cast("type[P]", pool._class_for((actor_class,), build))


_threaded_classes: dict[type, type[pykka.ThreadingActor]] = {}
_threaded_classes_lock = threading.Lock()


def actor_class_for(
    behaviour_cls: type, runtime: str, pool: WorkerPool | None = None
) -> type[pykka.Actor]:
    """Return the actor class running `behaviour_cls` on `runtime` ("pooled" or "threaded").

    `behaviour_cls` is a plain class (or an abstract `pykka.Actor` subclass) holding the
    handlers; its `__init__`, if any, must call `super().__init__()`. The combined class keeps
    the behaviour's name, so `ActorRegistry.get_by_class(behaviour_cls)` finds its actors on
    either runtime. Classes are cached: the same arguments return the same class.
    """
    if issubclass(behaviour_cls, (pykka.ThreadingActor, PooledActor)):
        msg = f"{behaviour_cls.__name__} already picks a runtime; pass the behaviour alone"
        raise TypeError(msg)
    if runtime == "threaded":
        with _threaded_classes_lock:
            threaded = _threaded_classes.get(behaviour_cls)
            if threaded is None:
                threaded = _threaded_classes[behaviour_cls] = cast(
                    "type[pykka.ThreadingActor]",
                    _subclass(behaviour_cls, (behaviour_cls, pykka.ThreadingActor), None),
                )
            return threaded
    if runtime == "pooled":
        if pool is None:
            msg = "runtime 'pooled' needs a WorkerPool"
            raise ValueError(msg)
        bound_pool = pool

        def build() -> type[PooledActor]:
            combined = _subclass(behaviour_cls, (behaviour_cls, PooledActor), bound_pool)
            return cast("type[PooledActor]", combined)

        return cast("type[pykka.Actor]", pool._class_for((behaviour_cls, PooledActor), build))
    msg = f"unknown actor runtime {runtime!r}; expected one of {RUNTIMES}"
    raise ValueError(msg)


def _subclass(named_after: type, bases: tuple[type, ...], pool: WorkerPool | None) -> type:
    namespace: dict[str, Any] = {
        "__module__": named_after.__module__,
        "__qualname__": named_after.__qualname__,
    }
    if pool is not None:
        namespace["actor_pool"] = pool
    return type(named_after.__name__, bases, namespace)
