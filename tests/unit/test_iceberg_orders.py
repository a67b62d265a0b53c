"""Iceberg orders (docs/DOMAIN.md §3, "Iceberg orders").

Proves the slicing arithmetic (each leg's quantity, what is left after it), the checks of an
iceberg's terms in their precedence order with the field at fault, that the first leg is
placed and margined as the same order of its own quantity, that a fill completing a leg with
legs to come places the next one on the leg's current terms (decided against the account as
the fill leaves it), that nothing follows a part fill or the last leg, that a next leg refused
is REJECTED and ends the iceberg while its fill stands, and that a leg's quantity cannot be
modified while its price can, the legs after it taking the new price.

Amounts are paise. RELIANCE's previous close is ₹1542.80 (lot 1); the NIFTY future's lot is 65
and its freeze quantity 1,800.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.enums import OrderType, PriceSource, Product, Rejection, Side
from engine.domain.iceberg import Iceberg, IcebergCheck, check_iceberg, legs_for
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, fill, place, run_command

PRICE = 154_280  # RELIANCE @ ₹1542.80
FUTURE = 2_613_860  # the NIFTY future @ ₹26138.60
IST = timezone(timedelta(hours=5, minutes=30))


def ist(day: int, hour: int, minute: int) -> int:
    """2026-11-``day`` at ``hour:minute`` IST."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


def iceberg(
    total: int, leg_quantity: int, legs: int | None = None, *, leg: int = 1, parent: str = "o1"
) -> Iceberg:
    return Iceberg(
        parent_order_id=parent,
        leg=leg,
        legs=legs_for(total, leg_quantity) if legs is None else legs,
        leg_quantity=leg_quantity,
        total_quantity=total,
    )


def first_leg(
    instrument: Instrument, slicing: Iceberg, quotes: QuoteFor, **terms: object
) -> cmd.PlaceOrder:
    """The first leg of ``slicing`` as the gateway places it: a LIMIT at ₹1542.80 unless told,
    the market quoted at its price."""
    price = terms.get("price_paise", PRICE)
    assert isinstance(price, int)
    defaults: dict[str, object] = {"price_paise": PRICE, "quote": quotes(instrument, price)}
    command = place(
        instrument,
        order_id=slicing.parent_order_id,
        quantity=slicing.quantity_of_leg(1),
        **(defaults | terms),  # type: ignore[arg-type]
    )
    return msgspec.structs.replace(command, iceberg=slicing)


def completing(
    instrument: Instrument,
    order_id: str,
    quantity: int,
    quote: QuoteFor,
    *,
    next_id: str,
    price_paise: int = PRICE,
    ltp_paise: int | None = None,
    others_unrealised_paise: int = 0,
) -> cmd.FillOrder:
    """A limit fill of ``quantity`` (at ₹1542.80 unless told) stamped, as the actor stamps one
    completing a leg, with the next leg's id, the market's quote (at the fill's price unless
    told), the other positions' unrealised P&L and the price tier (LIVE)."""
    return msgspec.structs.replace(
        fill(instrument, order_id, quantity, price_paise),
        next_leg_order_id=next_id,
        quote=quote(instrument, price_paise if ltp_paise is None else ltp_paise),
        others_unrealised_paise=others_unrealised_paise,
        price_source=PriceSource.LIVE,
    )


# -- the slicing --------------------------------------------------------------------------------


def test_legs_when_total_is_not_a_multiple_of_the_leg_then_the_last_leg_is_what_is_left() -> None:
    slicing = iceberg(7, 3)

    assert slicing.legs == 3
    assert [slicing.quantity_of_leg(n) for n in (1, 2, 3)] == [3, 3, 1]
    second = slicing.next_leg()
    assert second is not None and second.leg == 2
    third = second.next_leg()
    assert third is not None and third.next_leg() is None
    assert [s.remaining_quantity for s in (slicing, second, third)] == [4, 1, 0]


def test_legs_when_total_is_a_multiple_then_every_leg_is_whole() -> None:
    slicing = iceberg(6, 3)

    assert (slicing.legs, slicing.quantity_of_leg(2), slicing.remaining_quantity) == (2, 3, 3)


# -- the checks of an iceberg's terms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("legs", "leg_quantity", "total", "expected"),
    [
        (1, 5, 5, (Rejection.INVALID_QUANTITY, "iceberg.legs")),
        (51, 1, 51, (Rejection.INVALID_QUANTITY, "iceberg.legs")),
        (2, 0, 10, (Rejection.INVALID_QUANTITY, "iceberg.legQuantity")),
        (2, 5, 0, (Rejection.INVALID_QUANTITY, "quantity")),
        (2, 1, 1, (Rejection.INVALID_QUANTITY, "iceberg.legs")),  # 1 in 1s is one leg
        (3, 5, 10, (Rejection.INVALID_QUANTITY, "iceberg.legs")),  # 10 in 5s is 2 legs
        (2, 3, 10, (Rejection.INVALID_QUANTITY, "iceberg.legs")),  # 10 in 3s is 4 legs
    ],
)
def test_check_when_terms_break_a_rule_then_it_names_the_field(
    rules: AccountRules,
    reliance: Instrument,
    legs: int,
    leg_quantity: int,
    total: int,
    expected: tuple[Rejection, str],
) -> None:
    check = check_iceberg(reliance, iceberg(total, leg_quantity, legs), rules.limits)

    assert check is not None
    assert (check.rejection, check.field) == expected
    assert check.message


@pytest.mark.parametrize(("legs", "leg_quantity", "total"), [(2, 3, 4), (50, 1, 50), (3, 3, 7)])
def test_check_when_terms_agree_within_limits_then_none(
    rules: AccountRules, reliance: Instrument, legs: int, leg_quantity: int, total: int
) -> None:
    assert check_iceberg(reliance, iceberg(total, leg_quantity, legs), rules.limits) is None


def test_check_when_the_leg_is_not_whole_lots_or_above_freeze_then_the_leg_is_at_fault(
    rules: AccountRules, nifty_fut: Instrument
) -> None:
    not_lots = check_iceberg(nifty_fut, iceberg(650, 100, 7), rules.limits)
    above_freeze = check_iceberg(nifty_fut, iceberg(3_900, 1_950, 2), rules.limits)
    total_not_lots = check_iceberg(nifty_fut, iceberg(3_000, 1_300, 3), rules.limits)

    assert not_lots == IcebergCheck(
        Rejection.INVALID_QUANTITY,
        "iceberg.legQuantity",
        "a leg is a positive multiple of the lot size (65)",
    )
    assert above_freeze == IcebergCheck(
        Rejection.ABOVE_FREEZE_QUANTITY,
        "iceberg.legQuantity",
        "a leg is a positive multiple of the lot size (65), at most 1800",
    )
    assert total_not_lots is not None and total_not_lots[:2] == (
        Rejection.INVALID_QUANTITY,
        "quantity",
    )
    assert check_iceberg(nifty_fut, iceberg(3_900, 1_300), rules.limits) is None  # above freeze


def test_check_when_the_limits_change_then_it_follows_them(
    rules: AccountRules, reliance: Instrument
) -> None:
    limits = dataclasses.replace(rules.limits, iceberg_legs_min=3, iceberg_legs_max=4)

    assert check_iceberg(reliance, iceberg(4, 2), limits) is not None  # 2 legs
    assert check_iceberg(reliance, iceberg(6, 2), limits) is None  # 3
    assert check_iceberg(reliance, iceberg(8, 2), limits) is None  # 4
    assert check_iceberg(reliance, iceberg(10, 2), limits) is not None  # 5


# -- placing the first leg ----------------------------------------------------------------------


def test_place_when_first_leg_then_accepted_with_its_slicing_and_the_legs_margin(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state, alone = funded_account(), funded_account()
    slicing = iceberg(7, 3)

    decision = execute(state, first_leg(reliance, slicing, quote_for))
    plain = execute(alone, place(reliance, quantity=3, price_paise=PRICE))

    (accepted,) = decision.events
    assert isinstance(accepted, ev.OrderAccepted)
    assert (accepted.quantity, accepted.iceberg) == (3, slicing)
    # MIS blocks 20 % of the leg's value alone: 3 × 154,280 × 0.20 = 92,568.
    (plain_accepted,) = plain.events
    assert isinstance(plain_accepted, ev.OrderAccepted)
    assert accepted.margin_blocked_paise == plain_accepted.margin_blocked_paise == 92_568
    assert state.orders["o1"].iceberg == slicing
    assert state.blocked_paise == alone.blocked_paise


@pytest.mark.parametrize(
    "slicing",
    [
        iceberg(7, 3, 2),  # its terms disagree: 7 in 3s is 3 legs
        iceberg(7, 3, leg=4),  # a leg it does not have
        iceberg(7, 3, leg=0),
    ],
)
def test_place_when_the_slicing_is_broken_then_invalid_quantity(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
    slicing: Iceberg,
) -> None:
    state = funded_account()
    command = msgspec.structs.replace(
        first_leg(reliance, iceberg(7, 3), quote_for), iceberg=slicing
    )

    decision = run_command(state, command, rules)

    (rejected,) = decision.events
    assert isinstance(rejected, ev.OrderRejected)
    assert (decision.rejection, rejected.iceberg) == (Rejection.INVALID_QUANTITY, slicing)
    assert state.orders == {}


def test_place_when_the_quantity_is_not_the_legs_then_invalid_quantity(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    command = msgspec.structs.replace(first_leg(reliance, iceberg(7, 3), quote_for), quantity=7)

    assert run_command(funded_account(), command, rules).rejection is Rejection.INVALID_QUANTITY


def test_place_when_the_total_is_above_freeze_but_each_leg_within_then_accepted(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    nifty_fut: Instrument,
    quote_for: QuoteFor,
) -> None:
    # 3,900 NIFTY futures (60 lots) at most 1,800 an order: three legs of 1,300.
    state = funded_account(1_000_000_000_00)
    command = first_leg(
        nifty_fut, iceberg(3_900, 1_300), quote_for, product=Product.NRML, price_paise=FUTURE
    )
    too_big = msgspec.structs.replace(command, order_id="o0", quantity=3_900, iceberg=None)

    assert execute(state, too_big).rejection is Rejection.ABOVE_FREEZE_QUANTITY
    decision = execute(state, command)

    assert decision.rejection is None
    assert state.orders["o1"].quantity == 1_300


# -- a leg fills ----------------------------------------------------------------------------------


def test_fill_when_it_completes_a_leg_then_the_next_leg_is_placed_on_its_terms(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    slicing = iceberg(7, 3)
    execute(state, first_leg(reliance, slicing, quote_for, side=Side.SELL, tag="ice"))

    decision = execute(state, completing(reliance, "o1", 3, quote_for, next_id="o2"))

    filled, accepted = decision.events
    assert isinstance(filled, ev.OrderFilled) and isinstance(accepted, ev.OrderAccepted)
    assert filled.order_id == "o1" and filled.quantity == 3
    second = slicing.next_leg()
    assert second is not None
    expected = (
        "o2",
        Side.SELL,
        Product.MIS,
        OrderType.LIMIT,
        3,
        PRICE,
        "ice",
        second,
    )
    assert accepted.price_source == PriceSource.LIVE.value  # the tier the fill was stamped with
    assert (
        accepted.order_id,
        accepted.side,
        accepted.product,
        accepted.order_type,
        accepted.quantity,
        accepted.price_paise,
        accepted.tag,
        accepted.iceberg,
    ) == expected
    assert list(state.orders) == ["o2"]
    position = state.position_for(reliance.instrument_id, Product.MIS)
    assert position is not None and position.quantity == -3

    execute(state, completing(reliance, "o2", 3, quote_for, next_id="o3"))
    last = execute(state, completing(reliance, "o3", 1, quote_for, next_id="o4"))

    (only_fill,) = last.events  # the third leg was the last: nothing follows
    assert isinstance(only_fill, ev.OrderFilled)
    assert state.orders == {}
    assert position.quantity == -7


def test_fill_when_a_leg_fills_in_part_then_no_next_leg(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    execute(state, first_leg(reliance, iceberg(7, 3), quote_for))

    decision = execute(state, completing(reliance, "o1", 2, quote_for, next_id="o2"))

    (filled,) = decision.events
    assert isinstance(filled, ev.OrderFilled)
    assert list(state.orders) == ["o1"] and state.orders["o1"].remaining_quantity == 1


def test_fill_when_not_stamped_with_a_next_leg_then_only_the_fill(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    execute(state, first_leg(reliance, iceberg(7, 3), quote_for))

    decision = execute(state, fill(reliance, "o1", 3, PRICE))

    assert [type(e) for e in decision.events] == [ev.OrderFilled]


def test_fill_when_the_next_legs_id_is_taken_then_only_the_fill(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    execute(state, first_leg(reliance, iceberg(7, 3), quote_for))
    execute(state, place(reliance, order_id="taken", quantity=1, price_paise=PRICE - 10_000))

    decision = execute(state, completing(reliance, "o1", 3, quote_for, next_id="taken"))

    assert [type(e) for e in decision.events] == [ev.OrderFilled]
    assert state.orders["taken"].iceberg is None


def test_fill_when_the_next_leg_lacks_funds_then_it_is_rejected_and_the_fill_stands(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    # ₹1,000 covers one CNC leg of 3 (3 × 154,280 = 462,840 and its charges) but not two.
    state = funded_account(600_000)
    slicing = iceberg(6, 3)
    execute(state, first_leg(reliance, slicing, quote_for, product=Product.CNC))

    decision = execute(state, completing(reliance, "o1", 3, quote_for, next_id="o2"))

    filled, rejected = decision.events
    assert isinstance(filled, ev.OrderFilled) and isinstance(rejected, ev.OrderRejected)
    assert (rejected.order_id, rejected.reason) == ("o2", Rejection.INSUFFICIENT_FUNDS)
    assert rejected.iceberg == slicing.next_leg()
    assert decision.rejection is None  # the fill itself was taken
    assert state.orders == {}
    holding = state.position_for(reliance.instrument_id, Product.CNC)
    assert holding is not None and holding.quantity == 3


@pytest.mark.parametrize(
    ("others_unrealised", "ltp", "accepted"),
    [
        (0, PRICE, True),
        (-20_000_00, PRICE, False),  # the other positions' loss counts against the next leg
        (20_000_00, PRICE, True),  # their profit does not count (risk: losses only) ...
        (0, 145_000, False),  # ... and the booked position's own loss at the quote counts
    ],
)
def test_fill_when_marked_to_market_then_the_next_leg_sees_the_account_as_the_fill_leaves_it(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
    others_unrealised: int,
    ltp: int,
    accepted: bool,
) -> None:
    # ₹2,000 pays for two MIS legs of 3 (92,568 each) with ₹148 to spare, before charges:
    # ₹200 of loss or a quote at ₹1,450 (3 × −9,280 = −27,840 on the leg filled) takes it.
    state = funded_account(200_000)
    execute(state, first_leg(reliance, iceberg(6, 3), quote_for))

    fill_leg = completing(
        reliance,
        "o1",
        3,
        quote_for,
        next_id="o2",
        ltp_paise=ltp,
        others_unrealised_paise=others_unrealised,
    )
    decision = execute(state, fill_leg)

    kinds = [type(e) for e in decision.events]
    assert kinds == [ev.OrderFilled, ev.OrderAccepted if accepted else ev.OrderRejected]


@pytest.mark.parametrize(("ltp", "accepted"), [(None, True), (1, False)])
def test_fill_when_the_quote_is_missing_then_the_booked_position_is_not_marked(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
    ltp: int | None,
    accepted: bool,
) -> None:
    # With no quote the leg just filled cannot be marked (a LIMIT leg is valued at its price
    # alone); any last price, down to one paisa, marks it (3 × ₹0.01 against ₹4,628.40 paid).
    state = funded_account(200_000)
    execute(state, first_leg(reliance, iceberg(6, 3), quote_for))
    fill_leg = completing(reliance, "o1", 3, quote_for, next_id="o2")
    if ltp is None:
        fill_leg = msgspec.structs.replace(fill_leg, quote=None)
    else:
        fill_leg = completing(reliance, "o1", 3, quote_for, next_id="o2", ltp_paise=ltp)

    decision = execute(state, fill_leg)

    kinds = [type(e) for e in decision.events]
    assert kinds == [ev.OrderFilled, ev.OrderAccepted if accepted else ev.OrderRejected]


def test_fill_when_a_leg_closes_a_losing_position_then_its_loss_is_not_counted_twice(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., object],
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    # 10 RELIANCE MIS bought at ₹1,500 are worth ₹1,300. The first leg sells them: the loss of
    # ₹2,000 is realised in the balance, and the position it leaves (none) marks nothing, so
    # the second leg (a short of 10, blocking 20 % of ₹13,000) is decided on what is left.
    state = funded_account(480_000)
    trade(state, reliance, Side.BUY, 10, 150_000)
    low = 130_000
    sell = first_leg(reliance, iceberg(20, 10), quote_for, side=Side.SELL, price_paise=low)
    execute(state, sell)

    fill_leg = completing(reliance, "o1", 10, quote_for, next_id="o2", price_paise=low)
    decision = execute(state, fill_leg)

    filled, second = decision.events
    assert isinstance(filled, ev.OrderFilled)
    assert isinstance(second, ev.OrderAccepted), second
    assert second.margin_blocked_paise == 260_000  # 20 % of 10 × 130,000


def test_fill_when_a_derivative_leg_completes_then_the_next_is_margined_on_the_stamped_market(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    nifty_fut: Instrument,
    quote_for: QuoteFor,
) -> None:
    # A future's leg needs its underlying's market to be margined (else PRICE_UNAVAILABLE):
    # the next leg is valued on the market the fill was stamped with.
    state = funded_account(1_000_000_000_00)
    slicing = iceberg(3_900, 1_300)
    execute(
        state,
        first_leg(nifty_fut, slicing, quote_for, product=Product.NRML, price_paise=FUTURE),
    )

    fill_leg = completing(nifty_fut, "o1", 1_300, quote_for, next_id="o2", price_paise=FUTURE)
    decision = execute(state, fill_leg)

    filled, accepted = decision.events
    assert isinstance(filled, ev.OrderFilled)
    assert isinstance(accepted, ev.OrderAccepted), accepted
    assert accepted.margin_blocked_paise > 0
    assert (accepted.quantity, accepted.iceberg) == (1_300, slicing.next_leg())


def test_fill_when_open_orders_were_at_the_limit_then_the_next_leg_takes_the_filled_legs_place(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    # Decided against the account the fill leaves: the filled leg no longer counts as open.
    one_open = dataclasses.replace(
        rules, limits=dataclasses.replace(rules.limits, open_orders_max=1)
    )
    state = funded_account()
    run_command(state, first_leg(reliance, iceberg(7, 3), quote_for), one_open)

    decision = run_command(state, completing(reliance, "o1", 3, quote_for, next_id="o2"), one_open)

    assert [type(e) for e in decision.events] == [ev.OrderFilled, ev.OrderAccepted]
    assert list(state.orders) == ["o2"]


def test_fill_when_the_market_closed_after_the_leg_then_the_next_leg_is_rejected(
    funded_account: Callable[..., AccountState],
    hours_rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    # Wednesday 2026-11-25 (the 24th is a holiday): placed at 10:30, the leg fills at 15:30.
    state = funded_account()
    placed = run_command(
        state, first_leg(reliance, iceberg(7, 3), quote_for, now_ms=ist(25, 10, 30)), hours_rules
    )
    assert placed.rejection is None
    after_close = ist(25, 15, 30)
    late = msgspec.structs.replace(
        completing(reliance, "o1", 3, quote_for, next_id="o2"), now_ms=after_close
    )

    decision = run_command(state, late, hours_rules)

    filled, rejected = decision.events
    assert isinstance(filled, ev.OrderFilled) and isinstance(rejected, ev.OrderRejected)
    assert rejected.reason is Rejection.MARKET_CLOSED


# -- modifying and cancelling a leg ----------------------------------------------------------------


def test_modify_when_a_legs_quantity_changes_then_invalid_quantity_and_nothing_changes(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    run_command(state, first_leg(reliance, iceberg(7, 3), quote_for), rules)
    fingerprint = state_fingerprint(state)
    modify = cmd.ModifyOrder(
        now_ms=NOW_MS,
        order_id="o1",
        quantity=4,
        instrument=reliance,
        quote=quote_for(reliance, PRICE),
    )

    decision = run_command(state, modify, rules)

    assert (decision.events, decision.rejection) == ((), Rejection.INVALID_QUANTITY)
    assert state_fingerprint(state) == fingerprint


def test_modify_when_a_legs_price_changes_then_the_legs_after_it_take_the_new_price(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    execute(state, first_leg(reliance, iceberg(7, 3), quote_for))
    lower = PRICE - 1_000
    modify = cmd.ModifyOrder(
        now_ms=NOW_MS,
        order_id="o1",
        quantity=3,  # its own quantity: not a change
        price_paise=lower,
        instrument=reliance,
        quote=quote_for(reliance, PRICE),
    )
    assert execute(state, modify).rejection is None

    fill_lower = msgspec.structs.replace(
        completing(reliance, "o1", 3, quote_for, next_id="o2"),
        price_paise=lower,
        order_version=1,  # the modified order's
    )
    decision = execute(state, fill_lower)

    accepted = decision.events[-1]
    assert isinstance(accepted, ev.OrderAccepted)
    assert (accepted.price_paise, accepted.quantity) == (lower, 3)


def test_cancel_when_the_working_leg_is_cancelled_then_the_iceberg_ends(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
) -> None:
    state = funded_account()
    execute(state, first_leg(reliance, iceberg(7, 3), quote_for))

    decision = execute(state, cmd.CancelOrder(now_ms=NOW_MS, order_id="o1"))

    assert [type(e) for e in decision.events] == [ev.OrderCancelled]
    assert state.orders == {} and state.blocked_paise == 0
    late_fill = completing(reliance, "o1", 3, quote_for, next_id="o2")
    assert execute(state, late_fill).rejection is Rejection.ORDER_NOT_OPEN


def test_next_iceberg_leg_when_the_order_is_no_iceberg_then_none(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    reliance: Instrument,
) -> None:
    state = funded_account()
    execute(state, place(reliance, quantity=3, price_paise=PRICE))

    assert cmd.next_iceberg_leg(state.orders["o1"], "o2", reliance) is None
