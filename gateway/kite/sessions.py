"""Kite Connect sessions: a login's ``request_token``, its exchange for an ``access_token``
against the app's checksum, and the check of every Kite request's token.

Tokens are random, handed out once and stored by their SHA-256 (``persistence.api_apps``).
A request token lives ``kite.request_token_ttl_s`` and is used once; an access token ends at the
next ``kite.session_expiry_hour_ist`` (06:00 IST) after it was issued, as Kite's do, or when the
app is deleted or the token invalidated (``DELETE /session/token``). Checks are cached for a
few seconds (``auth.session_cache_s``) to keep Postgres off every request's path; invalidation
evicts at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from asyncpg import Record

from engine.config import Config
from gateway.database import Database
from gateway.identity.sessions import token_hash
from gateway.kite.access import KiteAccess
from gateway.kite.app_secrets import app_secret, checksum_matches
from persistence import api_apps

TOKEN_BYTES = 24
CACHE_MAX = 100_000


def next_session_end(now: datetime, hour_ist: int, offset_minutes: int) -> datetime:
    """The first ``hour_ist``:00 local time strictly after ``now`` (an aware datetime), in UTC."""
    local_zone = timezone(timedelta(minutes=offset_minutes))
    local = now.astimezone(local_zone)
    end = local.replace(hour=hour_ist, minute=0, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What ``POST /session/token`` answers besides the profile."""

    access: KiteAccess
    access_token: str
    login_time: datetime


class KiteSessions:
    """Issue, exchange, check and revoke the facade's tokens."""

    def __init__(self, db: Database, config: Config, secret_key: bytes) -> None:
        self.db = db
        self.secret_key = secret_key
        self.request_token_ttl = timedelta(seconds=config.kite.request_token_ttl_s)
        self.expiry_hour_ist = config.kite.session_expiry_hour_ist
        self.offset_minutes = config.sessions.timezone_offset_minutes
        self.cache_s = config.auth.session_cache_s
        self._cache: dict[str, tuple[float, KiteAccess]] = {}

    def secret_of(self, app: Record) -> str:
        return app_secret(self.secret_key, app["id"], bytes(app["secret_salt"]))

    async def app_by_key(self, api_key: str) -> Record | None:
        return await api_apps.app_by_key(self.db.pool, api_key)

    async def issue_request_token(self, app: Record, user_id: str) -> str:
        """A one-use request token for ``app``, after ``user_id`` signed in and consented."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = datetime.now(UTC) + self.request_token_ttl
        await api_apps.insert_request_token(
            self.db.pool, token_hash(token), app["id"], user_id, expires_at
        )
        return token

    async def exchange(
        self, app: Record, request_token: str, checksum: str
    ) -> IssuedSession | None:
        """The access token for a request token whose checksum proves the app's secret; None
        when the checksum is wrong or the request token unknown, used, expired or another
        app's."""
        if not checksum_matches(checksum, app["api_key"], request_token, self.secret_of(app)):
            return None
        user_id = await api_apps.use_request_token(
            self.db.pool, token_hash(request_token), app["id"]
        )
        if user_id is None:
            return None
        return await self.issue_access_token(app, user_id)

    async def issue_access_token(self, app: Record, user_id: str) -> IssuedSession:
        """An access token for ``app`` acting for ``user_id`` (also the console's headless
        token)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = datetime.now(UTC)
        expires_at = next_session_end(now, self.expiry_hour_ist, self.offset_minutes)
        await api_apps.insert_access_token(
            self.db.pool, token_hash(token), app["id"], user_id, expires_at
        )
        access = KiteAccess(
            user_id=user_id,
            account_id=app["trading_account_id"],
            app_id=app["id"],
            api_key=app["api_key"],
            expires_at=expires_at,
        )
        return IssuedSession(access=access, access_token=token, login_time=now)

    async def authenticate(self, api_key: str, access_token: str) -> KiteAccess | None:
        """The grant of a live ``access_token`` issued to the app ``api_key``, or None."""
        hashed = token_hash(access_token)
        now = time.monotonic()
        cached = self._cache.get(hashed)
        if cached is not None and now - cached[0] < self.cache_s:
            access = cached[1]
        else:
            row = await api_apps.live_access(self.db.pool, hashed)
            if row is None:
                self._cache.pop(hashed, None)
                return None
            access = KiteAccess(
                user_id=row["user_id"],
                account_id=row["trading_account_id"],
                app_id=row["app_id"],
                api_key=row["api_key"],
                expires_at=row["expires_at"],
            )
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[hashed] = (now, access)
        if access.api_key != api_key or access.expires_at <= datetime.now(UTC):
            return None
        return access

    async def revoke(self, access: KiteAccess, access_token: str) -> bool:
        hashed = token_hash(access_token)
        self._cache.pop(hashed, None)
        return await api_apps.revoke_access_token(self.db.pool, hashed, access.app_id)

    def forget_app(self, app_id: str) -> None:
        """Drop the cached grants of a deleted app (its tokens are revoked in Postgres)."""
        for hashed, (_, access) in list(self._cache.items()):
            if access.app_id == app_id:
                del self._cache[hashed]
