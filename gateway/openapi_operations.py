"""The routes the OpenAPI document describes (``gateway.openapi`` builds it from this table).

Each names the msgspec Structs of its body, query and success answer, who may call it, and the
statuses its own checks answer; :func:`gateway.openapi.statuses` adds those every route of its
kind answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway import replies, schemas
from gateway.routes.admin import StatusQuery, UserQuery
from gateway.routes.console import ConsoleQuery
from gateway.routes.funds import FundsQuery
from gateway.routes.market import InstrumentQuery
from gateway.routes.monitoring import PerformanceQuery
from gateway.routes.orders import OrderListQuery
from gateway.routes.positions import PositionQuery

Access = Literal["public", "user", "admin"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One route as the document describes it.

    ``reply`` is the success body's shape (a tuple: any one of them). ``refusals`` are the
    statuses the route's own checks answer besides those every route of its kind does (see
    :func:`statuses`): 404 for what is unknown or not the caller's, 409 for a state that does
    not allow it, 422 for a business rule. ``unhealthy`` routes answer 503 with their own body.
    """

    method: str
    path: str
    summary: str
    body: Any = None
    query: type | None = None
    status: int = 200
    access: Access = "user"
    refusals: tuple[int, ...] = ()
    reply: Any = None
    unhealthy: bool = False


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/api/auth/register",
        "Register a user and open a trading account",
        schemas.RegisterBody,
        status=201,
        access="public",
        # 403 for a foreign Origin, 409 for a taken email, 422 for a refused password,
        # 429 past the registration limits.
        refusals=(403, 409, 422, 429),
        reply=replies.Registered,
    ),
    Operation(
        "post",
        "/api/auth/login",
        "Log in; returns a bearer token and a CSRF token, and sets the pd_session cookie",
        schemas.LoginBody,
        access="public",
        refusals=(401, 403, 429),
        reply=replies.LoggedIn,
    ),
    Operation("post", "/api/auth/logout", "Revoke the session", status=204),
    Operation("get", "/api/auth/session", "The signed-in user", reply=replies.SessionInfo),
    Operation(
        "post",
        "/api/trading/orders",
        "Place an order; a business rejection answers 422 and keeps the order REJECTED",
        schemas.PlaceOrderBody,
        refusals=(404, 409, 422),
        reply=replies.OrderReply,
    ),
    Operation(
        "patch",
        "/api/trading/orders",
        "Modify a pending order",
        schemas.ModifyOrderBody,
        refusals=(404, 409, 422),
        reply=replies.OrderReply,
    ),
    Operation(
        "delete",
        "/api/trading/orders",
        "Cancel a pending order (orderId in the body, or in the query with no body)",
        schemas.CancelOrderBody,
        schemas.CancelOrderBody,
        refusals=(404, 409, 422),
        reply=replies.OrderReply,
    ),
    Operation(
        "get",
        "/api/trading/orders",
        "List orders, newest first (since=reset: placed after the last reset)",
        query=OrderListQuery,
        refusals=(404,),
        reply=replies.OrderPage,
    ),
    Operation(
        "get",
        "/api/trading/positions",
        "List positions (since=reset: closed ones opened after the last reset)",
        query=PositionQuery,
        refusals=(404,),
        reply=replies.PositionList,
    ),
    Operation(
        "patch",
        "/api/trading/positions",
        "Set or clear stop-loss and target (null clears, absent keeps)",
        schemas.RiskLevelsBody,
        refusals=(404, 409, 422),
        reply=replies.PositionReply,
    ),
    Operation(
        "post",
        "/api/trading/positions",
        "Close a position at market",
        schemas.ClosePositionBody,
        refusals=(404, 409, 422),
        reply=replies.PositionClosed,
    ),
    Operation(
        "get",
        "/api/trading/funds",
        "Funds of a trading account",
        query=FundsQuery,
        refusals=(404,),
        reply=replies.Funds,
    ),
    Operation(
        "post",
        "/api/trading/funds",
        "Admin: block, release, credit or debit funds",
        schemas.FundOperationBody,
        access="admin",
        refusals=(404, 409, 422),
        reply=replies.FundsMoved,
    ),
    Operation(
        "post",
        "/api/trading/charges",
        "Charges of a round trip or one leg",
        schemas.ChargesBody,
        reply=replies.Charges,
    ),
    Operation(
        "post",
        "/api/trading/margins",
        "Margin and charges an order would need, placing nothing",
        schemas.PlaceOrderBody,
        refusals=(404, 422),
        reply=replies.Margin,
    ),
    Operation(
        "get",
        "/api/console",
        "Profile, funds, bank accounts, requests, ledger (since=reset: after the last reset)"
        " and resets",
        query=ConsoleQuery,
        refusals=(404,),
        reply=replies.Console,
    ),
    Operation(
        "post",
        "/api/console",
        "A console action, named by its action field; answers the object it changed",
        schemas.ConsoleBody,
        refusals=(404, 409, 422, 429),
        reply=replies.ConsoleChange,
    ),
    Operation(
        "post",
        "/api/admin/funds/add",
        "Admin: add funds",
        schemas.AdminFundsBody,
        access="admin",
        refusals=(404, 409, 422),
        reply=replies.FundsMoved,
    ),
    Operation(
        "post",
        "/api/admin/funds/withdraw",
        "Admin: withdraw funds",
        schemas.AdminFundsBody,
        access="admin",
        refusals=(404, 409, 422),
        reply=replies.FundsMoved,
    ),
    Operation(
        "post",
        "/api/admin/accounts/reset",
        "Admin: reset a trading account (cancel, close and sell at market, cancel pending"
        " withdrawals, cash back to the opening balance); 422 RESET_LIMIT_REACHED past the"
        " daily limit",
        schemas.AdminResetBody,
        access="admin",
        refusals=(404, 422),
        reply=replies.AccountResetDone,
    ),
    Operation(
        "get",
        "/api/admin/deposits",
        "Admin: deposit requests, newest first",
        query=StatusQuery,
        access="admin",
        reply=replies.RequestPage,
    ),
    Operation(
        "post",
        "/api/admin/deposits",
        "Admin: approve or reject a deposit",
        schemas.DepositDecisionBody,
        access="admin",
        refusals=(404, 409, 422),
        reply=replies.DepositDecided,
    ),
    Operation(
        "get",
        "/api/admin/withdrawals",
        "Admin: withdrawal requests, newest first",
        query=StatusQuery,
        access="admin",
        reply=replies.RequestPage,
    ),
    Operation(
        "post",
        "/api/admin/withdrawals",
        "Admin: approve or reject a withdrawal",
        schemas.WithdrawalDecisionBody,
        access="admin",
        refusals=(404, 409, 422),
        reply=replies.WithdrawalDecided,
    ),
    Operation(
        "get",
        "/api/admin/users",
        "Admin: users with their account summary",
        query=UserQuery,
        access="admin",
        reply=replies.UserPage,
    ),
    Operation(
        "get", "/api/admin/stats", "Admin: system statistics", access="admin", reply=replies.Stats
    ),
    Operation(
        "get",
        "/api/quotes",
        "Quotes by instrument id or ticker; unknown ids are left out",
        access="public",
        refusals=(400,),  # its query is read by hand (QUOTE_PARAMETERS), not by a Struct
        reply=replies.Quotes,
    ),
    Operation(
        "get",
        "/api/instruments",
        "Instrument search",
        query=InstrumentQuery,
        access="public",
        reply=replies.InstrumentList,
    ),
    Operation(
        "get", "/api/health", "Liveness", access="public", reply=replies.Health, unhealthy=True
    ),
    Operation(
        "get",
        "/api/health/detailed",
        "Admin: health of each part",
        access="admin",
        reply=replies.HealthDetailed,
        unhealthy=True,
    ),
    Operation(
        "get",
        "/api/monitoring/performance",
        "Admin: performance figures (type=summary, slow, failed or operation)",
        query=PerformanceQuery,
        access="admin",
        refusals=(404,),
        reply=(replies.OperationList, replies.SampleList, replies.OperationSummary),
    ),
    Operation(
        "delete",
        "/api/monitoring/performance",
        "Admin: clear performance figures",
        status=204,
        access="admin",
    ),
    Operation("get", "/api/openapi.json", "This document", access="public", reply=replies.Document),
)
