"""Sessions in Postgres (``sessions``): stored by the SHA-256 of their token, resolved to their
user while live, revoked, and asked whether they have ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from asyncpg import Record

from persistence.pool import Pool


async def insert_session(
    pool: Pool, token_hash: str, user_id: str, csrf_token: str, expires_at: datetime
) -> None:
    await pool.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)"
        " VALUES ($1, $2, $3, $4)",
        token_hash,
        user_id,
        csrf_token,
        expires_at,
    )


async def live_session(pool: Pool, token_hash: str) -> Record | None:
    """The user of a live session (neither revoked nor expired) with its CSRF token and
    expiry, or None."""
    return await pool.fetchrow(
        """
        SELECT u.id, u.email, u.name, u.role, u.created_at, s.csrf_token, s.expires_at
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
        """,
        token_hash,
    )


async def revoke_session(pool: Pool, token_hash: str) -> None:
    await pool.execute(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )


async def revoke_sessions_of(pool: Pool, user_id: str, keep: str | None) -> list[str]:
    """Revoke every live session of a user but ``keep``; the token hashes revoked."""
    rows = await pool.fetch(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
        " AND token_hash IS DISTINCT FROM $2 RETURNING token_hash",
        user_id,
        keep,
    )
    return [row["token_hash"] for row in rows]


async def session_states(pool: Pool, token_hashes: Sequence[str]) -> dict[str, Record]:
    """Each stored session among ``token_hashes``, by token hash, with ``revoked`` and
    ``expired`` (a session missing from the answer has no row)."""
    rows = await pool.fetch(
        "SELECT token_hash, revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired"
        " FROM sessions WHERE token_hash = ANY($1::text[])",
        list(token_hashes),
    )
    return {row["token_hash"]: row for row in rows}
