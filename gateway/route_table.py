"""How a route module declares its routes: each route's method, path, handler, who may call it
and what the OpenAPI document says of it, written once, on the handler::

    routes = RouteTable()


    @routes.get(
        "/api/trading/funds",
        Operation("Funds of a trading account", query=FundsQuery, reply=replies.Funds),
    )
    async def get_funds(request: web.Request) -> web.Response: ...

``gateway.routes.registry`` joins the route modules' tables into the one list of routes, which
feeds aiohttp's router (``gateway.app``), the sets of routes the middlewares treat apart (who
needs no session, who must be an admin, which routes a user who must change their password may
still call, which check ``Origin``, which count against the orders limit) and the OpenAPI
document (``gateway.openapi.document``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, TypeVar, Unpack

from aiohttp import web

Access = Literal["public", "user", "admin"]
RateBucket = Literal["general", "orders"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HandlerT = TypeVar("HandlerT", bound=Handler)


@dataclass(frozen=True, slots=True)
class Operation:
    """What the OpenAPI document says of a route besides its method, path and access.

    ``body``, ``query`` and ``path`` are the msgspec Structs that decode the request (``path``
    its path's ``{name}`` parts, each required); ``reply`` is the
    success body's shape (a tuple: any one of them). ``refusals`` are the statuses the route's
    own checks answer besides those every route of its kind does (see
    :func:`gateway.openapi.document.statuses`): 404 for what is unknown or not the caller's, 409
    for a state that does not allow it, 422 for a business rule. ``unhealthy`` routes answer
    503 with their own body. ``parameters`` describes by hand a query no Struct reads.
    """

    summary: str
    body: Any = None
    query: type | None = None
    path: type | None = None
    status: int = 200
    refusals: tuple[int, ...] = ()
    reply: Any = None
    unhealthy: bool = False
    parameters: Sequence[Mapping[str, Any]] | None = None


# What the OpenAPI document says of a route (see Route.openapi).
Description = Operation | Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Route:
    """One route.

    ``access`` says who may call it: ``public`` needs no session (``gateway.auth`` lets it
    through), ``user`` a session, ``admin`` a session with the ADMIN role (anyone else is
    refused before the handler runs, ``gateway.middleware.admin_access``). ``openapi`` is what
    the document says of it: an :class:`Operation`, an operation object written out whole (the
    websocket handshake, which no Struct describes), or None for a route the document leaves
    out (the dashboard).

    ``before_password_change`` lets a user who must change their password call it
    (``gateway.middleware.password_change``); ``origin_checked`` refuses a foreign ``Origin``
    before the body is read (``gateway.middleware.origin_check``); ``rate_bucket`` is the limit
    a signed-in request counts against (``gateway.auth``). A public route has no session, so it
    declares neither of the two that are about one.
    """

    method: str
    path: str
    handler: Handler
    access: Access
    openapi: Description
    before_password_change: bool = False
    origin_checked: bool = False
    rate_bucket: RateBucket = "general"

    def __post_init__(self) -> None:
        if self.access == "public" and (
            self.before_password_change or self.rate_bucket != "general"
        ):
            raise ValueError(
                f"{self.method} {self.path}: a public route has no session to hold back or count"
            )


class Facts(TypedDict, total=False):
    """The keyword arguments of :meth:`RouteTable.route`: what a route declares besides its
    method, path and OpenAPI description (see :class:`Route`)."""

    access: Access
    before_password_change: bool
    origin_checked: bool
    rate_bucket: RateBucket


class RouteTable:
    """A route module's routes, in the order its handlers are declared."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def route(
        self,
        method: str,
        path: str,
        openapi: Description,
        *,
        access: Access = "user",
        before_password_change: bool = False,
        origin_checked: bool = False,
        rate_bucket: RateBucket = "general",
    ) -> Callable[[HandlerT], HandlerT]:
        """Declare the decorated handler as ``method path``, with the facts of :class:`Route`."""

        def declare(handler: HandlerT) -> HandlerT:
            route = Route(
                method,
                path,
                handler,
                access,
                openapi,
                before_password_change=before_password_change,
                origin_checked=origin_checked,
                rate_bucket=rate_bucket,
            )
            self._routes.append(route)
            return handler

        return declare

    def get(
        self, path: str, openapi: Description, **facts: Unpack[Facts]
    ) -> Callable[[HandlerT], HandlerT]:
        return self.route("GET", path, openapi, **facts)

    def post(
        self, path: str, openapi: Description, **facts: Unpack[Facts]
    ) -> Callable[[HandlerT], HandlerT]:
        return self.route("POST", path, openapi, **facts)

    def patch(
        self, path: str, openapi: Description, **facts: Unpack[Facts]
    ) -> Callable[[HandlerT], HandlerT]:
        return self.route("PATCH", path, openapi, **facts)

    def put(
        self, path: str, openapi: Description, **facts: Unpack[Facts]
    ) -> Callable[[HandlerT], HandlerT]:
        return self.route("PUT", path, openapi, **facts)

    def delete(
        self, path: str, openapi: Description, **facts: Unpack[Facts]
    ) -> Callable[[HandlerT], HandlerT]:
        return self.route("DELETE", path, openapi, **facts)
