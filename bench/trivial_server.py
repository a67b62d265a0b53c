"""The ceiling for ``bench.load``: a trivial aiohttp + uvloop + orjson JSON server.

It answers the same two requests the load generator sends to the real server, with bodies of
the same shape: ``POST /api/trading/orders`` (decode the JSON body, reply ``{"order": {...}}``)
and ``DELETE /api/trading/orders?orderId=``. No auth, no engine, no database: whatever the
real server reaches is read as a fraction of this, measured in the same run.

    python -m bench.trivial_server --port 8081
"""

from __future__ import annotations

import argparse
import itertools

import orjson
import uvloop
from aiohttp import web

ORDERS = "/api/trading/orders"


def create_trivial_app() -> web.Application:
    """An app with the two order routes and nothing else (no middlewares)."""
    ids = itertools.count(1)

    async def place(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        order = {
            "id": f"order-{next(ids)}",
            "tradingAccountId": body["tradingAccountId"],
            "instrumentId": body["instrumentId"],
            "status": "PENDING",
        }
        return web.Response(body=orjson.dumps({"order": order}), content_type="application/json")

    async def cancel(request: web.Request) -> web.Response:
        order = {"id": request.query.get("orderId", ""), "status": "CANCELLED"}
        return web.Response(body=orjson.dumps({"order": order}), content_type="application/json")

    async def health(_: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"healthy"}', content_type="application/json")

    app = web.Application()
    app.router.add_post(ORDERS, place)
    app.router.add_delete(ORDERS, cancel)
    app.router.add_get("/api/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        create_trivial_app(),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
