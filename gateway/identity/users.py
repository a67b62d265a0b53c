"""Users and the trading accounts each owns (stored by ``persistence.users`` and
``persistence.trading_accounts``), with the ownership cache every route checks.

It also keeps, in memory, the users who must change their password before anything else (the
first admin with a generated password): every request asks, so it is never a query. The set
is read from Postgres at start (:meth:`UserStore.load_password_changes_due`) and only this
process sets or clears the flag afterwards (the first start sets it, a password change clears
it).
"""

from __future__ import annotations

import uuid
from typing import Any

from gateway.database import Database
from gateway.views import iso_moment
from persistence import users
from persistence.trading_accounts import account_ids_of_user


def user_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "createdAt": iso_moment(row["created_at"]),
    }


class UserStore:
    """Users and account ownership (``persistence.users``), with the caches every request reads."""

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
        ``gateway.opening_balances``) in one transaction; return (row, account id).
        ``persistence.users.EmailTakenError`` if the email has a user."""
        user_id = str(uuid.uuid4())
        account_id = str(uuid.uuid4())
        row = await users.create_user(
            self.db.pool,
            user_id=user_id,
            account_id=account_id,
            email=email.lower(),
            name=name,
            password_hash=password_hash,
            role=role,
            must_change_password=must_change_password,
            opening_balance_paise=opening_balance_paise,
        )
        self._accounts_by_user[user_id] = (account_id,)
        if must_change_password:
            self._password_change_due.add(user_id)
        return row, account_id

    async def by_email(self, email: str) -> Any:
        return await users.user_by_email(self.db.pool, email.lower())

    async def by_id(self, user_id: str) -> Any:
        return await users.user_by_id(self.db.pool, user_id)

    async def any_admin(self) -> bool:
        return await users.any_admin(self.db.pool)

    async def accounts_of(self, user_id: str) -> tuple[str, ...]:
        """The trading account ids a user owns, oldest first (cached: an account never changes
        hands, and this process stores every new one, :meth:`add_account`)."""
        cached = self._accounts_by_user.get(user_id)
        if cached is not None:
            return cached
        owned = await account_ids_of_user(self.db.pool, user_id)
        self._accounts_by_user[user_id] = owned
        return owned

    def add_account(self, user_id: str, account_id: str) -> None:
        """Own a further account (just stored): ownership only ever grows."""
        self._accounts_by_user[user_id] = (*self._accounts_by_user.get(user_id, ()), account_id)

    async def owns(self, user_id: str, account_id: str) -> bool:
        return account_id in await self.accounts_of(user_id)

    async def set_name(self, user_id: str, name: str) -> Any:
        return await users.set_name(self.db.pool, user_id, name)

    async def set_role(self, user_id: str, role: str) -> None:
        await users.set_role(self.db.pool, user_id, role)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Store a new hash of the same password (a rehash at login): the flag stays."""
        await users.set_password_hash(self.db.pool, user_id, password_hash)

    async def change_password(self, user_id: str, password_hash: str) -> None:
        """Store the hash of a password the user chose, which ends a required change."""
        await users.change_password(self.db.pool, user_id, password_hash)
        self._password_change_due.discard(user_id)

    async def load_password_changes_due(self) -> None:
        """Read which users must change their password (once, at start)."""
        self._password_change_due = await users.password_changes_due(self.db.pool)

    def password_change_due(self, user_id: str) -> bool:
        """Whether this user must change their password before doing anything else."""
        return user_id in self._password_change_due
