"""Where the database is: ``DATABASE_URL`` if set, else an embedded PostgreSQL.

The embedded server is a real PostgreSQL 16 from the ``pgserver`` wheel, kept in a data
directory (``<server.data_dir>/pg``, so ``./var/pg`` by default) and reused across restarts:
the first start runs initdb (~0.7 s), later starts only launch the server (~0.12 s). It
listens on a Unix socket inside the data directory, never on a TCP port.

A postmaster that dies can be started again on the same data directory and socket
(:meth:`EmbeddedPostgres.restart`, driven by :mod:`persistence.supervisor`), so the DSN every
client holds stays valid and clients only need to reconnect.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil  # type: ignore[import-untyped]  # pgserver's own dependency, without stubs
from pgserver._commands import POSTGRES_BIN_PATH
from pgserver.postgres_server import PostgresServer, get_server
from pgserver.utils import PostmasterInfo

logger = logging.getLogger(__name__)

DATABASE_URL_ENV = "DATABASE_URL"
HANDLES_FILE = ".handle_pids.json"  # pgserver's list of processes holding the server
LOG_TAIL_BYTES = 2048  # of the server's log, quoted when a start is refused


class EmbeddedStartError(Exception):
    """PostgreSQL refused to start (or did not start in time); the reason is in ``args``."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune_dead_handles(data_dir: Path) -> None:
    """Forget handles of processes that died without stopping the server.

    pgserver stops the server when its last handle closes; a crashed process would otherwise
    keep a handle forever and a clean stop would never happen.
    """
    path = data_dir / HANDLES_FILE
    if not path.exists():
        return
    pids = [pid for pid in json.loads(path.read_text()) if _pid_alive(int(pid))]
    path.write_text(json.dumps(pids))


def _running(process: Any) -> bool:
    """True for a live postgres process; a zombie (killed, not yet reaped) is dead."""
    if process is None:
        return False
    try:
        alive = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        return bool(alive and process.name() == "postgres")
    except psutil.Error:
        return False


def _read_postmaster(data_dir: Path) -> PostmasterInfo | None:
    """``postmaster.pid`` parsed, or None when absent or still being written."""
    try:
        return PostmasterInfo.read_from_pgdata(data_dir)
    except (OSError, ValueError, AssertionError):
        return None


def _reap_dead_postgres_children() -> None:
    """Reap dead PostgreSQL processes whose parent is this process.

    ``pg_ctl`` leaves the postmaster to be adopted by PID 1, which reaps it (and, after a
    crash, the old backends). When paperdesk itself is PID 1 (a container without an init)
    nobody else would, and PostgreSQL refuses to start while ``postmaster.pid`` names a
    process, even a zombie. Only ``postgres`` zombies: another child's exit status belongs to
    whoever waits for it.
    """
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE and child.name() == "postgres":
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            continue


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _log_since(path: Path, offset: int) -> str:
    """What the server logged past ``offset``, its last ``LOG_TAIL_BYTES`` at most (the log
    grows across runs, so it is never read whole)."""
    try:
        with path.open("rb") as log:
            log.seek(max(offset, _log_size(path) - LOG_TAIL_BYTES))
            return log.read().decode(errors="replace").strip()
    except OSError as exc:
        return f"(server log unreadable: {exc})"


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL in ``data_dir``; ``start`` returns its DSN.

    Thread-safe: the supervisor restarts the server from a thread of its own while the
    server's loop may be stopping it (pgserver's lock only serializes processes).
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None
        self._lock = threading.Lock()
        self.started_in_s = 0.0

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop`` (whether or not the postmaster lives)."""
        return self._server is not None

    def start(self) -> str:
        """Start (or attach to) the server, creating the data directory on first use."""
        with self._lock:
            if self._server is None:
                began = time.perf_counter()
                self.data_dir.parent.mkdir(parents=True, exist_ok=True)
                _prune_dead_handles(self.data_dir)
                self._server = get_server(self.data_dir, cleanup_mode="stop")
                self.started_in_s = time.perf_counter() - began
                logger.info(
                    "embedded postgres in %s up in %.2f s", self.data_dir, self.started_in_s
                )
        return self.dsn()

    def dsn(self, database: str | None = None) -> str:
        assert self._server is not None, "start() the embedded server first"
        uri: str = self._server.get_uri(database)
        return uri

    @property
    def postmaster_pid(self) -> int | None:
        """The pid of the postmaster this handle started or adopted last (None if stopped)."""
        server = self._server
        return None if server is None else int(server.get_postmaster_info().pid)

    def postmaster_alive(self) -> bool:
        """True while that postmaster runs (a cheap check: one look at the process table)."""
        server = self._server
        return server is not None and _running(server.get_postmaster_info().process)

    def restart(self, timeout_s: float) -> None:
        """Start the postmaster again after it died, on the same data directory and socket.

        Adopts a postmaster someone else started meanwhile. Raises
        :class:`EmbeddedStartError` when PostgreSQL refuses: while ``postmaster.pid`` names a
        live process (the dead postmaster not yet reaped) or backends of the old one still
        hold its shared memory, which PostgreSQL checks itself; the caller retries.
        """
        with self._lock:
            server = self._server
            if server is None:
                raise EmbeddedStartError("the embedded server was stopped")
            old = server.get_postmaster_info()
            with PostgresServer._lock:  # pgserver's lock between processes on this machine
                info = _read_postmaster(self.data_dir)
                if info is None or not _running(info.process):
                    _reap_dead_postgres_children()
                    self._launch(server, old.socket_dir, timeout_s)
                    info = _read_postmaster(self.data_dir)
                if info is None or not _running(info.process) or info.status != "ready":
                    raise EmbeddedStartError(f"no ready postmaster after a start: {info}")
                # pgserver stops the postmaster it knows at the last handle's close.
                server._postmaster_info = info

    def _launch(self, server: Any, socket_dir: Path | None, timeout_s: float) -> None:
        """``pg_ctl start`` with the options pgserver's first start used (same socket).

        Its output goes nowhere: the postmaster inherits pg_ctl's descriptors (a pipe would
        never close) and writes to the server's log, which says why a start was refused.
        """
        assert socket_dir is not None, "the embedded server listens on a Unix socket"
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "-w"]
        command += ["-t", str(max(1, round(timeout_s))), "-o", '-h ""', "-o", f"-k {socket_dir}"]
        command += ["-l", str(server.log), "start"]
        logged = _log_size(server.log)
        try:
            subprocess.run(
                command,
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                user=server.system_user,  # pgserver runs PostgreSQL as "pgserver" under root
                timeout=timeout_s + 5,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedStartError(_log_since(server.log, logged)) from exc

    def stop(self) -> None:
        """Stop the server unless another process still holds it; the data stays."""
        with self._lock:
            server, self._server = self._server, None
            for dsn in [dsn for dsn, embedded in _SERVING.items() if embedded is self]:
                del _SERVING[dsn]
            if server is not None:
                if not _running(server.get_postmaster_info().process):
                    # Dead: nothing to stop, and pg_ctl would wait for an unreaped zombie.
                    server._postmaster_info = None
                server.cleanup()
                logger.info("embedded postgres in %s stopped", self.data_dir)


# The embedded servers resolve_database started in this process, by DSN: the server a
# process runs because DATABASE_URL is unset is the one it must keep alive.
_SERVING: dict[str, EmbeddedPostgres] = {}


def resolve_database(data_dir: Path | str) -> tuple[str, EmbeddedPostgres | None]:
    """Return the DSN to use and the embedded server started for it (None with DATABASE_URL)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url, None
    embedded = EmbeddedPostgres(Path(data_dir) / "pg")
    dsn = embedded.start()
    _SERVING[dsn] = embedded
    return dsn, embedded


def embedded_serving(dsn: str) -> EmbeddedPostgres | None:
    """The embedded server this process runs for ``dsn`` (see ``resolve_database``), if any."""
    return _SERVING.get(dsn)


def dsn_with_database(dsn: str, database: str) -> str:
    """The same DSN pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))
