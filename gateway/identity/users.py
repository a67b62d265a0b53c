"""Users and their trading accounts in Postgres, with the ownership cache every route checks.

It also keeps, in memory, the users who must change their password before anything else (the
first admin with a generated password): every request asks, so it is never a query. The set
is read from Postgres at start (:meth:`UserStore.load_password_changes_due`) and only this
process sets or clears the flag afterwards (the first start sets it, a password change clears
it).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from gateway.database import Database
from gateway.views import iso_moment


class EmailTakenError(Exception):
    """Registration with an email that already has a user."""


def user_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "createdAt": iso_moment(row["created_at"]),
    }


class UserStore:
    """SQL for users and account ownership (always parameterized)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._accounts_by_user: dict[str, tuple[str, ...]] = {}
        self._password_change_due: set[str] = set()

    async def create(
        self,
        email: str,
        name: str,
        password_hash: str,
        role: str = "USER",
        *,
        must_change_password: bool = False,
        opening_balance_paise: int = 0,
    ) -> tuple[Any, str]:
        """Create a user and their trading account (owed ``opening_balance_paise``, see
        ``gateway.opening_balances``) in one transaction; return (row, account id)."""
        user_id = str(uuid.uuid4())
        account_id = str(uuid.uuid4())
        async with self.db.pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    "INSERT INTO users (id, email, name, password_hash, role, must_change_password)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                    user_id,
                    email.lower(),
                    name,
                    password_hash,
                    role,
                    must_change_password,
                )
            except asyncpg.UniqueViolationError:
                raise EmailTakenError(email) from None
            await conn.execute(
                "INSERT INTO trading_accounts (id, user_id, opening_balance_paise)"
                " VALUES ($1, $2, $3)",
                account_id,
                user_id,
                opening_balance_paise,
            )
        self._accounts_by_user[user_id] = (account_id,)
        if must_change_password:
            self._password_change_due.add(user_id)
        return row, account_id

    async def by_email(self, email: str) -> Any:
        return await self.db.pool.fetchrow("SELECT * FROM users WHERE email = $1", email.lower())

    async def by_id(self, user_id: str) -> Any:
        return await self.db.pool.fetchrow("SELECT * FROM users WHERE id = $1", user_id)

    async def any_admin(self) -> bool:
        return bool(await self.db.pool.fetchval("SELECT 1 FROM users WHERE role = 'ADMIN' LIMIT 1"))

    async def accounts_of(self, user_id: str) -> tuple[str, ...]:
        """The trading account ids a user owns, oldest first (cached: ownership never changes)."""
        cached = self._accounts_by_user.get(user_id)
        if cached is not None:
            return cached
        rows = await self.db.pool.fetch(
            "SELECT id FROM trading_accounts WHERE user_id = $1 ORDER BY created_at", user_id
        )
        owned = tuple(row["id"] for row in rows)
        self._accounts_by_user[user_id] = owned
        return owned

    async def owns(self, user_id: str, account_id: str) -> bool:
        return account_id in await self.accounts_of(user_id)

    async def set_name(self, user_id: str, name: str) -> Any:
        return await self.db.pool.fetchrow(
            "UPDATE users SET name = $2, updated_at = now() WHERE id = $1 RETURNING *",
            user_id,
            name,
        )

    async def set_role(self, user_id: str, role: str) -> None:
        await self.db.pool.execute(
            "UPDATE users SET role = $2, updated_at = now() WHERE id = $1", user_id, role
        )

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Store a new hash of the same password (a rehash at login): the flag stays."""
        await self.db.pool.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            user_id,
            password_hash,
        )

    async def change_password(self, user_id: str, password_hash: str) -> None:
        """Store the hash of a password the user chose, which ends a required change."""
        await self.db.pool.execute(
            "UPDATE users SET password_hash = $2, must_change_password = false, updated_at = now()"
            " WHERE id = $1",
            user_id,
            password_hash,
        )
        self._password_change_due.discard(user_id)

    async def load_password_changes_due(self) -> None:
        """Read which users must change their password (once, at start)."""
        rows = await self.db.pool.fetch("SELECT id FROM users WHERE must_change_password")
        self._password_change_due = {row["id"] for row in rows}

    def password_change_due(self, user_id: str) -> bool:
        """Whether this user must change their password before doing anything else."""
        return user_id in self._password_change_due
