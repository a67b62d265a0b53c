"""Users in Postgres: a new user with their trading account, finding one, and what changes
on a user (name, role, password hash, the required password change)."""

from __future__ import annotations

import asyncpg
from asyncpg import Record

from persistence.pool import Pool


class EmailTakenError(Exception):
    """Registration with an email that already has a user."""


async def create_user(
    pool: Pool,
    *,
    user_id: str,
    account_id: str,
    email: str,
    name: str,
    password_hash: str,
    role: str,
    must_change_password: bool,
    opening_balance_paise: int,
) -> Record:
    """Insert the user and their trading account (owed ``opening_balance_paise``) in one
    transaction; return the user's row. :class:`EmailTakenError` if the email has a user."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO users (id, email, name, password_hash, role, must_change_password)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                user_id,
                email,
                name,
                password_hash,
                role,
                must_change_password,
            )
        except asyncpg.UniqueViolationError:
            raise EmailTakenError(email) from None
        await conn.execute(
            "INSERT INTO trading_accounts (id, user_id, opening_balance_paise) VALUES ($1, $2, $3)",
            account_id,
            user_id,
            opening_balance_paise,
        )
    return row


async def user_by_email(pool: Pool, email: str) -> Record | None:
    return await pool.fetchrow("SELECT * FROM users WHERE email = $1", email)


async def user_by_id(pool: Pool, user_id: str) -> Record | None:
    return await pool.fetchrow("SELECT * FROM users WHERE id = $1", user_id)


async def any_admin(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM users WHERE role = 'ADMIN' LIMIT 1"))


async def set_name(pool: Pool, user_id: str, name: str) -> Record | None:
    """Rename the user; their row as it now is."""
    return await pool.fetchrow(
        "UPDATE users SET name = $2, updated_at = now() WHERE id = $1 RETURNING *",
        user_id,
        name,
    )


async def set_role(pool: Pool, user_id: str, role: str) -> None:
    await pool.execute(
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1", user_id, role
    )


async def set_password_hash(pool: Pool, user_id: str, password_hash: str) -> None:
    """Store a new hash of the same password (a rehash at login): the required change stays."""
    await pool.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )


async def change_password(pool: Pool, user_id: str, password_hash: str) -> None:
    """Store the hash of a password the user chose, which ends a required change."""
    await pool.execute(
        "UPDATE users SET password_hash = $2, must_change_password = false, updated_at = now()"
        " WHERE id = $1",
        user_id,
        password_hash,
    )


async def password_changes_due(pool: Pool) -> set[str]:
    """The ids of the users who must change their password."""
    rows = await pool.fetch("SELECT id FROM users WHERE must_change_password")
    return {row["id"] for row in rows}
