"""Render raised API errors, engine timeouts and unexpected failures as docs/API.md error bodies.

A database that cannot be reached (refused or lost connections, the server shutting down, a
statement timeout: ``persistence.journal.is_transient``) answers 503 ``UNAVAILABLE`` as docs/API.md
says. Other unexpected exceptions are logged with their stack and answered 500 without one: no
stack trace or secret ever reaches a response body.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

from engine.actors.registry import AccountBusyError
from gateway.bridge import EngineTimeoutError, OutcomeUnknownError
from gateway.errors import ApiError, error_response, outcome_unknown, unavailable
from gateway.keys import DB
from persistence.journal import is_transient
from persistence.trading_logs import log_system_error

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error.response
    except OutcomeUnknownError:
        logger.warning("engine did not confirm %s %s in time", request.method, request.path)
        return outcome_unknown()
    except EngineTimeoutError:
        logger.warning("engine did not answer %s %s in time", request.method, request.path)
        return unavailable("The engine did not answer in time; nothing was changed.")
    except AccountBusyError:
        logger.warning("account busy: %s %s refused", request.method, request.path)
        return unavailable("The account has too many requests waiting; nothing was changed.")
    except web.HTTPException as error:
        if error.status == 404:
            return error_response(404, "NOT_FOUND", "No such route.")
        if error.status == 405:
            # RFC 9110: a 405 lists the methods the route does take.
            allow = {"Allow": error.headers.get("Allow", "")}
            return error_response(
                405, "METHOD_NOT_ALLOWED", "Method not allowed on this route.", headers=allow
            )
        if error.status == 413:  # aiohttp's client_max_size, hit while reading the body
            return error_response(413, "PAYLOAD_TOO_LARGE", "The request body is too large.")
        raise
    except ConnectionResetError:
        raise  # the client went away mid-request: nothing to answer, nothing wrong here
    except Exception as error:
        if is_transient(error):
            logger.warning("database unavailable in %s %s: %r", request.method, request.path, error)
            return unavailable("The database is unavailable; the request was not carried out.")
        logger.exception("unhandled error in %s %s", request.method, request.path)
        await log_error(request)
        return error_response(500, "INTERNAL", "Something went wrong on our side.")


async def log_error(request: web.Request) -> None:
    """Keep the failure, with its stack, in ``trading_logs`` (never in the response)."""
    try:
        await log_system_error(
            request.app[DB].pool,
            f"unhandled error in {request.method} {request.path}",
            {"method": request.method, "path": request.path},
            traceback.format_exc(),
        )
    except Exception:  # the database itself may be what failed
        logger.warning("could not write the error to trading_logs", exc_info=True)
