"""What an order would block and cost on its account, placing nothing: the margin preview, and
the amounts behind an INSUFFICIENT_FUNDS rejection."""

from __future__ import annotations

import msgspec
from aiohttp import web

from engine.actors.trading_engine import TradingEngine
from engine.domain import commands as cmd
from engine.domain.account.decide import Requirements, preview_order
from gateway.keys import BRIDGE, ENGINE


def stamped_for_preview(engine: TradingEngine, command: cmd.PlaceOrder) -> cmd.PlaceOrder:
    """``command`` stamped as the account actor stamps an order: the clock, the instrument's
    quote and, for an option, its underlying's price."""
    instrument = command.instrument
    index = engine.master.index_of(instrument.instrument_id)
    assert index is not None, "resolve_instrument takes instruments from the master"
    return msgspec.structs.replace(
        command,
        now_ms=engine.clock.now_ms(),
        quote=engine.market.quote(index),
        underlying_price_paise=engine.market.underlying_price(instrument)
        if instrument.is_option
        else 0,
    )


async def preview_in_account(
    request: web.Request, account_id: str, stamped: cmd.PlaceOrder
) -> tuple[Requirements, int]:
    """What ``stamped`` would block and cost on the account, and its available funds, read
    in its actor."""
    rules = request.app[ENGINE].rules
    result: tuple[Requirements, int] = await request.app[BRIDGE].inspect(
        account_id, lambda state: (preview_order(state, stamped, rules), state.available_paise)
    )
    return result
