"""``Rejection`` lists its codes in the order ``decide`` checks them, and the checks keep it.

An order is built that breaks every rule a new order can break (a repeated client order id, an
index that cannot be traded, a contract past its expiry, the market closed (or, for an
after-market order, open), a product the
instrument does not take, a quantity off the lot, then above the freeze quantity, prices its
type does not take, no price to value it at, the open-orders and order-value limits, shares it
does not hold, funds it does not have). Placed as is, it is refused for the first; mending one
rule at a time reveals the next. The codes seen must be exactly that list, in the enum's order.
A modification is checked the same way for the rules it shares with a new order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from engine.config import Config
from engine.domain import commands as cmd
from engine.domain.account.decide import decide
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.rules import AccountRules
from engine.domain.sessions import SessionRules
from tests.conftest import Execute, QuoteFor, place, run_command
from tests.support.rejections import MODIFY_ORDER_CHECKS, PLACE_ORDER_CHECKS

IST = timezone(timedelta(hours=5, minutes=30))
OPEN_MS = int(datetime(2026, 11, 25, 11, 0, tzinfo=IST).timestamp() * 1000)  # a Wednesday, 11:00
SUNDAY_MS = int(datetime(2026, 11, 22, 11, 0, tzinfo=IST).timestamp() * 1000)
# A Sunday after the December 2026 contracts expired (NIFTY's on the 29th at 15:40).
EXPIRED_SUNDAY_MS = int(datetime(2027, 1, 3, 11, 0, tzinfo=IST).timestamp() * 1000)


def _in_enum_order(codes: tuple[Rejection, ...]) -> bool:
    order = list(Rejection)
    return list(codes) == sorted(codes, key=order.index)


def test_enum_when_read_then_place_checks_listed_in_the_order_they_run() -> None:
    assert _in_enum_order(PLACE_ORDER_CHECKS)


def _frozen_at_5(shares: Instrument) -> Instrument:
    """The shares with an exchange freeze quantity of 5 (stocks carry none by default)."""
    return dataclasses.replace(shares, freeze_quantity=5)


def _spend_all(state: AccountState) -> cmd.DebitFunds:
    return cmd.DebitFunds(
        now_ms=0, amount_paise=state.available_paise, kind="WITHDRAWAL", reference="all"
    )


@pytest.fixture(scope="module")
def strict_rules(config: Config, rules: AccountRules) -> AccountRules:
    """Hours enforced, at most one working order, orders of at most ₹1,000."""
    sessions = SessionRules.from_config(dataclasses.replace(config.sessions, enforce_hours=True))
    limits = dataclasses.replace(rules.limits, open_orders_max=1, order_value_max_paise=100_000)
    return dataclasses.replace(rules, sessions=sessions, limits=limits)


def test_place_when_every_rule_broken_then_mending_each_reveals_the_next_in_enum_order(
    strict_rules: AccountRules,
    rules: AccountRules,
    wipro: Instrument,
    nifty_fut: Instrument,
    master: InstrumentMaster,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    nifty_index = master.get("NSE:NIFTY 50")
    assert nifty_index is not None
    # One WIPRO share held (bought, settled) and one working order; not a rupee available.
    state = funded_account(10_000_000)
    held = place(
        wipro, order_id="b", product=Product.CNC, price_paise=24400, quote=quote_for(wipro, 24400)
    )
    assert execute(state, held).rejection is None
    assert execute(state, cmd.FillOrder("b", wipro, 1, 24400, now_ms=0)).rejection is None
    assert execute(state, cmd.SettleHoldings(now_ms=0)).events
    working = place(
        wipro,
        order_id="w",
        client_order_id="seen",
        price_paise=24000,
        quote=quote_for(wipro, 24400),
    )
    assert execute(state, working).rejection is None
    assert execute(state, _spend_all(state)).rejection is None
    assert state.available_paise == 0

    order = place(
        nifty_index,  # quoted, never traded
        order_id="new",
        client_order_id="seen",
        side=Side.SELL,
        product=Product.CNC,
        order_type=OrderType.MARKET,
        quantity=0,
        price_paise=24400,  # a MARKET order takes no price
        quote=None,
        now_ms=EXPIRED_SUNDAY_MS,
    )
    mends: list[dict[str, object] | None] = [
        {"client_order_id": "fresh"},
        {"instrument": nifty_fut},  # expired by then; and derivatives take no CNC
        {"now_ms": SUNDAY_MS},
        {"now_ms": OPEN_MS, "after_market": True},  # an after-market order while open
        {"after_market": False},
        {"instrument": _frozen_at_5(wipro)},
        {"quantity": 10},
        {"quantity": 5},
        {"price_paise": 0},
        {"quote": quote_for(wipro, 24400)},
        None,  # the working order cancelled (and what it blocked spent)
        {"quantity": 2},  # ₹1,220 was above the ₹1,000 cap; ₹488 is not, but 1 share is held
        # A sell of the share held pays its charges from its proceeds; a buy of one needs
        # money, and not a rupee is available.
        {"quantity": 1, "side": Side.BUY},
    ]
    seen = [decide(state, order, strict_rules).rejection]
    for mend in mends:
        if mend is None:
            run_command(state, cmd.CancelOrder(now_ms=OPEN_MS, order_id="w"), strict_rules)
            run_command(state, _spend_all(state), strict_rules)
        else:
            order = msgspec.structs.replace(order, **mend)
        seen.append(decide(state, order, strict_rules).rejection)

    assert tuple(seen) == PLACE_ORDER_CHECKS


def test_modify_when_every_rule_broken_then_mending_each_reveals_the_next_in_enum_order(
    strict_rules: AccountRules,
    wipro: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    # Two WIPRO shares held, one offered by a working delivery sell; not a rupee available.
    assert _in_enum_order(MODIFY_ORDER_CHECKS)
    state = funded_account(10_000_000)
    quote = quote_for(wipro, 24400)
    bought = place(wipro, order_id="b", product=Product.CNC, quantity=2, price_paise=24400)
    assert execute(state, msgspec.structs.replace(bought, quote=quote)).rejection is None
    assert execute(state, cmd.FillOrder("b", wipro, 2, 24400, now_ms=0)).rejection is None
    assert execute(state, cmd.SettleHoldings(now_ms=0)).events
    offer = place(
        wipro, order_id="s", side=Side.SELL, product=Product.CNC, price_paise=24400, quote=quote
    )
    assert execute(state, offer).rejection is None
    assert execute(state, _spend_all(state)).rejection is None

    modify = cmd.ModifyOrder(
        now_ms=SUNDAY_MS,
        order_id="unknown",
        instrument=_frozen_at_5(wipro),
        quote=None,
        quantity=0,
        order_type=OrderType.SL,  # an SL needs a trigger; the order has none
    )
    mends: list[dict[str, object]] = [
        {"order_id": "s"},
        {"now_ms": OPEN_MS},
        {"quantity": 10},
        {"quantity": 5},
        {"order_type": OrderType.MARKET},
        {"quote": quote},
        {"quantity": 3},  # ₹1,220 was above the ₹1,000 cap; ₹732 is not, but 2 shares are held
    ]
    seen = [decide(state, modify, strict_rules).rejection]
    for mend in mends:
        modify = msgspec.structs.replace(modify, **mend)
        seen.append(decide(state, modify, strict_rules).rejection)
    # Both shares: taken with not a rupee available, its charges paid from its proceeds.
    both = msgspec.structs.replace(modify, quantity=2)
    assert decide(state, both, strict_rules).rejection is None

    # A sell is never short of funds nor a buy of holdings: the last check is shown on a buy.
    execute(state, cmd.CancelOrder(now_ms=OPEN_MS, order_id="s"))
    execute(
        state, cmd.CreditFunds(now_ms=OPEN_MS, amount_paise=100_000, kind="DEPOSIT", reference="r")
    )
    bid = place(wipro, order_id="bid", product=Product.CNC, price_paise=24000, quote=quote)
    assert execute(state, bid).rejection is None
    assert execute(state, _spend_all(state)).rejection is None
    more = msgspec.structs.replace(modify, order_id="bid", quantity=2)
    seen.append(decide(state, more, strict_rules).rejection)

    # A share never expires: that check is shown on a contract, below.
    expiring = tuple(c for c in MODIFY_ORDER_CHECKS if c is not Rejection.INSTRUMENT_EXPIRED)
    assert tuple(seen) == expiring


def test_modify_when_contract_expired_then_refused_after_order_not_open_before_market_closed(
    strict_rules: AccountRules,
    nifty_fut: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_000)
    working = place(
        nifty_fut,
        order_id="f",
        product=Product.NRML,
        quantity=nifty_fut.lot_size,
        price_paise=2_500_000,
        quote=quote_for(nifty_fut, 2_613_860),
        now_ms=OPEN_MS,
    )
    assert execute(state, working).rejection is None  # hours not enforced: any time
    modify = cmd.ModifyOrder(
        now_ms=EXPIRED_SUNDAY_MS, order_id="gone", instrument=nifty_fut, quote=None
    )
    seen = [decide(state, modify, strict_rules).rejection]
    for mend in ({"order_id": "f"}, {"now_ms": SUNDAY_MS}):
        modify = msgspec.structs.replace(modify, **mend)
        seen.append(decide(state, modify, strict_rules).rejection)
    assert seen == [
        Rejection.ORDER_NOT_OPEN,
        Rejection.INSTRUMENT_EXPIRED,
        Rejection.MARKET_CLOSED,
    ]
