"""The password policy and hashing, without a server.

Proves: common passwords (the shipped 10,000 from zxcvbn, any case, plus repeats and runs),
short ones and ones holding the email's name are refused, each with its code; the shipped
defaults hash with argon2id at OWASP's minimum; legacy scrypt hashes still verify and are
marked for rehashing, as are weaker argon2 ones; the dummy hash refuses every password at the
real cost parameters; and the hasher runs off the event loop, with at most its threads plus its
queue admitted and the rest refused with a 503.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time

import argon2
import pytest

from engine.config import load_config
from gateway.identity.passwords import (
    COMMON_PASSWORDS,
    HashingBusyError,
    HashParams,
    PasswordHasher,
    PasswordRefusal,
    dummy_hash,
    hash_password,
    needs_rehash,
    password_refusal,
    verify_password,
)

CHEAP = HashParams(memory_kib=1024, time_cost=1, parallelism=1)
EMAIL = "asha.rao@paperdesk.test"


def legacy_scrypt_hash(password: str) -> str:
    """A hash as the server stored them before argon2id (scrypt N=2^14, r=8, p=1)."""
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password1",
        "iloveyou",
        "12345678",
        "qwertyuiop",
        "aaaaaaaa",
        "ZZZZZZZZZZZZ",
        "abcdefgh",
        "87654321",
        "acegikmo",
        "abababab",
        "abcdabcdabcd",
    ],
)
def test_password_refusal_when_common_repeat_or_run_then_too_common(password: str) -> None:
    assert password_refusal(password, EMAIL) is PasswordRefusal.TOO_COMMON


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("asha.rao-2024!", "asha.rao@paperdesk.test"),
        ("My-ASHA.RAO-key", "asha.rao@paperdesk.test"),
        ("meera-trades-77", "meera+desk@paperdesk.test"),
        ("kestrel-admin-42", "admin@paperdesk.test"),
    ],
)
def test_password_refusal_when_holding_email_name_then_contains_email(
    password: str, email: str
) -> None:
    assert password_refusal(password, email) is PasswordRefusal.CONTAINS_EMAIL


def test_password_refusal_when_shorter_than_8_then_too_short() -> None:
    assert password_refusal("k3s-tr1", EMAIL) is PasswordRefusal.TOO_SHORT


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("kestrel-ledger-42", EMAIL),
        ("correct horse battery staple", EMAIL),
        ("password-123", "trader@paperdesk.test"),
        ("jo-kestrel-9", "jo@paperdesk.test"),  # names under 3 characters are not checked
    ],
)
def test_password_refusal_when_uncommon_and_free_of_email_then_none(
    password: str, email: str
) -> None:
    assert password_refusal(password, email) is None


def test_common_passwords_when_loaded_then_ten_thousand_most_common_first() -> None:
    common = COMMON_PASSWORDS
    assert len(common) == 10_000
    assert {"123456", "password", "qwerty", "trustno1"} <= common
    assert all(entry == entry.lower() for entry in common)


def test_hash_password_when_shipped_defaults_then_argon2id_at_owasp_minimum() -> None:
    params = HashParams.of(load_config().auth)
    stored = hash_password("kestrel-ledger-42", params)
    found = argon2.extract_parameters(stored)
    assert found.type is argon2.Type.ID
    assert found.memory_cost >= 19 * 1024
    assert found.time_cost >= 2
    assert found.parallelism >= 1
    assert verify_password("kestrel-ledger-42", stored)
    assert not verify_password("kestrel-ledger-43", stored)
    assert not needs_rehash(stored, params)


def test_verify_password_when_legacy_scrypt_hash_then_checked_and_rehash_needed() -> None:
    stored = legacy_scrypt_hash("kestrel-ledger-42")
    assert verify_password("kestrel-ledger-42", stored)
    assert not verify_password("kestrel-ledger-43", stored)
    assert needs_rehash(stored, CHEAP)


def test_needs_rehash_when_argon2_weaker_than_configured_then_true() -> None:
    weak = hash_password("kestrel-ledger-42", CHEAP)
    assert needs_rehash(weak, HashParams(memory_kib=2048, time_cost=1, parallelism=1))
    assert needs_rehash(weak, HashParams(memory_kib=1024, time_cost=2, parallelism=1))
    assert not needs_rehash(weak, CHEAP)
    argon2i = argon2.PasswordHasher(memory_cost=1024, time_cost=1, type=argon2.Type.I).hash("x")
    assert verify_password("x", argon2i)
    assert needs_rehash(argon2i, CHEAP)


def test_dummy_hash_when_checked_then_refused_at_configured_cost() -> None:
    params = HashParams.of(load_config().auth)
    stored = dummy_hash(params)
    found = argon2.extract_parameters(stored)
    assert (found.memory_cost, found.time_cost, found.parallelism) == (
        params.memory_kib,
        params.time_cost,
        params.parallelism,
    )
    assert not verify_password("", stored)
    assert not verify_password("kestrel-ledger-42", stored)


def test_hasher_when_more_asked_than_threads_and_queue_then_excess_refused_503() -> None:
    async def main() -> list[object]:
        hasher = PasswordHasher(CHEAP, concurrency_max=1, queue_max=2)
        try:
            jobs = [hasher.hash(f"kestrel-ledger-{i}") for i in range(5)]
            return list(await asyncio.gather(*jobs, return_exceptions=True))
        finally:
            await hasher.close()

    outcomes = asyncio.run(main())
    hashes = [o for o in outcomes if isinstance(o, str)]
    refusals = [o for o in outcomes if isinstance(o, HashingBusyError)]
    assert (len(hashes), len(refusals)) == (3, 2)
    assert refusals[0].response.status == 503
    assert refusals[0].response.headers["Retry-After"] == "1"


def test_hasher_when_hashing_then_event_loop_keeps_running() -> None:
    slow = HashParams(memory_kib=64 * 1024, time_cost=6, parallelism=1)

    async def main() -> tuple[int, float]:
        hasher = PasswordHasher(slow, concurrency_max=1, queue_max=0)
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        started = time.perf_counter()
        await hasher.hash("kestrel-ledger-42")
        elapsed = time.perf_counter() - started
        done = True
        await task
        await hasher.close()
        return ticks, elapsed

    ticks, elapsed = asyncio.run(main())
    # On the loop the hash would block it: the ticker could not run until it ended.
    assert elapsed > 0.1
    assert ticks >= 10
