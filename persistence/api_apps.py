"""API apps and their Kite tokens in Postgres (``api_apps``, ``kite_request_tokens``,
``kite_access_tokens``): tokens are stored by their SHA-256 only, secrets not at all."""

from __future__ import annotations

from datetime import datetime

from asyncpg import Record

from persistence.pool import Pool
from persistence.user_limits import has_room

APP_COLUMNS = (
    "id, user_id, trading_account_id, name, api_key, secret_salt, redirect_url, created_at"
)


async def insert_app(
    pool: Pool,
    *,
    app_id: str,
    user_id: str,
    account_id: str,
    name: str,
    api_key: str,
    secret_salt: bytes,
    redirect_url: str,
    apps_max: int,
) -> Record | None:
    """A new app of ``user_id``; None when they already have ``apps_max`` live ones (counted
    under a lock of theirs, so two requests at once cannot both take the last place)."""
    count = "SELECT count(*) FROM api_apps WHERE user_id = $1 AND deleted_at IS NULL"
    async with pool.acquire() as conn, conn.transaction():
        if not await has_room(conn, "apps", user_id, count, apps_max):
            return None
        row: Record = await conn.fetchrow(
            "INSERT INTO api_apps (id, user_id, trading_account_id, name, api_key,"
            f" secret_salt, redirect_url) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            f" RETURNING {APP_COLUMNS}",
            app_id,
            user_id,
            account_id,
            name,
            api_key,
            secret_salt,
            redirect_url,
        )
    return row


async def apps_of_user(pool: Pool, user_id: str) -> list[Record]:
    """The user's live apps, oldest first."""
    return await pool.fetch(
        f"SELECT {APP_COLUMNS} FROM api_apps WHERE user_id = $1 AND deleted_at IS NULL"
        " ORDER BY created_at, id",
        user_id,
    )


async def app_of_user(pool: Pool, user_id: str, app_id: str) -> Record | None:
    return await pool.fetchrow(
        f"SELECT {APP_COLUMNS} FROM api_apps WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
        app_id,
        user_id,
    )


async def app_by_key(pool: Pool, api_key: str) -> Record | None:
    return await pool.fetchrow(
        f"SELECT {APP_COLUMNS} FROM api_apps WHERE api_key = $1 AND deleted_at IS NULL", api_key
    )


async def delete_app(pool: Pool, user_id: str, app_id: str) -> bool:
    """Delete the app and revoke its access tokens; False if it was not the user's live app."""
    async with pool.acquire() as conn, conn.transaction():
        deleted = await conn.fetchval(
            "UPDATE api_apps SET deleted_at = now()"
            " WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL RETURNING id",
            app_id,
            user_id,
        )
        if deleted is None:
            return False
        await conn.execute(
            "UPDATE kite_access_tokens SET revoked_at = now()"
            " WHERE app_id = $1 AND revoked_at IS NULL",
            app_id,
        )
    return True


async def insert_request_token(
    pool: Pool, token_hash: str, app_id: str, user_id: str, expires_at: datetime
) -> None:
    await pool.execute(
        "INSERT INTO kite_request_tokens (token_hash, app_id, user_id, expires_at)"
        " VALUES ($1, $2, $3, $4)",
        token_hash,
        app_id,
        user_id,
        expires_at,
    )


async def use_request_token(pool: Pool, token_hash: str, app_id: str) -> str | None:
    """Mark a live, unused request token of ``app_id`` used; its user, or None."""
    user_id: str | None = await pool.fetchval(
        "UPDATE kite_request_tokens SET used_at = now()"
        " WHERE token_hash = $1 AND app_id = $2 AND used_at IS NULL AND expires_at > now()"
        " RETURNING user_id",
        token_hash,
        app_id,
    )
    return user_id


async def insert_access_token(
    pool: Pool, token_hash: str, app_id: str, user_id: str, expires_at: datetime
) -> None:
    await pool.execute(
        "INSERT INTO kite_access_tokens (token_hash, app_id, user_id, expires_at)"
        " VALUES ($1, $2, $3, $4)",
        token_hash,
        app_id,
        user_id,
        expires_at,
    )


async def live_access(pool: Pool, token_hash: str) -> Record | None:
    """The app (``api_key``, account, user) of a live access token and its expiry, or None."""
    return await pool.fetchrow(
        "SELECT a.id AS app_id, a.api_key, a.user_id, a.trading_account_id, t.expires_at"
        " FROM kite_access_tokens t JOIN api_apps a ON a.id = t.app_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
        " AND a.deleted_at IS NULL",
        token_hash,
    )


async def revoke_access_token(pool: Pool, token_hash: str, app_id: str) -> bool:
    revoked = await pool.fetchval(
        "UPDATE kite_access_tokens SET revoked_at = now()"
        " WHERE token_hash = $1 AND app_id = $2 AND revoked_at IS NULL RETURNING 1",
        token_hash,
        app_id,
    )
    return revoked is not None
