"""Kite sessions in PostgreSQL: a request token is exchanged once, within its lifetime, by the
app it was issued to and with the right checksum; an access token works until it is
invalidated, it expires, or its app is deleted; nothing stored reveals a token or a secret."""

from __future__ import annotations

import uuid
from typing import Any

from engine.config import load_config
from gateway.database import Database
from gateway.kite.app_secrets import login_checksum, new_api_key, new_salt
from gateway.kite.sessions import KiteSessions
from persistence import api_apps
from persistence.users import create_user
from tests.integration.conftest import run

KEY = bytes(range(32))


async def new_app(db: Database) -> Any:
    user_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())
    await create_user(
        db.pool,
        user_id=user_id,
        account_id=account_id,
        email=f"{user_id}@paperdesk.test",
        name="Quant",
        password_hash="x",
        role="USER",
        must_change_password=False,
        opening_balance_paise=0,
    )
    return await api_apps.insert_app(
        db.pool,
        app_id=str(uuid.uuid4()),
        user_id=user_id,
        account_id=account_id,
        name="algo",
        api_key=new_api_key(),
        secret_salt=new_salt(),
        redirect_url="http://127.0.0.1/cb",
        apps_max=10,
    )


def checksum(sessions: KiteSessions, app: Any, request_token: str) -> str:
    return login_checksum(app["api_key"], request_token, sessions.secret_of(app))


def test_sessions_when_exchanged_checked_and_ended_then_as_kites(database: str) -> None:
    async def scenario() -> None:
        config = load_config(auth={"session_cache_s": 0})
        db = Database(database, 5000, config.database)
        await db.open()
        try:
            sessions = KiteSessions(db, config, KEY)
            app, other = await new_app(db), await new_app(db)

            token = await sessions.issue_request_token(app, app["user_id"])
            assert await sessions.exchange(app, token, "0" * 64) is None  # wrong checksum
            assert await sessions.exchange(other, token, checksum(sessions, other, token)) is None
            issued = await sessions.exchange(app, token, checksum(sessions, app, token))
            assert issued is not None
            assert issued.access.account_id == app["trading_account_id"]
            assert await sessions.exchange(app, token, checksum(sessions, app, token)) is None

            late = await sessions.issue_request_token(app, app["user_id"])
            await db.pool.execute(
                "UPDATE kite_request_tokens SET expires_at = now() - interval '1 second'"
                " WHERE used_at IS NULL"
            )
            assert await sessions.exchange(app, late, checksum(sessions, app, late)) is None

            access_token = issued.access_token
            assert await sessions.authenticate(app["api_key"], access_token) == issued.access
            assert await sessions.authenticate(other["api_key"], access_token) is None
            assert await sessions.revoke(issued.access, access_token)
            assert await sessions.authenticate(app["api_key"], access_token) is None

            expiring = await sessions.issue_access_token(app, app["user_id"])
            await db.pool.execute(
                "UPDATE kite_access_tokens SET expires_at = now() - interval '1 second'"
                " WHERE revoked_at IS NULL"
            )
            assert await sessions.authenticate(app["api_key"], expiring.access_token) is None

            kept = await sessions.issue_access_token(other, other["user_id"])
            assert await sessions.authenticate(other["api_key"], kept.access_token) is not None
            assert await api_apps.delete_app(db.pool, other["user_id"], other["id"])
            sessions.forget_app(other["id"])
            assert await sessions.authenticate(other["api_key"], kept.access_token) is None

            stored = await db.pool.fetch(
                "SELECT token_hash FROM kite_access_tokens UNION ALL"
                " SELECT token_hash FROM kite_request_tokens"
            )
            texts = {row["token_hash"] for row in stored}
            for raw in (access_token, expiring.access_token, kept.access_token, token, late):
                assert raw not in texts
        finally:
            await db.close()

    run(scenario())
