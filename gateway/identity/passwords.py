"""Password policy and hashing.

New hashes are argon2id (``argon2-cffi``) with the parameters in ``[auth]``; the defaults are
OWASP's minimum (19 MiB, 2 passes, 1 lane). Hashes of older schemes (``scrypt$...``) and argon2
hashes weaker than the configured parameters still verify, and :func:`needs_rehash` tells the
login route to store a fresh hash once the password is known to be right.

A hash costs tens of milliseconds of CPU and its memory cost in RAM, so :class:`PasswordHasher`
runs hashes on its own threads, never on the event loop: at most ``concurrency_max`` at once and
``queue_max`` waiting; past that it answers 503 at once rather than queue without bound.

The policy refuses passwords shorter than 8 characters, the 10,000 most common ones (with
repeats and runs such as ``aaaaaaaa`` and ``abcdefgh``), and ones containing the name part of
the owner's email.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hashlib
import hmac
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import argon2
from aiohttp import web
from argon2.exceptions import InvalidHashError, VerificationError

from engine.config import AuthConfig
from gateway.errors import ApiError, error_response

T = TypeVar("T")

COMMON_PASSWORDS_PATH = Path(__file__).with_name("common_passwords.txt")
PASSWORD_MIN_CHARS = 8
EMAIL_NAME_MIN_CHARS = 3  # shorter email names ("jo@") would refuse too many passwords
REPEAT_PERIOD_MAX = 4  # "abababab", "abcdabcd": a short unit repeated
RUN_STEP_MAX = 5  # "abcdefgh", "acegikmo", "87654321": characters at a fixed step
SALT_BYTES = 16
KEY_BYTES = 32
SCRYPT_MAXMEM_BYTES = 64 * 1024 * 1024


class PasswordRefusal(enum.Enum):
    """Why a password may not be used, in precedence order."""

    TOO_SHORT = "PASSWORD_TOO_SHORT"
    TOO_COMMON = "PASSWORD_TOO_COMMON"
    CONTAINS_EMAIL = "PASSWORD_CONTAINS_EMAIL"


REFUSAL_MESSAGES = {
    PasswordRefusal.TOO_SHORT: f"must be at least {PASSWORD_MIN_CHARS} characters",
    PasswordRefusal.TOO_COMMON: (
        "is too common: it is one of the 10,000 most used passwords or a repeat or run of"
        " characters"
    ),
    PasswordRefusal.CONTAINS_EMAIL: "must not contain the name part of the email address",
}


def read_common_passwords(path: Path) -> frozenset[str]:
    """The common-passwords list: one a line, lowercase, ``#`` lines are comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


# Read at import, not on the event loop at the first registration.
COMMON_PASSWORDS = read_common_passwords(COMMON_PASSWORDS_PATH)


def _is_repeat_or_run(text: str) -> bool:
    for period in range(1, min(REPEAT_PERIOD_MAX, len(text) // 2) + 1):
        if text == (text[:period] * len(text))[: len(text)]:
            return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return len(steps) == 1 and abs(steps.pop()) <= RUN_STEP_MAX


def _email_names(email: str) -> set[str]:
    local = email.rpartition("@")[0].lower() if "@" in email else email.lower()
    names = {local, local.split("+", 1)[0]}
    return {name for name in names if len(name) >= EMAIL_NAME_MIN_CHARS}


def password_refusal(password: str, email: str) -> PasswordRefusal | None:
    """Return why ``email``'s owner may not use ``password``, or None when it is acceptable."""
    if len(password) < PASSWORD_MIN_CHARS:
        return PasswordRefusal.TOO_SHORT
    folded = password.lower()
    if folded in COMMON_PASSWORDS or _is_repeat_or_run(folded):
        return PasswordRefusal.TOO_COMMON
    if any(name in folded for name in _email_names(email)):
        return PasswordRefusal.CONTAINS_EMAIL
    return None


def password_refused(refusal: PasswordRefusal, path: str) -> web.Response:
    """422 with the refusal's code, naming the field at fault like a validation error does."""
    message = REFUSAL_MESSAGES[refusal]
    return error_response(
        422, refusal.value, f"The password {message}.", [{"path": path, "message": message}]
    )


# -- hashing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost parameters."""

    memory_kib: int
    time_cost: int
    parallelism: int

    @classmethod
    def of(cls, auth: AuthConfig) -> HashParams:
        return cls(
            auth.password_hash_memory_kib,
            auth.password_hash_time_cost,
            auth.password_hash_parallelism,
        )

    def hasher(self) -> argon2.PasswordHasher:
        return argon2.PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=KEY_BYTES,
            salt_len=SALT_BYTES,
            type=argon2.Type.ID,
        )


def hash_password(password: str, params: HashParams) -> str:
    """Hash with argon2id (blocking: call it off the event loop)."""
    return params.hasher().hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against an argon2 or legacy scrypt hash (blocking)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return argon2.PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=SCRYPT_MAXMEM_BYTES,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str, params: HashParams) -> bool:
    """Whether ``stored`` is of an older scheme or weaker than ``params``."""
    try:
        found = argon2.extract_parameters(stored)
    except InvalidHashError:
        return True
    return (
        found.type is not argon2.Type.ID
        or found.version < argon2.low_level.ARGON2_VERSION
        or found.memory_cost < params.memory_kib
        or found.time_cost < params.time_cost
        or found.hash_len < KEY_BYTES
    )


def dummy_hash(params: HashParams) -> str:
    """A hash no password matches that costs as much to check as a real one.

    Checking it when an email is unknown keeps login timing the same either way.
    """
    salt = base64.b64encode(b"\0" * SALT_BYTES).decode().rstrip("=")
    key = base64.b64encode(b"\0" * KEY_BYTES).decode().rstrip("=")
    return (
        f"$argon2id$v={argon2.low_level.ARGON2_VERSION}"
        f"$m={params.memory_kib},t={params.time_cost},p={params.parallelism}${salt}${key}"
    )


class HashingBusyError(ApiError):
    """More hashes asked for than the hasher runs and queues: 503, try again shortly."""

    def __init__(self) -> None:
        super().__init__(
            error_response(
                503,
                "UNAVAILABLE",
                "The server is busy checking passwords; try again in a moment.",
                headers={"Retry-After": "1"},
            )
        )


class PasswordHasher:
    """Hash and verify on dedicated threads, with bounded concurrency and a bounded queue."""

    def __init__(self, params: HashParams, concurrency_max: int, queue_max: int) -> None:
        self.params = params
        self.dummy_hash = dummy_hash(params)
        self._admitted_max = concurrency_max + queue_max
        self._admitted = 0
        self._executor = ThreadPoolExecutor(concurrency_max, thread_name_prefix="password-hash")

    @classmethod
    def from_config(cls, auth: AuthConfig) -> PasswordHasher:
        return cls(
            HashParams.of(auth),
            auth.password_hashing_concurrency_max,
            auth.password_hashing_queue_max,
        )

    def has_room(self) -> bool:
        return self._admitted < self._admitted_max

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password, self.params)

    async def verify(self, password: str, stored: str | None) -> bool:
        """Check ``password``; with no ``stored`` hash check the dummy (same cost) and refuse."""
        valid = await self._run(verify_password, password, stored or self.dummy_hash)
        return valid and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        return needs_rehash(stored, self.params)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        # Admission is decided before the first await, so it cannot race on the loop.
        if not self.has_room():
            raise HashingBusyError()
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._admitted -= 1

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
