"""Keep the embedded PostgreSQL alive: restart its postmaster when it dies.

Only the server paperdesk runs itself (no ``DATABASE_URL``) is supervised; an external
database is its operator's. Every ``check_interval_ms`` the supervisor looks up the
postmaster's pid (a process-table lookup, no I/O on the database). Found dead, it starts
PostgreSQL again on the same data directory and socket, retrying with exponential backoff
(``restart_backoff_ms`` doubling up to ``restart_backoff_max_ms``) while PostgreSQL refuses,
as it does while the dead postmaster is not yet reaped or its orphaned backends still hold
the old shared memory. Clients keep their DSN: the journal reconnects and flushes its backlog,
the gateway's pool reconnects on its next acquire.

It is a thread of its own, not a task on the server's loop: a start blocks in ``pg_ctl`` (up
to ``start_timeout_ms``), and a death must be noticed even while the loop is busy.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from engine.config import EmbeddedDatabaseConfig
from persistence.embedded import EmbeddedPostgres

logger = logging.getLogger(__name__)

BACKOFF_DOUBLINGS_MAX = 16  # keeps 2 ** attempt finite; the delay is capped long before


@dataclass(slots=True)
class SupervisorStats:
    """Counters for health checks and ``/metrics`` (written by the supervisor thread only)."""

    deaths: int = 0  # times the postmaster was found dead
    restarts: int = 0  # times it was started again
    restart_failures: int = 0  # start attempts PostgreSQL refused (then retried)
    last_restart_ms: float = 0.0  # from noticing the last death to the server ready again


class EmbeddedSupervisor:
    """Watch one embedded server from a thread; restart it when its postmaster dies."""

    def __init__(self, embedded: EmbeddedPostgres, config: EmbeddedDatabaseConfig) -> None:
        self.embedded = embedded
        self.config = config
        self.stats = SupervisorStats()
        self._down = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def down(self) -> bool:
        """True from noticing a death until the restarted server is ready."""
        return self._down

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="embedded-postgres-supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; blocks until a start in progress ends (``start_timeout_ms`` at most)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.config.start_timeout_ms / 1000)

    def _run(self) -> None:
        interval_s = self.config.check_interval_ms / 1000
        while not self._stopping.wait(interval_s):
            if not self.embedded.running:
                return  # stopped under us: nothing left to keep alive
            if not self.embedded.postmaster_alive():
                self._restart()

    def _restart(self) -> None:
        """Start the server again, retrying with backoff until it is up or we stop."""
        began = time.monotonic()
        self._down = True
        self.stats.deaths += 1
        logger.error(
            "embedded postgres in %s died (postmaster %s gone); restarting it",
            self.embedded.data_dir,
            self.embedded.postmaster_pid,
        )
        config = self.config
        attempt = 0
        while not self._stopping.is_set() and self.embedded.running:
            try:
                self.embedded.restart(config.start_timeout_ms / 1000)
            except Exception as exc:  # a refusal, or a bug: either way retry, never die
                attempt += 1
                self.stats.restart_failures += 1
                delay_ms = min(
                    config.restart_backoff_ms * 2 ** min(attempt - 1, BACKOFF_DOUBLINGS_MAX),
                    config.restart_backoff_max_ms,
                )
                logger.warning(
                    "embedded postgres restart refused (attempt %d), retrying in %d ms: %s",
                    attempt,
                    delay_ms,
                    exc,
                )
                self._stopping.wait(delay_ms / 1000)
                continue
            self.stats.restarts += 1
            self.stats.last_restart_ms = (time.monotonic() - began) * 1000
            self._down = False
            logger.warning(
                "embedded postgres restarted (postmaster %s) %.0f ms after its death was"
                " noticed, %d attempts refused",
                self.embedded.postmaster_pid,
                self.stats.last_restart_ms,
                attempt,
            )
            return


def supervise(
    embedded: EmbeddedPostgres | None, config: EmbeddedDatabaseConfig
) -> EmbeddedSupervisor | None:
    """A started supervisor for ``embedded``; None without one (DATABASE_URL) or when off."""
    if embedded is None or not config.supervise:
        return None
    supervisor = EmbeddedSupervisor(embedded, config)
    supervisor.start()
    return supervisor
