"""Sessions: random tokens stored hashed in Postgres (``persistence.sessions``), with expiry,
revocation and CSRF tokens.

The raw token goes to the client once (cookie and/or bearer); the database keeps only its
SHA-256, so a leaked table does not leak sessions. Lookups are cached for a few seconds to keep
Postgres off the hot path of every request; logout evicts the cache entry at once.

Whatever outlives a request (open websockets) registers in ``listeners`` to hear at once when
this process ends a session, and asks :meth:`SessionStore.ended_among` for sessions ended
elsewhere (another process, the database, the clock).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gateway.database import Database
from persistence import sessions

TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionEnd(StrEnum):
    """Why a session stopped being live."""

    LOGOUT = "LOGOUT"
    REVOKED = "REVOKED"  # every other session of the user, after a password change; or elsewhere
    EXPIRED = "EXPIRED"


SessionListener = Callable[[Sequence[str], SessionEnd], None]


@dataclass(frozen=True, slots=True)
class SessionUser:
    """Who a request acts as: taken from the session, never from the body."""

    user_id: str
    email: str
    name: str
    role: str
    created_at: datetime
    csrf_token: str
    expires_at: datetime
    token_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


class SessionStore:
    """Create, resolve and revoke sessions (the ``sessions`` table, ``persistence.sessions``)."""

    def __init__(self, db: Database, ttl_hours: int, cache_s: float) -> None:
        self.db = db
        self.ttl = timedelta(hours=ttl_hours)
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, SessionUser]] = {}
        self.listeners: list[SessionListener] = []  # told (token hashes, why) as sessions end

    async def create(self, user_id: str) -> tuple[str, str, datetime]:
        """Start a session; return (token, csrf token, expiry)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        csrf = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = datetime.now(UTC) + self.ttl
        await sessions.insert_session(self.db.pool, token_hash(token), user_id, csrf, expires_at)
        return token, csrf, expires_at

    async def resolve(self, token: str) -> SessionUser | None:
        """The live session for a raw token, or None (unknown, expired or revoked)."""
        hashed = token_hash(token)
        now = time.monotonic()
        cached = self._cache.get(hashed)
        if cached is not None and now - cached[0] < self.cache_s:
            user = cached[1]
            return user if user.expires_at > datetime.now(UTC) else None
        row = await sessions.live_session(self.db.pool, hashed)
        if row is None:
            self._cache.pop(hashed, None)
            return None
        user = SessionUser(
            user_id=row["id"],
            email=row["email"],
            name=row["name"],
            role=row["role"],
            created_at=row["created_at"],
            csrf_token=row["csrf_token"],
            expires_at=row["expires_at"],
            token_hash=hashed,
        )
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[hashed] = (now, user)
        return user

    async def revoke(self, hashed: str) -> None:
        """End one session (logout)."""
        self._cache.pop(hashed, None)
        await sessions.revoke_session(self.db.pool, hashed)
        self._tell([hashed], SessionEnd.LOGOUT)

    async def revoke_all_for(self, user_id: str, keep: str | None = None) -> None:
        """Revoke every session of a user but ``keep`` (after a password change)."""
        ended = await sessions.revoke_sessions_of(self.db.pool, user_id, keep)
        for hashed in ended:
            self._cache.pop(hashed, None)
        self._tell(ended, SessionEnd.REVOKED)

    async def ended_among(self, hashes: Sequence[str]) -> dict[str, SessionEnd]:
        """Which of these sessions are no longer live, and why (from Postgres, not the cache)."""
        found = await sessions.session_states(self.db.pool, hashes)
        ended: dict[str, SessionEnd] = {}
        for hashed in hashes:
            row = found.get(hashed)
            if row is None or row["revoked"]:  # a deleted row (user removed) counts as revoked
                ended[hashed] = SessionEnd.REVOKED
            elif row["expired"]:
                ended[hashed] = SessionEnd.EXPIRED
        for hashed in ended:
            self._cache.pop(hashed, None)
        return ended

    def _tell(self, hashes: Sequence[str], reason: SessionEnd) -> None:
        if hashes:
            for listener in self.listeners:
                listener(hashes, reason)
