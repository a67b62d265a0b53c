"""The operator's first start, through a real ``paperdesk serve`` subprocess on the test's own
database, its stdout and its structured log (stderr) captured apart.

Proves: with no admin and none in the environment, the first start creates
``auth.first_admin_email`` with a generated password that passes the password policy and
prints it once on stdout, and a second start prints nothing; the server prints the dashboard's
URL once it listens; that admin signs in (told ``passwordChangeRequired``) but every route
except the session, logout and CHANGE_PASSWORD answers 403 ``PASSWORD_CHANGE_REQUIRED``, across
a restart, until the password is changed, and then all is as usual; the password is nowhere in
the structured log nor in ``trading_logs``. An admin from the environment or from ``paperdesk
create-admin`` is not held to a change, and no first-start admin is created beside it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV
from gateway.cli import main
from gateway.identity.passwords import password_refusal
from persistence.embedded import DATABASE_URL_ENV
from tests.integration.conftest import fetch, fetchval
from tests.support.live_server import (
    FAST_CONFIG,
    REPO_ROOT,
    Client,
    client_session,
    free_port,
    work_directory,
)

pytestmark = pytest.mark.timeout(180)

FIRST_ADMIN_EMAIL = "admin@paperdesk.local"  # configs/default.toml [auth] first_admin_email
FIRST_START_LINE = re.compile(
    r"^paperdesk: first start — admin (\S+) / (\S+) \(you must change it at first sign-in\)$",
    re.MULTILINE,
)
READY_LINE = "paperdesk: ready — dashboard at http://127.0.0.1:{port}/"
NEW_PASSWORD = "harbour-lantern-58"
ENV_ADMIN_EMAIL = "ops@paperdesk.test"
ENV_ADMIN_PASSWORD = "kestrel-ledger-42"
START_TIMEOUT_S = 60.0
START_ATTEMPTS_MAX = 3  # a free port can be taken between choosing it and binding it
STOP_TIMEOUT_S = 20.0


@dataclass
class Run:
    """One finished ``paperdesk serve``: what it printed on stdout and logged on stderr."""

    stdout: str
    log: str


class Serve:
    """``paperdesk serve`` on ``dsn`` with stdout and stderr in files of their own."""

    def __init__(self, dsn: str, work: Path, env: dict[str, str]) -> None:
        self.dsn = dsn
        self.work = work
        self.env = env
        self.config_path = work / "overlay.toml"
        self.config_path.write_text(FAST_CONFIG)
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _paths(self) -> tuple[Path, Path]:
        return self.work / f"stdout-{self.starts}.txt", self.work / f"stderr-{self.starts}.log"

    def stdout_so_far(self) -> str:
        return self._paths()[0].read_text(encoding="utf-8")

    def start(self) -> None:
        """Start and wait for the ready line (printed once the listener listens)."""
        for _ in range(START_ATTEMPTS_MAX):
            if self._start_once(free_port()):
                return
        raise AssertionError(f"server did not start:\n{self._paths()[1].read_text()[-4000:]}")

    def _start_once(self, port: int) -> bool:
        self.starts += 1
        self.port = port
        out_path, log_path = self._paths()
        env = {
            k: v for k, v in os.environ.items() if k not in (ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV)
        }
        env |= {DATABASE_URL_ENV: self.dsn} | self.env
        command = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(self.config_path)]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        command += ["--data-dir", str(self.work / "var")]
        with out_path.open("wb") as out, log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=log)
        ready = READY_LINE.format(port=port)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready in out_path.read_text(encoding="utf-8"):
                return True
            if self.process.poll() is not None:
                return False  # most likely the port was taken; try another
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")

    def stop(self) -> Run:
        """SIGTERM, and what this start printed and logged."""
        process = self.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
        out_path, log_path = self._paths()
        return Run(out_path.read_text(encoding="utf-8"), log_path.read_text(encoding="utf-8"))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@contextmanager
def serving(dsn: str, env: dict[str, str] | None = None) -> Iterator[Serve]:
    """A :class:`Serve`, not started; killed on the way out whatever happened."""
    with work_directory() as work:
        server = Serve(dsn, work, env or {})
        try:
            yield server
        finally:
            server.kill()


async def sign_in(client: Client, email: str, password: str) -> dict[str, Any]:
    """Log in (bearer); return the login reply."""
    status, body = await client.call(
        "POST", "/api/auth/login", {"email": email, "password": password}
    )
    assert status == 200, body
    client.headers["Authorization"] = f"Bearer {body['token']}"
    reply: dict[str, Any] = body
    return reply


async def assert_held_to_password_change(client: Client) -> None:
    """Everything but the session (and CHANGE_PASSWORD) answers 403 PASSWORD_CHANGE_REQUIRED."""
    for method, path, body in (
        ("GET", "/api/trading/funds", None),
        ("GET", "/api/console", None),
        ("POST", "/api/console", {"action": "UPDATE_PROFILE", "name": "Boss"}),
        ("GET", "/api/admin/users", None),
        ("GET", "/api/health/detailed", None),
    ):
        status, reply = await client.call(method, path, body)
        assert status == 403, (method, path, reply)
        assert reply["error"]["code"] == "PASSWORD_CHANGE_REQUIRED", reply
        assert "CHANGE_PASSWORD" in reply["error"]["message"], reply
    status, reply = await client.call("GET", "/api/auth/session")
    assert status == 200, reply
    assert reply["passwordChangeRequired"] is True, reply
    assert reply["user"]["email"] == FIRST_ADMIN_EMAIL


async def assert_free_to_work(client: Client) -> None:
    for path in ("/api/trading/funds", "/api/console", "/api/admin/users"):
        status, reply = await client.call("GET", path)
        assert status == 200, (path, reply)
    status, reply = await client.call("GET", "/api/auth/session")
    assert status == 200, reply
    assert "passwordChangeRequired" not in reply, reply


def flagged(dsn: str, email: str) -> bool:
    return bool(fetchval(dsn, "SELECT must_change_password FROM users WHERE email = $1", email))


def test_first_start_when_no_admin_then_password_printed_once_and_changed_at_first_sign_in(
    database: str,
) -> None:
    with serving(database) as server:
        server.start()
        first_port = server.port
        found = FIRST_START_LINE.findall(server.stdout_so_far())
        assert len(found) == 1, found
        email, password = found[0]
        assert email == FIRST_ADMIN_EMAIL
        assert password_refusal(password, email) is None
        assert len(password) >= 16
        assert flagged(database, FIRST_ADMIN_EMAIL)

        async def before_change() -> None:
            async with client_session() as session:
                admin = Client(session, server.base)
                reply = await sign_in(admin, FIRST_ADMIN_EMAIL, password)
                assert reply["passwordChangeRequired"] is True, reply
                assert reply["user"]["role"] == "ADMIN"
                await assert_held_to_password_change(admin)

        asyncio.run(before_change())
        first = server.stop()

        # A second start: an admin exists, nothing is printed; the flag outlived the restart.
        server.start()

        async def change() -> None:
            async with client_session() as session:
                admin = Client(session, server.base)
                reply = await sign_in(admin, FIRST_ADMIN_EMAIL, password)
                assert reply["passwordChangeRequired"] is True, reply
                await assert_held_to_password_change(admin)
                change_to: dict[str, Any] = {"action": "CHANGE_PASSWORD"}
                status, body = await admin.call(
                    "POST",
                    "/api/console",
                    change_to | {"currentPassword": password, "newPassword": password},
                )
                assert status == 422 and body["error"]["code"] == "PASSWORD_UNCHANGED", body
                status, body = await admin.call(
                    "POST",
                    "/api/console",
                    change_to | {"currentPassword": password, "newPassword": NEW_PASSWORD},
                )
                assert status == 200, body
                await assert_free_to_work(admin)  # the same session, at once
                again = Client(session, server.base)
                reply = await sign_in(again, FIRST_ADMIN_EMAIL, NEW_PASSWORD)
                assert "passwordChangeRequired" not in reply, reply
                await assert_free_to_work(again)
                status, body = await again.call(
                    "POST",
                    "/api/auth/login",
                    {"email": FIRST_ADMIN_EMAIL, "password": password},
                )
                assert status == 401, body

        asyncio.run(change())
        second = server.stop()

    assert READY_LINE.format(port=first_port) in first.stdout
    assert first.stdout.count(password) == 1
    assert READY_LINE.format(port=server.port) in second.stdout
    assert "first start" not in second.stdout and password not in second.stdout
    # The structured log says an admin was created, never with what password.
    assert "created the first admin" in first.log
    for run in (first, second):
        assert password not in run.log and NEW_PASSWORD not in run.log
    assert not flagged(database, FIRST_ADMIN_EMAIL)
    logged = fetch(
        database,
        "SELECT count(*) AS n FROM trading_logs WHERE concat_ws(' ', message, details::text,"
        " stack) LIKE '%' || $1 || '%' OR concat_ws(' ', message, details::text, stack)"
        " LIKE '%' || $2 || '%'",
        password,
        NEW_PASSWORD,
    )
    assert logged[0]["n"] == 0
    hashes = fetch(database, "SELECT password_hash FROM users")
    assert all(password not in row["password_hash"] for row in hashes)


def test_first_start_when_admin_from_environment_then_not_flagged_and_nothing_printed(
    database: str,
) -> None:
    env = {ADMIN_EMAIL_ENV: ENV_ADMIN_EMAIL, ADMIN_PASSWORD_ENV: ENV_ADMIN_PASSWORD}
    with serving(database, env) as server:
        server.start()

        async def scenario() -> None:
            async with client_session() as session:
                admin = Client(session, server.base)
                reply = await sign_in(admin, ENV_ADMIN_EMAIL, ENV_ADMIN_PASSWORD)
                assert "passwordChangeRequired" not in reply, reply
                status, body = await admin.call("GET", "/api/trading/funds")
                assert status == 200, body

        asyncio.run(scenario())
        run = server.stop()
    assert "first start" not in run.stdout
    assert READY_LINE.format(port=server.port) in run.stdout
    assert not flagged(database, ENV_ADMIN_EMAIL)
    admins = fetch(database, "SELECT email FROM users WHERE role = 'ADMIN'")
    assert [row["email"] for row in admins] == [ENV_ADMIN_EMAIL]


def test_first_start_when_admin_from_create_admin_then_not_flagged_and_nothing_printed(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, database)
    argv = ["create-admin", "--email", ENV_ADMIN_EMAIL, "--password", ENV_ADMIN_PASSWORD]
    assert main(argv) == 0
    assert "created" in capsys.readouterr().out
    with serving(database) as server:
        server.start()

        async def scenario() -> None:
            async with client_session() as session:
                admin = Client(session, server.base)
                reply = await sign_in(admin, ENV_ADMIN_EMAIL, ENV_ADMIN_PASSWORD)
                assert "passwordChangeRequired" not in reply, reply
                status, body = await admin.call("GET", "/api/admin/users")
                assert status == 200, body

        asyncio.run(scenario())
        run = server.stop()
    assert "first start" not in run.stdout
    assert not flagged(database, ENV_ADMIN_EMAIL)
    assert fetchval(database, "SELECT count(*) FROM users WHERE role = 'ADMIN'") == 1
