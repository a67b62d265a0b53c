"""Basket margins (``engine.domain.account.basket``), pure, to the paisa against the portfolio
model's own figures: a short call and a long call margined together need less than each alone
and the difference is the benefit; shares and a derivative in one basket are margined apart;
an order short of funds is priced and flagged, not dropped; a refused order counts nowhere; an
order against an opposite position adds less than it would on a flat account (``standalone``),
and on a flat account the two agree."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain import commands as cmd
from engine.domain.account.basket import (
    NO_FIGURES,
    BasketMargins,
    MarginFigures,
    basket_margins,
)
from engine.domain.account.decide import preview_order
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.margin import equity_margin
from engine.domain.portfolio import (
    MarginLeg,
    PortfolioMargin,
    UnderlyingMarket,
    with_fill,
)
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, Execute, QuoteFor, fill, place
from tests.support.margin_markets import market_for, market_of

SHORT_PRICE = 44_145  # the 26000 CE's previous close, ₹441.45
LONG_PRICE = 18_970  # the 26500 CE's, ₹189.70


@pytest.fixture(scope="module")
def call_26500(master: InstrumentMaster) -> Instrument:
    call = master.get("NFO:NIFTY26DEC26500CE")
    assert call is not None
    return call


def _order(
    state: AccountState,
    rules: AccountRules,
    quote_for: QuoteFor,
    instrument: Instrument,
    *,
    side: Side,
    price_paise: int,
    order_id: str,
    lots: int = 1,
    product: Product = Product.NRML,
) -> cmd.PlaceOrder:
    """A LIMIT order (valued at its price) stamped with its market as the actor would."""
    return place(
        instrument,
        order_id=order_id,
        side=side,
        product=product,
        quantity=instrument.lot_size * lots if instrument.lot_size > 1 else lots,
        price_paise=price_paise,
        quote=quote_for(instrument, price_paise),
        market=market_for(rules, state, instrument, now_ms=NOW_MS),
    )


def _model(
    rules: AccountRules, market: UnderlyingMarket, *fills: tuple[Instrument, int, int]
) -> PortfolioMargin:
    """The model's margin of ``fills`` (instrument, signed quantity, price) on a flat account."""
    legs: dict[tuple[str, str], MarginLeg] = {}
    for instrument, quantity, price in fills:
        leg = market.leg(instrument.instrument_id)
        assert leg is not None
        legs = with_fill(legs, (instrument.instrument_id, "NRML"), leg, quantity, price)
    return rules.portfolio.margin(tuple(legs.values()), market, rules.trade_date(NOW_MS))


def _as_figures(margin: PortfolioMargin) -> MarginFigures:
    return MarginFigures(
        span_paise=margin.span_paise,
        exposure_paise=margin.exposure_paise,
        additional_paise=margin.additional_paise,
        option_premium_paise=margin.premium_paise,
        premium_credit_paise=margin.premium_credit_paise,
        blocked_paise=margin.blocked_paise,
    )


def test_basket_when_short_call_hedged_by_long_call_then_final_below_initial_by_benefit(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    nifty_call: Instrument,
    call_26500: Instrument,
) -> None:
    state = funded_account()
    short = _order(
        state, rules, quote_for, nifty_call, side=Side.SELL, price_paise=SHORT_PRICE, order_id="s"
    )
    long = _order(
        state, rules, quote_for, call_26500, side=Side.BUY, price_paise=LONG_PRICE, order_id="l"
    )
    basket = basket_margins(state, [short, long], rules)

    lot = nifty_call.lot_size
    market = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS)
    short_alone = _model(rules, market, (nifty_call, -lot, SHORT_PRICE))
    long_alone = _model(rules, market, (call_26500, lot, LONG_PRICE))
    together = _model(rules, market, (nifty_call, -lot, SHORT_PRICE), (call_26500, lot, LONG_PRICE))
    assert basket.orders[0].figures == _as_figures(short_alone)
    assert basket.orders[1].figures == _as_figures(long_alone)
    assert basket.initial.blocked_paise == short_alone.blocked_paise + long_alone.blocked_paise
    assert basket.initial.total_paise == short_alone.total_paise + long_alone.total_paise
    assert basket.final == _as_figures(together)
    assert basket.final.total_paise == together.total_paise
    assert basket.final.blocked_paise < basket.initial.blocked_paise
    assert basket.benefit_paise == (
        short_alone.total_paise + long_alone.total_paise - together.total_paise
    )
    assert basket.benefit_paise > 0
    # Each order alone is what the margin preview blocks and charges.
    for priced, order in zip(basket.orders, (short, long), strict=True):
        assert priced.requirements == preview_order(state, order, rules)
        assert priced.requirements.rejection is None
        assert priced.figures.blocked_paise == priced.requirements.block_paise
        assert priced.standalone == priced.figures  # a flat account: nothing to offset
    assert basket.charges_paise == sum(o.requirements.charges_paise for o in basket.orders)
    assert basket.charges_paise > 0


def test_basket_when_shares_and_an_option_then_margined_apart_without_benefit(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    reliance: Instrument,
    nifty_call: Instrument,
) -> None:
    state = funded_account()
    shares = _order(
        state,
        rules,
        quote_for,
        reliance,
        side=Side.BUY,
        price_paise=154_280,
        order_id="eq",
        lots=10,
        product=Product.MIS,
    )
    short = _order(
        state, rules, quote_for, nifty_call, side=Side.SELL, price_paise=SHORT_PRICE, order_id="s"
    )
    basket = basket_margins(state, [shares, short], rules)

    var = equity_margin(rules.margin, reliance, Product.MIS, Side.BUY, 10, 154_280)
    assert basket.orders[0].figures == MarginFigures(var_paise=var, blocked_paise=var)
    market = market_of(rules, [nifty_call], now_ms=NOW_MS)
    option = _as_figures(_model(rules, market, (nifty_call, -nifty_call.lot_size, SHORT_PRICE)))
    assert basket.orders[1].figures == option
    assert basket.initial == basket.final
    assert basket.final.var_paise == var
    assert basket.final.span_paise == option.span_paise
    assert basket.final.blocked_paise == var + option.blocked_paise
    assert basket.final.total_paise == var + option.total_paise
    assert basket.benefit_paise == 0


def test_basket_when_an_order_short_of_funds_then_priced_and_flagged_not_dropped(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    nifty_call: Instrument,
    call_26500: Instrument,
) -> None:
    state = funded_account(2_000_000)  # ₹20,000: a short call needs far more
    short = _order(
        state, rules, quote_for, nifty_call, side=Side.SELL, price_paise=SHORT_PRICE, order_id="s"
    )
    long = _order(
        state, rules, quote_for, call_26500, side=Side.BUY, price_paise=LONG_PRICE, order_id="l"
    )
    basket = basket_margins(state, [short, long], rules)

    refused, taken = basket.orders
    assert refused.requirements.rejection is Rejection.INSUFFICIENT_FUNDS
    assert refused.requirements.block_paise > state.available_paise
    assert refused.figures.blocked_paise == refused.requirements.block_paise
    assert taken.requirements.rejection is None  # ₹189.70 × 65 is within ₹20,000
    funded = basket_margins(funded_account(), [short, long], rules)
    assert (basket.initial, basket.final) == (funded.initial, funded.final)
    assert basket.benefit_paise == funded.benefit_paise > 0


def test_basket_when_an_order_breaks_a_rule_then_it_counts_nowhere(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    nifty_call: Instrument,
) -> None:
    state = funded_account()
    good = _order(
        state, rules, quote_for, nifty_call, side=Side.SELL, price_paise=SHORT_PRICE, order_id="s"
    )
    odd_lot = place(
        nifty_call,
        order_id="bad",
        side=Side.SELL,
        product=Product.NRML,
        quantity=nifty_call.lot_size + 1,
        price_paise=SHORT_PRICE,
        quote=quote_for(nifty_call, SHORT_PRICE),
        market=good.market,
    )
    basket = basket_margins(state, [good, odd_lot], rules)
    alone = basket_margins(state, [good], rules)

    assert basket.orders[1].requirements.rejection is Rejection.INVALID_QUANTITY
    assert basket.orders[1].figures == basket.orders[1].standalone == NO_FIGURES
    assert (basket.initial, basket.final) == (alone.initial, alone.final)


def _short_call_held(
    state: AccountState, execute: Execute, quote_for: QuoteFor, call: Instrument
) -> None:
    order = place(
        call,
        order_id="held",
        side=Side.SELL,
        product=Product.NRML,
        quantity=call.lot_size,
        price_paise=SHORT_PRICE,
        quote=quote_for(call, SHORT_PRICE),
    )
    assert execute(state, order).rejection is None
    assert execute(state, fill(call, "held", call.lot_size, SHORT_PRICE)).rejection is None
    assert len(state.positions) == 1


def test_basket_when_opposite_position_held_then_order_adds_less_than_standalone(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    nifty_call: Instrument,
    call_26500: Instrument,
) -> None:
    flat = funded_account()
    hedged = funded_account()
    _short_call_held(hedged, execute, quote_for, nifty_call)

    def basket_on(state: AccountState) -> BasketMargins:
        long = _order(
            state, rules, quote_for, call_26500, side=Side.BUY, price_paise=LONG_PRICE, order_id="l"
        )
        return basket_margins(state, [long], rules)

    on_flat, on_hedged = basket_on(flat), basket_on(hedged)
    (flat_order,) = on_flat.orders
    (hedge_order,) = on_hedged.orders
    # On a flat account the order needs its premium, alone or not.
    lot = call_26500.lot_size
    assert flat_order.figures == flat_order.standalone
    assert flat_order.figures.blocked_paise == lot * LONG_PRICE
    assert on_flat.final == on_flat.initial == flat_order.figures
    # Against the short call it lowers the short's SPAN: it adds less than on a flat account.
    assert hedge_order.standalone == flat_order.standalone
    assert hedge_order.figures.blocked_paise < hedge_order.standalone.blocked_paise
    assert hedge_order.figures.span_paise < 0
    market = market_of(rules, [nifty_call, call_26500], now_ms=NOW_MS)
    held = _model(rules, market, (nifty_call, -lot, SHORT_PRICE))
    both = _model(rules, market, (nifty_call, -lot, SHORT_PRICE), (call_26500, lot, LONG_PRICE))
    assert hedge_order.figures.blocked_paise == max(0, both.blocked_paise - held.blocked_paise)
    assert on_hedged.final.total_paise == both.total_paise - held.total_paise
    assert on_hedged.final == hedge_order.figures  # one order: together is alone


def test_basket_when_order_closes_position_then_it_frees_margin_and_blocks_nothing(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    nifty_call: Instrument,
) -> None:
    state = funded_account()
    _short_call_held(state, execute, quote_for, nifty_call)
    close = _order(
        state, rules, quote_for, nifty_call, side=Side.BUY, price_paise=SHORT_PRICE, order_id="c"
    )
    basket = basket_margins(state, [close], rules)

    (order,) = basket.orders
    market = market_of(rules, [nifty_call], now_ms=NOW_MS)
    held = _model(rules, market, (nifty_call, -nifty_call.lot_size, SHORT_PRICE))
    assert order.requirements.block_paise == order.figures.blocked_paise == 0
    assert order.figures.total_paise == -held.total_paise
    assert order.figures.premium_credit_paise == -held.premium_credit_paise
    assert order.standalone.blocked_paise == nifty_call.lot_size * SHORT_PRICE  # a long call
    assert basket.final == order.figures
    assert basket.benefit_paise == 0


def test_basket_when_adding_to_held_legs_on_expiry_day_then_only_the_added_extra_and_premium(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    trade: Callable[..., object],
    nifty_call: Instrument,
    call_26500: Instrument,
) -> None:
    """Short the 26000 call and long the 26500 call from the day before their expiry; on the
    day, one more lot of each adds the extra ELM of one short lot, 2 % of 65 × 26138.60 =
    33 980.18, and the premium of one long lot, 65 × 189.70 = 12 330.50; what the held legs
    already carry is not counted again."""
    assert nifty_call.expiry is not None
    expiry_ms = NOW_MS + (nifty_call.expiry - rules.trade_date(NOW_MS)).days * DAY_MS
    state = funded_account()
    held = market_of(rules, [nifty_call, call_26500], now_ms=expiry_ms - DAY_MS)
    for call, side, price in (
        (nifty_call, Side.SELL, SHORT_PRICE),
        (call_26500, Side.BUY, LONG_PRICE),
    ):
        trade(
            state,
            call,
            side,
            65,
            price,
            product=Product.NRML,
            now_ms=expiry_ms - DAY_MS,
            market=held,
        )
    orders = [
        place(
            call,
            order_id=order_id,
            side=side,
            product=Product.NRML,
            quantity=65,
            price_paise=price,
            quote=quote_for(call, price),
            now_ms=expiry_ms,
            market=market_for(rules, state, call, now_ms=expiry_ms),
        )
        for call, side, price, order_id in (
            (nifty_call, Side.SELL, SHORT_PRICE, "s"),
            (call_26500, Side.BUY, LONG_PRICE, "l"),
        )
    ]

    basket = basket_margins(state, orders, rules)

    short, long = (o.figures for o in basket.orders)
    assert (short.additional_paise, short.option_premium_paise) == (3_398_018, 0)
    assert (long.additional_paise, long.option_premium_paise) == (0, 1_233_050)
    assert basket.final.additional_paise == 3_398_018
    assert basket.final.option_premium_paise == 1_233_050


def test_basket_when_options_on_two_underlyings_then_each_its_own_portfolio(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    master: InstrumentMaster,
    nifty_call: Instrument,
) -> None:
    """A NIFTY short call and a BANKNIFTY short call offset nothing: together they need what
    they need apart, each on its own underlying's price (exposure on 65 × 26138.60 and on
    30 × 59390.40)."""
    bank_call = master.get("NFO:BANKNIFTY26DEC59000CE")
    assert bank_call is not None
    state = funded_account()
    nifty = _order(
        state, rules, quote_for, nifty_call, side=Side.SELL, price_paise=SHORT_PRICE, order_id="n"
    )
    bank = _order(
        state, rules, quote_for, bank_call, side=Side.SELL, price_paise=115_960, order_id="b"
    )

    basket = basket_margins(state, [nifty, bank], rules)

    assert basket.final == basket.initial
    assert basket.final.exposure_paise == 3_398_018 + 3_563_424
    assert basket.benefit_paise == 0


@pytest.mark.parametrize("order_type", [OrderType.SL_M, OrderType.MARKET])
def test_basket_when_no_limit_price_then_valued_at_the_protected_trigger_or_ask(
    rules: AccountRules,
    funded_account: Callable[..., AccountState],
    quote_for: QuoteFor,
    call_26500: Instrument,
    order_type: OrderType,
) -> None:
    """A long call's premium at the price it is valued at: an SL-M's trigger (₹190), a market
    order's ask (₹189.75, a tick above the last price), each plus the market protection."""
    state = funded_account()
    quote = quote_for(call_26500, LONG_PRICE)
    order = place(
        call_26500,
        order_id="l",
        product=Product.NRML,
        order_type=order_type,
        quantity=65,
        trigger_paise=19_000 if order_type is OrderType.SL_M else 0,
        quote=quote,
        market=market_for(rules, state, call_26500, now_ms=NOW_MS),
    )

    basket = basket_margins(state, [order], rules)

    valued = 19_000 if order_type is OrderType.SL_M else quote.ask_paise
    protected = valued + rules.execution.market_protection.of(valued)
    assert basket.orders[0].requirements.rejection is None
    assert basket.final.option_premium_paise == 65 * protected
    assert basket.orders[0].figures == basket.final
