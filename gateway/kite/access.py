"""Who a Kite request or ticker connection acts for: the app and trading account its access
token was issued to (``gateway.kite.sessions`` issues and checks the tokens)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web


@dataclass(frozen=True, slots=True)
class KiteAccess:
    """A valid access token's grant: one app of one user, trading one account until
    ``expires_at`` (the next 06:00 IST after login)."""

    user_id: str
    account_id: str
    app_id: str
    api_key: str
    expires_at: datetime


# Checks an ``api_key`` and ``access_token`` pair: the grant, or None when the token is unknown,
# revoked, expired or another app's.
Authenticate = Callable[[str, str], Awaitable[KiteAccess | None]]

# Where the Kite middleware leaves a request's grant.
KITE_ACCESS = web.RequestKey("kite_access", KiteAccess)


def access_of(request: web.Request) -> KiteAccess:
    """The grant of an authenticated Kite request."""
    return request[KITE_ACCESS]
