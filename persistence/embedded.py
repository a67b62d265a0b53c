"""Where the database is: ``DATABASE_URL`` if set, else an embedded PostgreSQL.

The embedded server is a real PostgreSQL 16 from the ``pgserver`` wheel, kept in a data
directory (``<server.data_dir>/pg``, so ``./var/pg`` by default) and reused across restarts:
the first start runs initdb (~0.7 s), later starts only launch the server (~0.12 s). It
listens on a Unix socket inside the data directory, never on a TCP port.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pgserver.postgres_server import get_server

logger = logging.getLogger(__name__)

DATABASE_URL_ENV = "DATABASE_URL"
HANDLES_FILE = ".handle_pids.json"  # pgserver's list of processes holding the server


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


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL in ``data_dir``; ``start`` returns its DSN."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None
        self.started_in_s = 0.0

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start (or attach to) the server, creating the data directory on first use."""
        if self._server is None:
            began = time.perf_counter()
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            _prune_dead_handles(self.data_dir)
            self._server = get_server(self.data_dir, cleanup_mode="stop")
            self.started_in_s = time.perf_counter() - began
            logger.info("embedded postgres in %s up in %.2f s", self.data_dir, self.started_in_s)
        return self.dsn()

    def dsn(self, database: str | None = None) -> str:
        assert self._server is not None, "start() the embedded server first"
        uri: str = self._server.get_uri(database)
        return uri

    def stop(self) -> None:
        """Stop the server unless another process still holds it; the data stays."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
            logger.info("embedded postgres in %s stopped", self.data_dir)


def resolve_database(data_dir: Path | str) -> tuple[str, EmbeddedPostgres | None]:
    """Return the DSN to use and the embedded server started for it (None with DATABASE_URL)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url, None
    embedded = EmbeddedPostgres(Path(data_dir) / "pg")
    return embedded.start(), embedded


def dsn_with_database(dsn: str, database: str) -> str:
    """The same DSN pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))
