"""Registration, login and password checks are throttled and weak passwords refused, over HTTP.

The real server on loopback with a real PostgreSQL; other clients come from other loopback
addresses (127.0.0.2, ...), so limits per client address are seen as a server sees them. Proves:
the 11th registration from one address within the hour is 429 (the shipped default), a global
registration limit covers every address, one address may try only so many different emails at
login, hashing beyond its threads and queue answers 503, the console's current-password check
counts against the login limit per user, common passwords and ones holding the email's name are
refused with their code and field, new hashes are argon2id at OWASP's minimum and old (scrypt)
or weaker ones are replaced at login, and a weak admin password from the environment stops the
server from starting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from engine.config import load_config
from engine.domain.instruments import InstrumentMaster
from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, AdminPasswordRefusedError, create_app
from gateway.cli import main
from gateway.identity.passwords import HashParams, hash_password, verify_password
from persistence.embedded import DATABASE_URL_ENV
from tests.e2e.conftest import Client, e2e_config, run_scenario
from tests.support.live_server import free_port
from tests.unit.test_passwords import legacy_scrypt_hash

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "password-123"
OWASP_ARGON2ID = "$argon2id$v=19$m=19456,t=2,p=1$"
CHANGE_PASSWORD = {"action": "CHANGE_PASSWORD", "newPassword": "kestrel-ledger-42"}


def shipped_rate_limits(**overrides: int) -> dict[str, Any]:
    """configs/default.toml's [rate_limits] (the e2e overlay lifts them), with overrides."""
    return dataclasses.asdict(load_config().rate_limits) | overrides


@asynccontextmanager
async def client_from(base: str, address: str) -> AsyncIterator[Client]:
    """A client whose connections come from ``address`` (any 127.x.y.z reaches the server)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Client(session, base)


async def register(client: Client, email: str, password: str = PASSWORD) -> tuple[int, Any, Any]:
    return await client.call(
        "POST", "/api/auth/register", {"email": email, "password": password, "name": "Trader"}
    )


async def login(client: Client, email: str, password: str = PASSWORD) -> tuple[int, Any, Any]:
    return await client.call("POST", "/api/auth/login", {"email": email, "password": password})


async def sql(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


# -- finding 1: registration and login throttled; hashing bounded ----------------------------


def test_register_when_eleventh_from_one_address_in_an_hour_then_429_and_no_account(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        client = Client(session, base)
        for i in range(10):
            status, body, headers = await register(client, f"burst{i}@paperdesk.test")
            assert status == 201, body
            assert headers["X-RateLimit-Limit"] == "10"
            assert headers["X-RateLimit-Remaining"] == str(9 - i)
        status, body, headers = await register(client, "burst10@paperdesk.test")
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        assert headers["X-RateLimit-Remaining"] == "0"
        assert 3500 <= int(headers["Retry-After"]) <= 3600
        assert "X-RateLimit-Reset" in headers
        created = await sql(
            database, "SELECT count(*) FROM users WHERE email LIKE 'burst%@paperdesk.test'"
        )
        assert created == 10
        async with client_from(base, "127.0.0.2") as neighbour:
            status, body, _ = await register(neighbour, "neighbour@paperdesk.test")
            assert status == 201, body

    run_scenario(database, master, scenario, e2e_config(rate_limits=shipped_rate_limits()))


def test_register_when_global_limit_reached_then_429_from_a_new_address(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        for i in range(1, 4):
            async with client_from(base, f"127.0.0.{i}") as client:
                status, body, headers = await register(client, f"spread{i}@paperdesk.test")
                assert status == 201, body
                assert headers["X-RateLimit-Limit"] == "3"  # the tighter of the two limits
                assert headers["X-RateLimit-Remaining"] == str(3 - i)
        async with client_from(base, "127.0.0.4") as client:
            status, body, headers = await register(client, "spread4@paperdesk.test")
            assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
            assert headers["X-RateLimit-Limit"] == "3"
            assert int(headers["Retry-After"]) <= 60

    limits = shipped_rate_limits(registrations_global_per_minute=3)
    run_scenario(database, master, scenario, e2e_config(rate_limits=limits))


def test_login_when_21st_email_from_one_address_in_15_minutes_then_429_for_new_emails(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        client = Client(session, base)
        for i in range(20):
            status, body, headers = await login(client, f"spray{i}@paperdesk.test")
            assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")
        assert headers["X-RateLimit-Remaining"] == "0"
        status, body, headers = await login(client, "spray20@paperdesk.test")
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        assert headers["X-RateLimit-Limit"] == "20"
        assert int(headers["Retry-After"]) > 800
        # An email this address already tried is not a new one: still just a wrong password.
        status, _, _ = await login(client, "spray0@paperdesk.test")
        assert status == 401
        async with client_from(base, "127.0.0.2") as neighbour:
            status, _, _ = await login(neighbour, "spray20@paperdesk.test")
            assert status == 401

    run_scenario(database, master, scenario, e2e_config(rate_limits=shipped_rate_limits()))


def test_register_when_hashing_threads_and_queue_full_then_503_and_later_ones_succeed(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        client = Client(session, base)
        answers = await asyncio.gather(
            *(register(client, f"rush{i}@paperdesk.test") for i in range(6))
        )
        statuses = sorted(status for status, _, _ in answers)
        assert set(statuses) == {201, 503}, statuses
        _, body, headers = next(answer for answer in answers if answer[0] == 503)
        assert body["error"]["code"] == "UNAVAILABLE"
        assert headers["Retry-After"] == "1"
        status, body, _ = await register(client, "after-rush@paperdesk.test")
        assert status == 201, body

    # One slow hash at a time (about half a second) and none waiting: the rest are refused.
    slow = {
        "password_hash_memory_kib": 64 * 1024,
        "password_hash_time_cost": 6,
        "password_hashing_concurrency_max": 1,
        "password_hashing_queue_max": 0,
    }
    run_scenario(database, master, scenario, e2e_config(auth=slow))


# -- finding 2: weak passwords refused; argon2id; old hashes replaced; the admin's checked ----


def test_register_when_password_common_or_holds_email_name_then_422_naming_password(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        client = Client(session, base)
        refused = [
            ("aaaaaaaa", "PASSWORD_TOO_COMMON"),
            ("Password1", "PASSWORD_TOO_COMMON"),
            ("qwertyuiop", "PASSWORD_TOO_COMMON"),
            ("meera-trades-77", "PASSWORD_CONTAINS_EMAIL"),
        ]
        for password, code in refused:
            status, body, _ = await register(client, "meera@paperdesk.test", password)
            assert (status, body["error"]["code"]) == (422, code), password
            assert body["error"]["details"][0]["path"] == "$.password"
        assert (
            await sql(database, "SELECT count(*) FROM users WHERE email = 'meera@paperdesk.test'")
            == 0
        )

        await client.register("meera@paperdesk.test", "kestrel-ledger-42")
        stored = await sql(
            database, "SELECT password_hash FROM users WHERE email = 'meera@paperdesk.test'"
        )
        assert stored.startswith(OWASP_ARGON2ID)
        status, body, _ = await client.call(
            "POST",
            "/api/console",
            CHANGE_PASSWORD | {"currentPassword": "kestrel-ledger-42", "newPassword": "iloveyou"},
        )
        assert (status, body["error"]["code"]) == (422, "PASSWORD_TOO_COMMON")
        assert body["error"]["details"][0]["path"] == "$.newPassword"

    run_scenario(database, master, scenario)


def test_login_when_stored_hash_older_or_weaker_then_accepted_and_replaced_with_argon2id(
    master: InstrumentMaster, database: str
) -> None:
    email = "legacy@paperdesk.test"

    async def stored() -> str:
        value: str = await sql(database, "SELECT password_hash FROM users WHERE email = $1", email)
        return value

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        client = Client(session, base)
        await client.register(email)
        legacy = legacy_scrypt_hash(PASSWORD)
        await sql(database, "UPDATE users SET password_hash = $2 WHERE email = $1", email, legacy)

        status, _, _ = await login(client, email, "wrong-guess-1")
        assert status == 401
        assert await stored() == legacy  # only a right password replaces the hash
        status, body, _ = await login(client, email)
        assert status == 200, body
        upgraded = await stored()
        assert upgraded.startswith(OWASP_ARGON2ID)
        assert verify_password(PASSWORD, upgraded)
        status, _, _ = await login(client, email)
        assert status == 200
        assert await stored() == upgraded  # already current: left alone

        weak = hash_password(PASSWORD, HashParams(memory_kib=1024, time_cost=1, parallelism=1))
        await sql(database, "UPDATE users SET password_hash = $2 WHERE email = $1", email, weak)
        status, _, _ = await login(client, email)
        assert status == 200
        assert (await stored()).startswith(OWASP_ARGON2ID)

    limits = shipped_rate_limits(login_per_15_minutes=100)
    run_scenario(database, master, scenario, e2e_config(rate_limits=limits))


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short7!", "PASSWORD_TOO_SHORT"),
        ("password1", "PASSWORD_TOO_COMMON"),
        ("admin-password-1", "PASSWORD_CONTAINS_EMAIL"),
    ],
)
def test_create_app_when_admin_password_from_environment_weak_then_refused(
    master: InstrumentMaster, monkeypatch: pytest.MonkeyPatch, password: str, code: str
) -> None:
    monkeypatch.setenv(ADMIN_EMAIL_ENV, "admin@paperdesk.test")
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, password)
    with pytest.raises(AdminPasswordRefusedError, match=code) as refused:
        create_app(e2e_config(), master, dsn="postgresql://127.0.0.1:1/never-reached")
    assert ADMIN_PASSWORD_ENV in str(refused.value)


def test_serve_when_admin_password_from_environment_common_then_exits_2_with_reason(
    database: str, tmp_path: Path
) -> None:
    env = dict(os.environ)
    env |= {
        DATABASE_URL_ENV: database,
        ADMIN_EMAIL_ENV: "boss@paperdesk.test",
        ADMIN_PASSWORD_ENV: "trustno1",
    }
    command = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(free_port()), "--data-dir", str(tmp_path / "var")]
    # The old server started regardless and would run until the timeout kills it.
    finished = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 2, finished.stderr[-2000:]
    assert "PAPERDESK_ADMIN_PASSWORD is too common" in finished.stderr
    assert "PASSWORD_TOO_COMMON" in finished.stderr


def test_create_admin_when_password_holds_email_name_then_exit_2() -> None:
    argv = ["create-admin", "--email", "boss@paperdesk.test", "--password", "boss-of-the-desk"]
    assert main(argv) == 2


# -- finding 3: the console's current-password check counts against the login limit ---------


def test_change_password_when_sixth_check_in_15_minutes_then_429_for_every_session_of_user(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("guessed@paperdesk.test")
        for i in range(5):
            status, body, headers = await user.call(
                "POST", "/api/console", CHANGE_PASSWORD | {"currentPassword": f"guess-{i}"}
            )
            assert (status, body["error"]["details"][0]["path"]) == (403, "$.currentPassword")
            assert headers["X-RateLimit-Limit"] == "5"
            assert headers["X-RateLimit-Remaining"] == str(4 - i)
        right = CHANGE_PASSWORD | {"currentPassword": PASSWORD}
        status, body, headers = await user.call("POST", "/api/console", right)
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        assert int(headers["Retry-After"]) > 800
        assert headers["X-RateLimit-Limit"] == "5"

        second = Client(session, base)  # a new session of the same user: same limit
        await second.login("guessed@paperdesk.test", PASSWORD)
        status, body, _ = await second.call("POST", "/api/console", right)
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")

        other = Client(session, base)
        await other.register("unguessed@paperdesk.test")
        status, body, _ = await other.call("POST", "/api/console", right)
        assert status == 200, body
        status, _, _ = await login(Client(session, base), "guessed@paperdesk.test")
        assert status == 200  # the refused change did not happen

    run_scenario(database, master, scenario, e2e_config(rate_limits=shipped_rate_limits()))
