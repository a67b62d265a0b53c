"""Admin monitoring (docs/API.md "Monitoring"): the in-process performance figures."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from gateway import replies
from gateway.decoding import convert_query
from gateway.errors import NotFoundError, json_response, validation_failure
from gateway.keys import PERFORMANCE
from gateway.route_table import Operation, RouteTable

routes = RouteTable()


class PerformanceQuery(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["summary", "slow", "failed", "operation"] = "summary"
    threshold: Annotated[float, msgspec.Meta(ge=0)] = 1000.0
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    operation: Annotated[str, msgspec.Meta(max_length=200)] | None = None


@routes.get(
    "/api/monitoring/performance",
    Operation(
        "Admin: performance figures (type=summary, slow, failed or operation)",
        query=PerformanceQuery,
        refusals=(404,),
        reply=(replies.OperationList, replies.SampleList, replies.OperationSummary),
    ),
    access="admin",
)
async def performance(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), PerformanceQuery)
    monitor = request.app[PERFORMANCE]
    if query.type == "summary":
        return json_response({"items": monitor.summary()})
    if query.type == "slow":
        return json_response({"items": monitor.slow(query.threshold)})
    if query.type == "failed":
        return json_response({"items": monitor.failed(query.limit)})
    if query.operation is None:
        raise validation_failure("$.operation", "type=operation needs an operation name")
    found = monitor.operation(query.operation)
    if found is None:
        raise NotFoundError("operation")
    return json_response(found)


@routes.delete(
    "/api/monitoring/performance",
    Operation("Admin: clear performance figures", status=204),
    access="admin",
)
async def clear_performance(request: web.Request) -> web.Response:
    request.app[PERFORMANCE].clear()
    return web.Response(status=204)
