"""The persistence actor: the engine's :class:`~engine.actors.sink.EventSink` backed by PostgreSQL.

Threads and loops. The writer is one asyncio task with one asyncpg connection (a single writer
needs no pool). The server runs it on its own event loop (:meth:`start_in_running_loop`): one
interpreter lock is shared by every thread anyway, and a writer thread of its own had to win
that lock back from the busy HTTP loop after every database reply (measured: 20 % more server
CPU per request and a longer write cycle). Tests and benchmarks that have no loop use
:meth:`start`, which gives the writer a thread and a loop of its own. ``submit`` is what account
actors call from their worker threads: it appends to a deque under a lock and, only when the
writer is idle, wakes the loop with ``call_soon_threadsafe`` — a few microseconds, never
blocking on the database.

Group commit. Woken, the writer takes everything queued (up to ``journal.batch_max`` events)
and writes it as ONE statement that is its own transaction (:mod:`persistence.writer`): the
journal rows (``ON CONFLICT (account_id, account_seq) DO NOTHING``) and the projection
upserts computed by :mod:`persistence.projection` from a mirror of each account's state (the
committed state, advanced in place; a failed write drops the mirrors it touched, which are
replayed from the journal when next needed).
It repeats until the queue is empty, then sleeps. Batches of one account arrive in sequence
order (the account actor submits them one at a time) and the queue is FIFO, so the journal
keeps that order. After projecting a batch the writer checks the account's funds identity
(:func:`engine.domain.account.state.check_funds_identity`): a batch that breaks it fails like a
batch the database refuses (see Faults), and is logged at CRITICAL.

Bounds. The mirrors are an LRU of at most ``journal.mirrors_max`` accounts, least recently
written first. As each group is written (no timer of its own), the writer drops the oldest
past that bound and every mirror not written for ``journal.mirror_idle_ms``, but never a
mirror of an account in the group being written: a group of more accounts than
``mirrors_max`` keeps them all until the next group. A dropped mirror is replayed from the
journal when its account is next written, as after a failed write (the cost grows with the
account's journal). The inbox holds at most ``journal.inbox_max`` batches of user writes: at
that many queued, ``accepting()`` turns False, so account actors answer new user writes
unavailable (503), until fewer than ``INBOX_RESUME_PCT`` (90) % of ``inbox_max`` wait; the gap
keeps it from flapping with every group at the edge. Batches the market causes (fills,
triggers, exits, session square-offs and expiries, settlement) are queued even then, never
dropped: the market has already acted on them. They stay bounded all the same, because each
consumes something only an accepted user write creates: a working order (a trigger, then
one fill of its whole remaining quantity, or a cancel) or an open position (an exit, a
square-off, a settlement), and those are bounded per account by ``limits.open_orders_max``
and by the instruments an account can hold, while no new ones are accepted.

Acknowledgement. ``durability = "commit"``: ``on_durable(True)`` runs on the writer's loop
after the transaction holding the batch has committed. ``"async"``: it runs inside
``submit``, before the batch is even queued.

Faults. Serialization failures, deadlocks, timeouts and lost connections are retried with
exponential backoff; after ``journal.retries_max`` retries, or at once when a write does not
answer within ``journal.write_timeout_ms`` (a stalled database), the actor is *degraded*:
``accepting()`` turns False (callers refuse new writes), the failed group stays at the head
of the queue with everything behind it, and retries continue (delay capped at
``retry_backoff_max_ms``) until the database answers; then all of it is flushed in order and
``accepting()`` is True again. A retry after an unacknowledged commit is harmless: the
journal insert skips events already present and ledger legs and logs are written only for
events it really added. An error that is not transient (a bug) is isolated: the group is
retried batch by batch and only the failing batch is answered ``on_durable(False)``; its account
is then *quarantined* (``quarantined(account_id)``): its actor has applied what could not be
journaled, so callers refuse the account's new writes until a restart recovers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import asyncpg
import uvloop

from engine.actors.clock import Clock, SystemClock
from engine.actors.sink import EventBatch, OnDurable
from engine.config import JournalConfig
from engine.domain.account.state import AccountState, check_funds_identity
from engine.domain.invariants import InvariantError
from persistence.projection import new_events, project
from persistence.recovery import replay_account
from persistence.rows import Rows
from persistence.writer import write_rows

logger = logging.getLogger(__name__)

DURABILITY_MODES = ("commit", "async")
# SQLSTATE classes worth retrying: connection exception, insufficient resources (too many
# connections), operator intervention (admin shutdown, crash recovery, statement timeout).
_RETRY_CLASSES = ("08", "53", "57")
_RETRY_STATES = ("40001", "40P01")  # serialization failure, deadlock detected
UNWRITTEN_NAMED_MAX = 50  # accounts named in the log line of a stop that drops batches
# A full inbox takes user writes again once fewer than this share of ``inbox_max`` wait: the
# gap keeps ``accepting()`` from flapping with every batch written at the boundary.
INBOX_RESUME_PCT = 90

Item = tuple[EventBatch, OnDurable | None]


class DatabaseUnavailableError(Exception):
    """No connection to the database could be made."""


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry can cure: lost connections, conflicts, timeouts."""
    if isinstance(exc, DatabaseUnavailableError | OSError | TimeoutError):
        return True
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        # "connection is closed", or a protocol left mid-operation by a killed backend.
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state in _RETRY_STATES or state[:2] in _RETRY_CLASSES
    return False


@dataclass(slots=True)
class JournalStats:
    """Counters the tests and ``/metrics`` read (written by the writer only, but for
    ``inbox_full_episodes``, which ``submit`` counts under the inbox lock)."""

    transactions: int = 0  # committed group transactions
    batches_written: int = 0
    batches_duplicate: int = 0  # every event already journaled
    batches_failed: int = 0
    events_written: int = 0
    events_duplicate: int = 0
    retries: int = 0
    outages: int = 0  # times the actor became degraded
    group_events_max: int = 0
    group_batches_max: int = 0
    last_commit_ms: float = 0.0
    accounts_quarantined: int = 0
    groups_isolated: int = 0  # group statements refused, then retried batch by batch
    invariant_violations: int = 0  # batches refused for breaking an invariant (a bug)
    inbox_full_episodes: int = 0  # times the inbox reached ``inbox_max`` (user writes refused)
    mirrors_replayed: int = 0  # mirrors rebuilt from the journal (first sight or after a drop)
    mirrors_evicted: int = 0  # mirrors dropped as least recently written or idle


@dataclass(slots=True)
class _Mirror:
    """The committed state of one account, and when the writer last advanced it."""

    state: AccountState
    written_ms: int


class PersistenceActor:
    """Write event batches to PostgreSQL in group-commit transactions (see module doc)."""

    def __init__(
        self,
        dsn: str,
        config: JournalConfig,
        *,
        name: str = "persistence",
        clock: Clock | None = None,
    ) -> None:
        if config.durability not in DURABILITY_MODES:
            raise ValueError(f"journal.durability must be one of {DURABILITY_MODES}")
        self.dsn = dsn
        self.config = config
        self.name = name
        self.stats = JournalStats()
        self._clock: Clock = SystemClock() if clock is None else clock  # dates mirrors' writes
        self._commit_mode = config.durability == "commit"
        self._lock = threading.Lock()
        self._settled_changed = threading.Condition(self._lock)
        self._inbox: deque[Item] = deque()
        self._inbox_full = False  # set at ``inbox_max`` queued, cleared below the resume mark
        self._inbox_resume = max(1, config.inbox_max * INBOX_RESUME_PCT // 100)
        self._wake_pending = False
        self._submitted = 0
        self._settled = 0
        self._stopping = False
        self._healthy = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._mirrors: OrderedDict[str, _Mirror] = OrderedDict()  # least recently written first
        self._writing: list[Item] = []  # the group being written (settled: a prefix of it)
        self._quarantined: set[str] = set()

    # -- EventSink --------------------------------------------------------------------------

    def accepting(self) -> bool:
        """False while degraded, stopping, or since the inbox reached ``inbox_max`` batches
        (until fewer than ``INBOX_RESUME_PCT`` % of that wait)."""
        return (
            self._healthy and not self._stopping and self._loop is not None and not self._inbox_full
        )

    def quarantined(self, account_id: str) -> bool:
        """True once a batch of ``account_id`` failed for good (see ``_isolate``), or its actor
        could not apply one (``quarantine``)."""
        return account_id in self._quarantined

    def quarantine(self, account_id: str) -> None:
        """Refuse the account's writes until a restart: one of its batches failed for good, or
        its actor broke an invariant applying one it therefore never submitted."""
        if account_id not in self._quarantined:
            self._quarantined.add(account_id)
            self.stats.accounts_quarantined += 1

    @property
    def quarantined_accounts(self) -> list[str]:
        """Every quarantined account, sorted (for health checks)."""
        return sorted(self._quarantined)

    def submit(self, batch: EventBatch, on_durable: OnDurable) -> None:
        """Queue ``batch``; never blocks on the database.

        A full inbox (``inbox_max``) still queues it: callers check ``accepting()`` before a
        user write, and what the market caused must be written, never dropped (module doc).
        """
        callback: OnDurable | None = on_durable
        if not self._commit_mode:
            on_durable(True)
            callback = None
        wake: asyncio.Event | None = None
        became_full = False
        with self._lock:
            loop = self._loop
            refused = self._stopping or loop is None or self._wake is None
            if not refused:
                inbox = self._inbox
                inbox.append((batch, callback))
                self._submitted += 1
                if not self._wake_pending:
                    wake = self._wake
                    self._wake_pending = True
                if not self._inbox_full and len(inbox) >= self.config.inbox_max:
                    self._inbox_full = became_full = True
                    self.stats.inbox_full_episodes += 1
        if refused:
            logger.error("%s: batch for %s after stop", self.name, batch.account_id)
            if callback is not None:
                callback(False)
            return
        if became_full:
            logger.warning(
                "%s: %d batches queued (journal.inbox_max): refusing user writes",
                self.name,
                self.config.inbox_max,
            )
        if wake is not None and loop is not None:
            loop.call_soon_threadsafe(wake.set)

    # -- life cycle -------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """False while the database is unreachable (the actor is degraded)."""
        return self._healthy

    @property
    def backlog(self) -> int:
        """Batches submitted and not yet written."""
        return len(self._inbox)

    @property
    def inbox_full(self) -> bool:
        """True from ``inbox_max`` queued batches until fewer than ``INBOX_RESUME_PCT`` % wait."""
        return self._inbox_full

    @property
    def mirrors(self) -> int:
        """Accounts whose committed state the writer holds (at most ``mirrors_max``, or the
        accounts of the group being written if more)."""
        return len(self._mirrors)

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the writer thread and connect; raise if the database cannot be reached."""
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready, errors), name=self.name, daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError(f"{self.name} did not start in {timeout_s} s")
        if errors:
            self._thread.join()
            self._thread = None
            raise errors[0]

    async def start_in_running_loop(self) -> None:
        """Run the writer on the calling event loop (no thread of its own) and connect; raise
        if the database cannot be reached."""
        wake = self._wake = asyncio.Event()
        await self._connection()
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(wake))
        with self._lock:
            self._loop = loop

    async def stop_in_running_loop(self, timeout_s: float | None = None) -> None:
        """:meth:`stop` for a writer started with :meth:`start_in_running_loop`; waits
        ``journal.stop_timeout_ms`` unless told otherwise.

        The writer keeps retrying meanwhile, so a database that comes back in time (the
        embedded one is restarted by its supervisor) still gets everything. What is unwritten
        at the deadline was never acknowledged (``durability = "commit"``): it is logged and
        dropped, and a restart recovers each account from what its journal holds.
        """
        task, wake = self._task, self._wake
        if task is None or wake is None:
            return
        if timeout_s is None:
            timeout_s = self.config.stop_timeout_ms / 1000
        with self._lock:
            self._stopping = True
        wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            logger.warning("%s: writer cancelled at stop", self.name)
        await self._close_connection()
        with self._lock:
            self._loop = None
        self._log_unwritten()

    def _log_unwritten(self) -> None:
        """Name what a stop drops: the group being written (its unsettled tail) and the queue."""
        with self._lock:
            unsettled = self._submitted - self._settled
            queued = list(self._inbox)
        if unsettled <= 0:
            return
        in_flight = self._writing[len(self._writing) - (unsettled - len(queued)) :]
        ranges: dict[str, tuple[int, int]] = {}
        for batch, _ in in_flight + queued:
            last_seq = batch.first_seq + len(batch.events) - 1
            first, last = ranges.get(batch.account_id, (batch.first_seq, last_seq))
            ranges[batch.account_id] = (min(first, batch.first_seq), max(last, last_seq))
        named = [f"{a}@{f}..{t}" for a, (f, t) in list(ranges.items())[:UNWRITTEN_NAMED_MAX]]
        logger.error(
            "%s stopped with %d batches unwritten, never acknowledged (%d in flight, maybe"
            " committed; %d queued) over %d accounts: %s%s",
            self.name,
            unsettled,
            len(in_flight),
            len(queued),
            len(ranges),
            ", ".join(named),
            " ..." if len(ranges) > len(named) else "",
        )

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every batch submitted so far is written (or failed); False on timeout."""
        with self._settled_changed:
            target = self._submitted
            return self._settled_changed.wait_for(lambda: self._settled >= target, timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write what is queued (waiting up to ``timeout_s``), then close the connection."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            stopped = asyncio.run_coroutine_threadsafe(self.stop_in_running_loop(timeout_s), loop)
            stopped.result(timeout_s + 10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None

    def _thread_main(self, ready: threading.Event, errors: list[BaseException]) -> None:
        """The writer's own thread (see :meth:`start`): its loop runs until :meth:`stop`."""
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self.start_in_running_loop())
            except BaseException as exc:
                errors.append(exc)
                return
            ready.set()
            loop.run_forever()
        finally:
            ready.set()
            loop.close()

    # -- the writer -------------------------------------------------------------------------

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while group := self._take_group():
                self._writing = group  # for a stop's report of what it drops
                await self._write_with_retry(group)
                self._writing = []
            with self._lock:
                if self._stopping and not self._inbox:
                    return

    def _take_group(self) -> list[Item]:
        """Pop queued batches up to ``batch_max`` events (at least one batch)."""
        group: list[Item] = []
        events = 0
        resumed = False
        with self._lock:
            inbox = self._inbox
            while inbox and (
                not group or events + len(inbox[0][0].events) <= self.config.batch_max
            ):
                item = inbox.popleft()
                group.append(item)
                events += len(item[0].events)
            if not group:
                self._wake_pending = False  # idle: the next submit must wake the loop
            if self._inbox_full and len(inbox) < self._inbox_resume:
                self._inbox_full, resumed = False, True
        if resumed:
            logger.warning("%s: %d batches queued: taking user writes again", self.name, len(inbox))
        return group

    async def _write_with_retry(self, group: list[Item]) -> None:
        attempt = 0
        while True:
            try:
                await self._write_group(group)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                conn = self._conn
                lost = conn is None or conn.is_closed()
                if not (lost or is_transient(exc)):
                    await self._isolate(group, exc)
                    return
                attempt += 1
                self.stats.retries += 1
                await self._close_connection()
                # A write that did not answer in time means a stalled database: degrade at
                # once rather than after several more stalls.
                stalled = isinstance(exc, TimeoutError)
                if (stalled or attempt > self.config.retries_max) and self._healthy:
                    self._healthy = False
                    self.stats.outages += 1
                    logger.error("%s: database unavailable, holding writes: %r", self.name, exc)
                delay_ms = min(
                    self.config.retry_backoff_ms * 2 ** min(attempt - 1, 16),
                    self.config.retry_backoff_max_ms,
                )
                await asyncio.sleep(delay_ms / 1000)
                continue
            if not self._healthy:
                logger.warning("%s: database back, flushing %d batches", self.name, self.backlog)
            self._healthy = True
            self._settle(group, ok=True)
            return

    async def _isolate(self, group: list[Item], exc: Exception) -> None:
        """A non-transient error: retry batch by batch so only the culprit fails."""
        if len(group) == 1:
            batch = group[0][0]
            if isinstance(exc, InvariantError):
                # Not a database fault: the events themselves are wrong, and the account's
                # actor has applied them. Loud, so it is looked at before anything else.
                self.stats.invariant_violations += 1
                logger.critical(
                    "%s: INVARIANT BROKEN by batch %s@%d (%s); not journaled, account"
                    " quarantined until a restart recovers it from the journal",
                    self.name,
                    batch.account_id,
                    batch.first_seq,
                    exc,
                    exc_info=exc,
                )
            else:
                logger.error(
                    "%s: batch %s@%d not journaled; account quarantined until a restart"
                    " recovers it from the journal",
                    self.name,
                    batch.account_id,
                    batch.first_seq,
                    exc_info=exc,
                )
            self.stats.batches_failed += 1
            # Its actor has applied the batch, so its state in memory is ahead of the journal
            # (and every later batch of it would leave a gap): refuse its new writes.
            self.quarantine(batch.account_id)
            self._settle(group, ok=False)
            return
        self.stats.groups_isolated += 1
        for item in group:
            await self._write_with_retry([item])

    async def _write_group(self, group: list[Item]) -> None:
        """One transaction: journal rows and projections of every batch in ``group``.

        Projection advances the accounts' mirrors in place: a copy per group would cost an
        account with 200 open orders ~135 µs every time. Each advanced mirror must then hold
        the funds identity (``check_funds_identity``, ~7 µs at 200 open orders, ~1 µs at a few): a
        batch that breaks it raises :class:`InvariantError`, which is not transient, so it is
        isolated and its account quarantined like any batch the database refuses. If anything
        fails before the commit is confirmed, the mirrors it touched are dropped, to be
        replayed from the journal (the committed truth) when next needed.
        """
        began = time.perf_counter()
        conn = await self._connection()
        now_ms = self._clock.now_ms()
        touched: set[str] = set()
        rows = Rows()
        duplicates = 0
        try:
            for batch, _ in group:
                state = await self._mirror(conn, batch.account_id, now_ms)
                touched.add(batch.account_id)
                fresh = new_events(state, batch)
                if not fresh:
                    duplicates += 1
                    continue
                for account_seq, event in fresh:
                    project(state, account_seq, event, rows)
                check_funds_identity(state)  # an explicit check: ``python -O`` keeps it
            self._evict_mirrors(touched, now_ms)
            # One statement, its own transaction (see persistence.writer), bounded on this
            # side too: a stalled backend never answers, whatever its statement_timeout says.
            inserted = await write_rows(conn, rows, self.config.write_timeout_ms / 1000)
        except BaseException:
            for account_id in touched:
                self._mirrors.pop(account_id, None)
            raise
        stats = self.stats
        stats.transactions += 1
        stats.batches_written += len(group) - duplicates
        stats.batches_duplicate += duplicates
        stats.events_written += inserted
        stats.events_duplicate += sum(len(b.events) for b, _ in group) - inserted
        stats.group_batches_max = max(stats.group_batches_max, len(group))
        stats.group_events_max = max(stats.group_events_max, len(rows.events))
        stats.last_commit_ms = (time.perf_counter() - began) * 1000

    async def _mirror(self, conn: Any, account_id: str, now_ms: int) -> AccountState:
        """The committed state of an account, replayed from the journal on first sight (or
        after it was dropped), now the most recently written."""
        mirrors = self._mirrors
        mirror = mirrors.get(account_id)
        if mirror is None:
            state = await replay_account(conn, account_id)
            mirror = mirrors[account_id] = _Mirror(state, now_ms)
            self.stats.mirrors_replayed += 1
        else:
            mirror.written_ms = now_ms
            mirrors.move_to_end(account_id)
        return mirror.state

    def _evict_mirrors(self, keep: set[str], now_ms: int) -> None:
        """Drop the least recently written mirrors past ``mirrors_max`` and every mirror not
        written for ``mirror_idle_ms``, but none of ``keep`` (the group being written).

        ``_mirror`` moved each of the group's mirrors to the end, so the first of ``keep`` met
        from the front ends the walk: every mirror after it is the group's too. A dropped
        mirror costs a replay of its account's journal when the account is next written.
        """
        mirrors = self._mirrors
        mirrors_max = self.config.mirrors_max
        idle_before_ms = now_ms - self.config.mirror_idle_ms
        evicted = 0
        while mirrors:
            account_id, mirror = next(iter(mirrors.items()))
            if account_id in keep:
                break
            if len(mirrors) <= mirrors_max and mirror.written_ms > idle_before_ms:
                break
            del mirrors[account_id]
            evicted += 1
        self.stats.mirrors_evicted += evicted

    def _settle(self, group: list[Item], *, ok: bool) -> None:
        for _, callback in group:
            if callback is None:
                continue
            try:
                callback(ok)
            except Exception:
                logger.exception("%s: on_durable callback failed", self.name)
        with self._settled_changed:
            self._settled += len(group)
            self._settled_changed.notify_all()

    async def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        self._conn = None
        try:
            self._conn = await asyncpg.connect(
                self.dsn,
                timeout=self.config.connect_timeout_ms / 1000,
                server_settings={
                    "statement_timeout": str(self.config.statement_timeout_ms),
                    "application_name": self.name,
                },
            )
        except Exception as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        return self._conn

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # no goodbye round trip: the connection may be dead
