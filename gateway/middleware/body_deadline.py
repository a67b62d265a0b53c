"""A request body must arrive within ``server.body_read_timeout_s``, or the answer is 408.

aiohttp reads a body only when the handler asks, and waits for it as long as the client keeps
the connection open: a client trickling a byte now and then would hold a connection (and a
handler) forever. This middleware reads the whole body first, under the deadline; handlers
then get it from aiohttp's cache. It runs after authentication, so an anonymous request to a
signed-in route is refused without waiting for its body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.errors import error_response
from gateway.keys import CONFIG

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_timeout() -> web.Response:
    response = error_response(
        408, "REQUEST_TIMEOUT", "The request body did not arrive in time; send it again."
    )
    response.force_close()  # the rest of the body may still be on its way
    return response


def incomplete_body() -> web.Response:
    response = error_response(400, "INVALID_JSON", "The request body ended before its length.")
    response.force_close()
    return response


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.body_exists:
        try:
            async with asyncio.timeout(request.app[CONFIG].server.body_read_timeout_s):
                await request.read()
        except TimeoutError:
            return request_timeout()
        except web.RequestPayloadError:  # the client broke off mid-body
            return incomplete_body()
    return await handler(request)
