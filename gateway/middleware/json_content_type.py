"""JSON bodies only: an API request carrying a body must say ``Content-Type: application/json``.

The JSON routes decode whatever bytes arrive, so without this a page on any site could post a
JSON-looking ``text/plain`` form (a "simple" request that needs no CORS preflight) to login or
any cookie-signed route. Requiring the JSON media type forces a cross-site sender into a
preflight, which this server never grants. ``charset`` may be given, and must then be UTF-8
(RFC 8259). Requests without a body (a logout, a cancel by query) are not affected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from gateway.errors import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = "application/json"
JSON_CHARSETS = frozenset({"utf-8", "utf8"})


def unsupported_media_type(request: web.Request) -> web.Response:
    return error_response(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Send the body as JSON, with the header Content-Type: application/json.",
        {"header": "Content-Type", "contentType": request.headers.get(hdrs.CONTENT_TYPE)},
    )


def is_json(request: web.Request) -> bool:
    """Whether the request declares a JSON body (optionally ``charset=utf-8``)."""
    if hdrs.CONTENT_TYPE not in request.headers:
        return False  # aiohttp would report its default, application/octet-stream
    charset = request.charset
    return request.content_type == JSON_MEDIA_TYPE and (
        charset is None or charset.lower() in JSON_CHARSETS
    )


@web.middleware
async def json_content_type_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    needs_check = (
        request.method in BODY_METHODS and request.path.startswith("/api/") and request.body_exists
    )
    if needs_check and not is_json(request):
        return unsupported_media_type(request)
    return await handler(request)
