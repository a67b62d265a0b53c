"""GTT decisions (docs/DOMAIN.md §7), hand-checked: placing checks its terms in precedence order
and names the field at fault; a single trigger fires on the side it waits on, touching
included; a two-leg GTT's lower leg is its stop-loss and its upper its target; a firing places
the leg's order through the order checks (accepted: TRIGGERED, refused: REJECTED with the
reason, the order kept REJECTED), and nothing is blocked while a GTT waits."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.state import AccountState, Shortfall
from engine.domain.enums import OrderType, PriceSource, Product, Rejection, Side
from engine.domain.gtt import GttLeg, GttStatus, GttType, leg_fires, rises_to
from engine.domain.instruments import Instrument
from engine.domain.parameters import GttConfig
from engine.domain.portfolio import MarginLeg
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, run_command
from tests.support.margin_markets import market_of

DAY_MS = 86_400_000


def leg(
    trigger: int,
    *,
    side: Side = Side.SELL,
    quantity: int = 1,
    order_type: OrderType = OrderType.LIMIT,
    price: int | None = None,
    product: Product = Product.CNC,
) -> GttLeg:
    if price is None:
        price = 0 if order_type is OrderType.MARKET else trigger
    return GttLeg(trigger, side, quantity, order_type, price, product)


def place_gtt(
    instrument: Instrument,
    *legs: GttLeg,
    gtt_type: GttType | None = None,
    last: int | None = 154_000,
    ltp: int = 154_280,
    gtt_id: str = "g1",
    now_ms: int = NOW_MS,
) -> cmd.PlaceGtt:
    kind = gtt_type or (GttType.TWO_LEG if len(legs) == 2 else GttType.SINGLE)
    return cmd.PlaceGtt(
        gtt_id=gtt_id,
        instrument=instrument,
        gtt_type=kind,
        legs=legs,
        last_price_paise=last,
        now_ms=now_ms,
        ltp_paise=ltp,
    )


def trigger(
    instrument: Instrument,
    leg_no: int,
    ltp: int,
    *,
    quote: object = None,
    version: int = 0,
    gtt_id: str = "g1",
    now_ms: int = NOW_MS + 1000,
    mtm: int = 0,
    price_source: PriceSource | None = None,
) -> cmd.TriggerGtt:
    return cmd.TriggerGtt(
        gtt_id=gtt_id,
        leg=leg_no,
        ltp_paise=ltp,
        gtt_version=version,
        now_ms=now_ms,
        order_id="o-gtt",
        instrument=instrument,
        quote=quote,  # type: ignore[arg-type]
        mtm_paise=mtm,
        price_source=price_source,
    )


@pytest.fixture
def account(funded_account: object) -> AccountState:
    return funded_account()  # type: ignore[operator,no-any-return]


# -- the crossing rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger_paise", "last", "ltp", "fires"),
    [
        (150_000, 154_000, 150_010, False),  # below: not yet down to it
        (150_000, 154_000, 150_000, True),  # below: touching it fires
        (150_000, 154_000, 149_990, True),  # below: through it
        (158_000, 154_000, 157_990, False),  # above: not yet up to it
        (158_000, 154_000, 158_000, True),  # above: touching it fires
        (158_000, 154_000, 158_010, True),  # above: through it
        (158_000, 154_000, 0, False),  # no price: nothing fires
        (150_000, 154_000, 0, False),
    ],
)
def test_leg_fires_when_price_reaches_trigger_from_its_side(
    trigger_paise: int, last: int, ltp: int, fires: bool
) -> None:
    assert leg_fires(trigger_paise, last, ltp) is fires


# -- placing ------------------------------------------------------------------------------


def test_place_single_when_terms_valid_then_active_and_nothing_blocked(
    account: AccountState, execute: Execute, reliance: Instrument, rules: AccountRules
) -> None:
    available = account.available_paise
    decision = execute(account, place_gtt(reliance, leg(150_000)))
    assert decision.rejection is None
    (placed,) = decision.events
    assert isinstance(placed, ev.GttPlaced)
    assert placed.last_price_paise == 154_000
    assert placed.expires_ms == NOW_MS + 365 * DAY_MS
    gtt = account.gtts["g1"]
    assert gtt.status is GttStatus.ACTIVE and gtt.version == 0
    assert not rises_to(gtt, 0)
    assert account.available_paise == available  # no margin while it waits
    assert account.orders == {}


def test_place_without_last_price_then_placed_against_market_price(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    decision = execute(account, place_gtt(reliance, leg(158_000), last=None, ltp=154_280))
    placed = decision.events[0]
    assert isinstance(placed, ev.GttPlaced) and placed.last_price_paise == 154_280
    assert rises_to(account.gtts["g1"], 0)


def test_place_without_any_price_then_price_unavailable(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    decision = execute(account, place_gtt(reliance, leg(158_000), last=None, ltp=0))
    assert decision.rejection is Rejection.PRICE_UNAVAILABLE
    assert decision.refused_field == "lastPrice"


@pytest.mark.parametrize(
    ("legs", "rejection", "field"),
    [
        ((leg(154_000),), Rejection.INVALID_TRIGGER, "triggerValues[0]"),  # at the last price
        ((leg(150_005, price=150_000),), Rejection.INVALID_PRICE, "triggerValues[0]"),  # off grid
        ((leg(0),), Rejection.INVALID_PRICE, "orders[0].price"),
        ((leg(0, price=150_000),), Rejection.INVALID_PRICE, "triggerValues[0]"),  # no trigger
        ((leg(150_000, quantity=0),), Rejection.INVALID_QUANTITY, "orders[0].quantity"),
        ((leg(150_000, price=150_005),), Rejection.INVALID_PRICE, "orders[0].price"),
        (
            (leg(150_000, order_type=OrderType.MARKET, price=150_000),),
            Rejection.INVALID_PRICE,
            "orders[0].orderType",
        ),
        (
            (leg(150_000, order_type=OrderType.SL),),
            Rejection.INVALID_PRICE,
            "orders[0].orderType",
        ),
        (
            (leg(150_000, product=Product.NRML),),
            Rejection.PRODUCT_NOT_ALLOWED,
            "orders[0].productType",
        ),
        ((leg(154_000), leg(158_000)), Rejection.INVALID_TRIGGER, "triggerValues[0]"),
        ((leg(150_000), leg(154_000)), Rejection.INVALID_TRIGGER, "triggerValues[1]"),
        ((leg(158_000), leg(150_000)), Rejection.INVALID_TRIGGER, "triggerValues[0]"),
        ((leg(150_000), leg(150_000)), Rejection.INVALID_TRIGGER, "triggerValues[1]"),
        ((leg(150_000, quantity=-1), leg(0)), Rejection.INVALID_QUANTITY, "orders[0].quantity"),
        (
            (leg(150_000), leg(158_000, quantity=0)),
            Rejection.INVALID_QUANTITY,
            "orders[1].quantity",
        ),
    ],
)
def test_place_when_terms_break_a_rule_then_refused_naming_field(
    account: AccountState,
    execute: Execute,
    reliance: Instrument,
    legs: tuple[GttLeg, ...],
    rejection: Rejection,
    field: str,
) -> None:
    decision = execute(account, place_gtt(reliance, *legs))
    assert (decision.rejection, decision.refused_field) == (rejection, field)
    assert decision.events == () and account.gtts == {}


def test_place_when_legs_do_not_match_type_then_invalid_trigger(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    decision = execute(account, place_gtt(reliance, leg(150_000), gtt_type=GttType.TWO_LEG))
    assert (decision.rejection, decision.refused_field) == (Rejection.INVALID_TRIGGER, "orders")
    decision = execute(
        account, place_gtt(reliance, leg(150_000), leg(158_000), gtt_type=GttType.SINGLE)
    )
    assert (decision.rejection, decision.refused_field) == (Rejection.INVALID_TRIGGER, "orders")


def test_place_two_leg_when_last_price_strictly_between_then_active(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    decision = execute(account, place_gtt(reliance, leg(153_990), leg(154_010)))
    assert decision.rejection is None
    gtt = account.gtts["g1"]
    assert (rises_to(gtt, 0), rises_to(gtt, 1)) == (False, True)


@pytest.mark.parametrize(
    ("trigger_paise", "price", "last"),
    [
        (1, 24_000, 24_487),  # a trigger of one paisa, below the last price
        (24_000, 1, 24_487),  # a limit price of one paisa
        (2, 2, 1),  # a last price of one paisa, the trigger one tick above it
    ],
)
def test_place_when_a_figure_is_one_paisa_on_a_one_paisa_tick_then_active(
    account: AccountState,
    execute: Execute,
    wipro: Instrument,
    trigger_paise: int,
    price: int,
    last: int,
) -> None:
    """WIPRO trades on a one-paisa tick: one paisa is on its grid and above zero, so a trigger,
    a limit price or a last price of one paisa is a valid term, not a missing one."""
    assert wipro.tick_paise == 1
    decision = execute(account, place_gtt(wipro, leg(trigger_paise, price=price), last=last))
    assert (decision.rejection, decision.refused_field) == (None, "")
    gtt = account.gtts["g1"]
    assert gtt.last_price_paise == last
    assert gtt.legs == (leg(trigger_paise, price=price),)


def test_place_on_index_or_lot_off_then_refused(
    account: AccountState, execute: Execute, master: object, nifty_fut: Instrument
) -> None:
    index = next(i for i in master if i.is_index)  # type: ignore[attr-defined]
    decision = execute(account, place_gtt(index, leg(100)))
    assert (decision.rejection, decision.refused_field) == (Rejection.NOT_TRADABLE, "instrumentId")
    nrml = leg(2_600_000, quantity=64, product=Product.NRML)
    decision = execute(account, place_gtt(nifty_fut, nrml, last=2_613_860))
    assert (decision.rejection, decision.refused_field) == (
        Rejection.INVALID_QUANTITY,
        "orders[0].quantity",
    )


def test_place_on_contract_when_at_its_expiry_instant_then_expired_and_one_ms_before_active(
    account: AccountState, execute: Execute, nifty_fut: Instrument, rules: AccountRules
) -> None:
    expiry_ms = rules.calendar.expiry_instant_ms(nifty_fut)
    nrml = leg(2_600_000, quantity=nifty_fut.lot_size, product=Product.NRML)
    at_expiry = place_gtt(nifty_fut, nrml, last=2_613_860, now_ms=expiry_ms)
    decision = execute(account, at_expiry)
    assert (decision.rejection, decision.refused_field) == (
        Rejection.INSTRUMENT_EXPIRED,
        "instrumentId",
    )
    before = place_gtt(nifty_fut, nrml, last=2_613_860, now_ms=expiry_ms - 1)
    assert execute(account, before).rejection is None


def test_place_when_active_max_reached_then_gtt_limit_and_at_one_below_accepted(
    account: AccountState, execute: Execute, reliance: Instrument, rules: AccountRules
) -> None:
    tight = dataclasses.replace(rules, gtt=GttConfig(active_max=2, expiry_days=1))
    for n in range(2):
        command = place_gtt(reliance, leg(150_000), gtt_id=f"g{n}")
        decision = run_command(account, command, tight)
        assert decision.rejection is None
        assert decision.events[0].expires_ms == NOW_MS + DAY_MS  # type: ignore[union-attr]
    refused = run_command(account, place_gtt(reliance, leg(150_000), gtt_id="g9"), tight)
    assert refused.rejection is Rejection.GTT_LIMIT


def test_place_when_id_taken_then_duplicate(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    assert execute(account, place_gtt(reliance, leg(150_000))).rejection is Rejection.DUPLICATE


# -- modify, delete, end ------------------------------------------------------------------


def test_modify_when_active_then_terms_replaced_and_version_bumped(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    modify = cmd.ModifyGtt(
        gtt_id="g1",
        gtt_type=GttType.TWO_LEG,
        legs=(leg(151_000), leg(160_000)),
        last_price_paise=None,
        now_ms=NOW_MS + 5,
        instrument=reliance,
        ltp_paise=155_000,
    )
    decision = execute(account, modify)
    assert decision.rejection is None
    gtt = account.gtts["g1"]
    assert (gtt.version, gtt.gtt_type, gtt.last_price_paise) == (1, GttType.TWO_LEG, 155_000)
    assert gtt.expires_ms == NOW_MS + 365 * DAY_MS  # kept
    assert gtt.updated_ms == NOW_MS + 5


def test_modify_or_delete_when_not_active_then_gtt_not_active(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    modify = cmd.ModifyGtt(
        gtt_id="nope",
        gtt_type=GttType.SINGLE,
        legs=(leg(150_000),),
        now_ms=NOW_MS,
        instrument=reliance,
        ltp_paise=154_000,
    )
    assert execute(account, modify).rejection is Rejection.GTT_NOT_ACTIVE
    delete = cmd.DeleteGtt(gtt_id="nope", now_ms=NOW_MS)
    assert execute(account, delete).rejection is Rejection.GTT_NOT_ACTIVE


def test_modify_when_new_trigger_on_wrong_side_then_refused_and_kept(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    modify = cmd.ModifyGtt(
        gtt_id="g1",
        gtt_type=GttType.TWO_LEG,
        legs=(leg(156_000), leg(160_000)),
        last_price_paise=155_000,
        now_ms=NOW_MS,
        instrument=reliance,
        ltp_paise=155_000,
    )
    decision = execute(account, modify)
    assert (decision.rejection, decision.refused_field) == (
        Rejection.INVALID_TRIGGER,
        "triggerValues[0]",
    )
    assert account.gtts["g1"].version == 0


def test_delete_when_active_then_leaves_state(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    decision = execute(account, cmd.DeleteGtt(gtt_id="g1", now_ms=NOW_MS))
    assert decision.events == (ev.GttDeleted(at_ms=NOW_MS, gtt_id="g1"),)
    assert account.gtts == {}


def test_expire_exactly_at_expiry_then_expired_and_one_ms_before_refused(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    expires = account.gtts["g1"].expires_ms
    early = cmd.EndGtt(gtt_id="g1", status="EXPIRED", gtt_version=0, now_ms=expires - 1)
    assert execute(account, early).rejection is Rejection.STALE_EXECUTION
    stale = cmd.EndGtt(gtt_id="g1", status="EXPIRED", gtt_version=1, now_ms=expires)
    assert execute(account, stale).rejection is Rejection.STALE_EXECUTION
    due = cmd.EndGtt(gtt_id="g1", status="EXPIRED", gtt_version=0, now_ms=expires)
    decision = execute(account, due)
    assert decision.events == (ev.GttExpired(at_ms=expires, gtt_id="g1", status="EXPIRED"),)
    assert account.gtts == {}


def test_disable_any_time_then_disabled(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    decision = execute(account, cmd.EndGtt(gtt_id="g1", status="DISABLED", now_ms=NOW_MS))
    assert decision.events == (ev.GttExpired(at_ms=NOW_MS, gtt_id="g1", status="DISABLED"),)
    bad = cmd.EndGtt(gtt_id="g1", status="TRIGGERED", now_ms=NOW_MS)
    execute(account, place_gtt(reliance, leg(150_000)))
    assert execute(account, bad).rejection is Rejection.INVALID_TRIGGER


# -- firing -------------------------------------------------------------------------------


def test_trigger_single_buy_when_reached_then_order_placed_through_checks(
    account: AccountState, execute: Execute, reliance: Instrument, quote_for: QuoteFor
) -> None:
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY, quantity=10)))
    quote = quote_for(reliance, 150_000)
    decision = execute(account, trigger(reliance, 0, 150_000, quote=quote))
    assert decision.rejection is None
    triggered, accepted = decision.events
    assert triggered == ev.GttTriggered(
        at_ms=NOW_MS + 1000, gtt_id="g1", leg=0, ltp_paise=150_000, placed_order_id="o-gtt"
    )
    assert isinstance(accepted, ev.OrderAccepted)
    assert (accepted.side, accepted.quantity, accepted.price_paise) == (Side.BUY, 10, 150_000)
    assert accepted.order_type is OrderType.LIMIT and accepted.product is Product.CNC
    assert accepted.margin_blocked_paise == 10 * 150_000  # CNC buy: its whole value
    assert account.gtts == {} and "o-gtt" in account.orders


def test_trigger_when_price_short_of_trigger_by_one_tick_then_refused(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY)))
    decision = execute(account, trigger(reliance, 0, 150_010))
    assert decision.rejection is Rejection.OUTSIDE_ORDER_TERMS
    assert "g1" in account.gtts


def test_trigger_when_stale_version_or_leg_unknown_then_refused(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY)))
    assert execute(account, trigger(reliance, 0, 150_000, version=1)).rejection is (
        Rejection.STALE_EXECUTION
    )
    assert execute(account, trigger(reliance, 1, 150_000)).rejection is (
        Rejection.OUTSIDE_ORDER_TERMS
    )
    assert execute(account, trigger(reliance, -1, 150_000)).rejection is (
        Rejection.OUTSIDE_ORDER_TERMS
    )
    assert execute(account, trigger(reliance, 0, 150_000, gtt_id="x")).rejection is (
        Rejection.GTT_NOT_ACTIVE
    )


def test_trigger_on_other_instrument_then_refused(
    account: AccountState, execute: Execute, reliance: Instrument, tcs: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY)))
    assert execute(account, trigger(tcs, 0, 150_000)).rejection is Rejection.OUTSIDE_ORDER_TERMS


def test_trigger_when_funds_short_then_gtt_rejected_with_reason_and_order_kept_rejected(
    funded_account: object, execute: Execute, reliance: Instrument, quote_for: QuoteFor
) -> None:
    account: AccountState = funded_account(1_000_00)  # type: ignore[operator]
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY, quantity=10)))
    decision = execute(account, trigger(reliance, 0, 149_000, quote=quote_for(reliance, 149_000)))
    assert decision.rejection is Rejection.INSUFFICIENT_FUNDS
    triggered, refused = decision.events
    assert isinstance(triggered, ev.GttTriggered)
    assert triggered.rejection == "INSUFFICIENT_FUNDS" and triggered.ltp_paise == 149_000
    assert isinstance(refused, ev.OrderRejected) and refused.order_id == "o-gtt"
    assert account.gtts == {} and account.orders == {}
    assert account.available_paise == 1_000_00


def test_trigger_when_marked_down_then_refused_with_the_shortfall_of_its_order(
    funded_account: object, execute: Execute, reliance: Instrument, quote_for: QuoteFor
) -> None:
    """₹20,000 deposited and a ₹5,500 loss marked to market: the CNC buy of 10 at ₹1,500 blocks
    ₹15,000 and costs ₹17.82 in charges (STT ₹15, stamp ₹2.25, exchange ₹0.46, SEBI ₹0.02, GST
    ₹0.09), more than the ₹14,500 left; the refusal carries those three figures, as a new order's
    does. Marked up by ₹5,500 instead, the same firing is taken."""
    account: AccountState = funded_account(20_000_00)  # type: ignore[operator]
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY, quantity=10)))
    quote = quote_for(reliance, 149_000)
    decision = execute(account, trigger(reliance, 0, 149_000, quote=quote, mtm=-5_500_00))
    assert decision.rejection is Rejection.INSUFFICIENT_FUNDS
    assert decision.shortfall == Shortfall(
        required_margin_paise=15_000_00, charges_paise=17_82, available_paise=14_500_00
    )
    assert account.gtts == {} and account.available_paise == 20_000_00

    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY, quantity=10), gtt_id="g2"))
    up = msgspec.structs.replace(
        trigger(reliance, 0, 149_000, quote=quote, mtm=5_500_00, gtt_id="g2"), order_id="o-up"
    )
    taken = execute(account, up)
    assert (taken.rejection, taken.shortfall) == (None, None)
    assert account.orders["o-up"].margin_blocked_paise == 15_000_00


def test_trigger_when_stamped_with_a_price_source_then_its_acceptance_records_it(
    account: AccountState, execute: Execute, reliance: Instrument, quote_for: QuoteFor
) -> None:
    execute(account, place_gtt(reliance, leg(158_000, side=Side.BUY, order_type=OrderType.MARKET)))
    quote = quote_for(reliance, 158_000)
    fired = trigger(reliance, 0, 158_000, quote=quote, price_source=PriceSource.STORED)
    decision = execute(account, fired)
    triggered, accepted = decision.events
    assert isinstance(triggered, ev.GttTriggered) and triggered.rejection == ""
    assert isinstance(accepted, ev.OrderAccepted)
    assert accepted.price_source == "STORED"  # the tier that valued the order, journaled


def test_trigger_two_leg_stop_loss_then_other_leg_gone_with_it(
    account: AccountState,
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
    trade: object,
) -> None:
    trade(account, reliance, Side.BUY, 5, 154_000, product=Product.CNC)  # type: ignore[operator]
    sl, target = leg(150_000, quantity=5), leg(160_000, quantity=5)
    execute(account, place_gtt(reliance, sl, target))
    decision = execute(account, trigger(reliance, 0, 149_900, quote=quote_for(reliance, 149_900)))
    assert decision.rejection is None
    triggered, accepted = decision.events
    assert isinstance(triggered, ev.GttTriggered) and triggered.leg == 0
    assert isinstance(accepted, ev.OrderAccepted) and accepted.side is Side.SELL
    assert accepted.price_paise == 150_000
    # The target leg fires no more: the GTT has ended.
    late = execute(account, trigger(reliance, 1, 160_000))
    assert late.rejection is Rejection.GTT_NOT_ACTIVE


def test_trigger_market_leg_then_market_order_placed(
    account: AccountState, execute: Execute, reliance: Instrument, quote_for: QuoteFor
) -> None:
    execute(
        account,
        place_gtt(reliance, leg(158_000, side=Side.BUY, order_type=OrderType.MARKET)),
    )
    decision = execute(account, trigger(reliance, 0, 158_000, quote=quote_for(reliance, 158_000)))
    accepted = decision.events[1]
    assert isinstance(accepted, ev.OrderAccepted)
    assert (accepted.order_type, accepted.price_paise) == (OrderType.MARKET, 0)


def test_trigger_after_expiry_then_expired_not_placed(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY)))
    expires = account.gtts["g1"].expires_ms
    decision = execute(account, trigger(reliance, 0, 150_000, now_ms=expires))
    assert decision.events == (ev.GttExpired(at_ms=expires, gtt_id="g1", status="EXPIRED"),)
    assert account.orders == {}


def test_trigger_when_order_id_taken_then_nothing_and_gtt_waits(
    account: AccountState,
    execute: Execute,
    reliance: Instrument,
    quote_for: QuoteFor,
    place_order: object,
) -> None:
    execute(account, place_order(reliance, order_id="o-gtt", price_paise=140_000, quantity=1))  # type: ignore[operator]
    execute(account, place_gtt(reliance, leg(150_000, side=Side.BUY)))
    decision = execute(account, trigger(reliance, 0, 150_000, quote=quote_for(reliance, 150_000)))
    assert (decision.rejection, decision.events) == (Rejection.DUPLICATE, ())
    assert "g1" in account.gtts


def test_reset_when_gtts_active_then_deleted(
    account: AccountState, execute: Execute, reliance: Instrument
) -> None:
    execute(account, place_gtt(reliance, leg(150_000)))
    reset = cmd.ResetAccount(
        reset_id="r1", by_user_id="u", by_role="USER", opening_balance_paise=1, now_ms=NOW_MS
    )
    decision = execute(account, reset)
    assert ev.GttDeleted(at_ms=NOW_MS, gtt_id="g1") in decision.events
    assert account.gtts == {}


def test_events_replay_to_same_gtts(
    account: AccountState, execute: Execute, reliance: Instrument, quote_for: QuoteFor
) -> None:
    events: list[ev.AccountEvent] = []
    for command in (
        place_gtt(reliance, leg(150_000), leg(158_000)),
        place_gtt(reliance, leg(150_000, side=Side.BUY), gtt_id="g2"),
        trigger(reliance, 0, 150_000, gtt_id="g2", quote=quote_for(reliance, 150_000)),
    ):
        events.extend(execute(account, command).events)
    replayed = apply_all(
        AccountState(account.account_id), [ev.decode_event(ev.encode_event(e)) for e in events]
    )
    assert msgspec.json.encode(replayed.gtts) == msgspec.json.encode(account.gtts)
    assert list(replayed.gtts) == ["g1"]


def test_trigger_when_a_derivative_leg_fires_then_its_order_is_margined_on_the_stamped_market(
    account: AccountState,
    execute: Execute,
    rules: AccountRules,
    nifty_fut: Instrument,
    quote_for: QuoteFor,
) -> None:
    price = nifty_fut.reference_price_paise
    fires_at = price + 1_000
    buy = leg(fires_at, side=Side.BUY, quantity=nifty_fut.lot_size, product=Product.NRML)
    execute(account, place_gtt(nifty_fut, buy, last=price, ltp=price))
    market = market_of(rules, [nifty_fut], now_ms=NOW_MS, price_paise=fires_at)
    fired = msgspec.structs.replace(
        trigger(nifty_fut, 0, fires_at, quote=quote_for(nifty_fut, fires_at)), market=market
    )
    triggered, accepted = execute(account, fired).events
    assert isinstance(triggered, ev.GttTriggered) and triggered.rejection == ""
    assert isinstance(accepted, ev.OrderAccepted)
    # A future's order blocks its portfolio margin on the market it was stamped with.
    margin = rules.portfolio.margin(
        [MarginLeg(market.legs[0], nifty_fut.lot_size, nifty_fut.lot_size * fires_at)],
        market,
        rules.trade_date(NOW_MS),
    )
    assert accepted.margin_blocked_paise == margin.blocked_paise > 0
