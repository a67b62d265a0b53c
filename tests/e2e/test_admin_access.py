"""Every admin route refuses a signed-in user who is not an admin, before its handler runs, over
the real server and PostgreSQL.

The routes are walked from the route registry, so a route declared ``access="admin"`` is
covered the day it is added: with a normal user's session each answers exactly 403
``FORBIDDEN`` "This route is for admins." (HEAD too, on a GET route, which aiohttp answers with
the GET handler), whatever the body; no handler's own answer (a 400 for the empty body, a 200
for a read, a 204 for a clear) gets out. The admin's session is not refused on any of them.
"""

from __future__ import annotations

import aiohttp

from engine.domain.instruments import InstrumentMaster
from gateway.route_table import Route
from gateway.routes.registry import ROUTES
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, run_scenario

REFUSAL = {"error": {"code": "FORBIDDEN", "message": "This route is for admins."}}
BODY_METHODS = frozenset({"POST", "PATCH", "DELETE"})
ADMIN_ROUTES: list[Route] = [route for route in ROUTES if route.access == "admin"]


def test_admin_routes_when_caller_not_admin_then_403_before_the_handler(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        await user.register("not-an-admin@paperdesk.test")
        assert ADMIN_ROUTES  # the walk below proves nothing on an empty list
        for route in ADMIN_ROUTES:
            body = {} if route.method in BODY_METHODS else None
            status, reply, _ = await user.call(route.method, route.path, body)
            assert (status, reply) == (403, REFUSAL), (route.method, route.path)
            if route.method == "GET":
                status, _, _ = await user.call("HEAD", route.path)
                assert status == 403, ("HEAD", route.path)

        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        for route in ADMIN_ROUTES:
            body = {} if route.method in BODY_METHODS else None
            status, reply, _ = await admin.call(route.method, route.path, body)
            assert reply != REFUSAL, (route.method, route.path)
            if route.method == "GET":
                assert status == 200, (route.method, route.path, reply)

    run_scenario(database, master, scenario)
