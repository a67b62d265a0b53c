"""Stock futures and options settled by delivery at expiry (docs/DOMAIN.md §6), to the paisa.

The contract's position closes through the expiry's exit order (a future at its settlement
price, an option at 0: its intrinsic value is paid by the delivery at the strike), with no
charge and ``close_reason`` EXPIRED; then one ``SharesDelivered`` moves the shares into or out
of the CNC holding at the delivery price, charged as an equity delivery trade (STT 0.1 % on
both sides, NSE exchange charge, SEBI fee, GST, stamp duty on the buy side, DP on the way
out). A short delivery the holding cannot meet is closed out at the settlement price plus a
20 % penalty; an option out of the money expires worthless; index contracts stay in cash; a
second settlement finds the position closed. The contract's portfolio margin (a stock future's
14.2 % + 3.5 % of its notional at the spot, a long option's premium) is released with it. The
funds identity holds after each.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.delivery import (
    Delivery,
    deliverable_ticker,
    delivery_of,
    free_holding,
    physically_settled,
)
from engine.domain.account.state import AccountState, check_funds_identity
from engine.domain.enums import Exchange, InstrumentType, Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, fill, place
from tests.support.margin_markets import market_for
from tests.support.stock_fno import (
    EXPIRY_MS,
    RELIANCE_LOT,
    reliance_future,
    reliance_option,
)

CE, PE = InstrumentType.CE, InstrumentType.PE
SPOT_AT_EXPIRY = 156_000  # RELIANCE closes at ₹1,560.00 as the contracts expire
DP_CHARGE = 1_534  # ₹15.34 per scrip per day, GST included
HOUR_MS = 3_600_000


Opened = Callable[..., str]


@pytest.fixture
def opened(rules: AccountRules, execute: Execute, quote_for: QuoteFor) -> Opened:
    """``opened(state, contract, side, price_paise)``: open one lot of ``contract`` (NRML) by a
    filled LIMIT order, on a RELIANCE market at the spot it expires at; return the position id."""

    def open_position(
        state: AccountState, contract: Instrument, side: Side, price_paise: int
    ) -> str:
        market = market_for(rules, state, contract, now_ms=NOW_MS, price_paise=SPOT_AT_EXPIRY)
        order = place(
            contract,
            order_id=f"open-{contract.symbol}",
            side=side,
            product=Product.NRML,
            quantity=RELIANCE_LOT,
            price_paise=price_paise,
            quote=quote_for(contract, price_paise),
            market=market,
        )
        assert execute(state, order).rejection is None
        filled = fill(contract, order.order_id, RELIANCE_LOT, price_paise, market=market)
        assert execute(state, filled).rejection is None
        return state.position_ids[f"NRML:{contract.instrument_id}"]

    return open_position


def _holding(
    state: AccountState, execute: Execute, quote_for: QuoteFor, shares: Instrument, quantity: int
) -> None:
    """Hold ``quantity`` RELIANCE shares bought at ₹1,400.00 on an earlier day."""
    order = place(
        shares,
        order_id="cnc-buy",
        product=Product.CNC,
        quantity=quantity,
        price_paise=140_000,
        quote=quote_for(shares, 140_000),
    )
    assert execute(state, order).rejection is None
    assert execute(state, fill(shares, "cnc-buy", quantity, 140_000)).rejection is None
    assert execute(state, cmd.SettleHoldings(now_ms=EXPIRY_MS - 86_400_000)).rejection is None
    assert state.holdings[shares.instrument_id].cost_paise == quantity * 140_000


def _cnc(
    state: AccountState,
    execute: Execute,
    quote_for: QuoteFor,
    shares: Instrument,
    order_id: str,
    side: Side,
    quantity: int,
    price_paise: int,
    now_ms: int = NOW_MS,
) -> None:
    """Place a CNC LIMIT order for ``quantity`` shares, accepted (RELIANCE quoted at ₹1,560)."""
    order = place(
        shares,
        order_id=order_id,
        side=side,
        product=Product.CNC,
        quantity=quantity,
        price_paise=price_paise,
        quote=quote_for(shares, 156_000),
        now_ms=now_ms,
    )
    assert execute(state, order).rejection is None


def _expire(
    contract: Instrument,
    position_id: str,
    settlement_paise: int,
    shares: Instrument | None,
    exit_order_id: str = "expiry-1",
) -> cmd.ExpirePosition:
    return cmd.ExpirePosition(
        position_id,
        settlement_paise,
        now_ms=EXPIRY_MS,
        exit_order_id=exit_order_id,
        instrument=contract,
        deliverable=shares,
    )


def _delivered(
    events: tuple[ev.AccountEvent, ...],
) -> tuple[ev.OrderFilled, ev.SharesDelivered]:
    accepted, filled, delivered = events
    assert isinstance(accepted, ev.OrderAccepted)
    assert isinstance(filled, ev.OrderFilled)
    assert isinstance(delivered, ev.SharesDelivered)
    assert accepted.order_id == filled.order_id == delivered.exit_order_id == "expiry-1"
    assert filled.close_reason == "EXPIRED"
    assert (filled.charges_paise, filled.brokerage_paise, filled.position_quantity) == (0, 0, 0)
    return filled, delivered


def test_long_call_when_in_the_money_then_exercised_into_holdings_at_the_strike(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    call = reliance_option(1500, CE)
    state = funded_account(10_000_000_00)
    position_id = opened(state, call, Side.BUY, 6_000)
    balance, blocked = state.balance_paise, state.blocked_paise
    # The premium paid, 500 × ₹60.00, is RELIANCE's portfolio margin (the position has none).
    premium_margin = state.portfolio_margin["RELIANCE"]
    assert premium_margin == 3_000_000
    assert state.positions[position_id].margin_paise == 0
    # Spot ₹1,560 against the ₹1,500 strike: ₹60 in the money.
    decision = execute(state, _expire(call, position_id, 6_000, reliance))
    filled, delivered = _delivered(decision.events)
    # The premium paid is the option's P&L; its intrinsic value comes with the shares.
    assert (filled.side, filled.price_paise) == (Side.SELL, 0)
    assert filled.realized_pnl_paise == -6_000 * 500  # −₹30,000
    assert (delivered.side, delivered.quantity, delivered.price_paise) == (Side.BUY, 500, 150_000)
    assert delivered.instrument_id == reliance.instrument_id
    assert delivered.contract_id == call.instrument_id
    # Equity delivery buy of ₹7,50,000: STT 0.1 % ₹750.00; NSE 0.00307 % ₹23.025 → ₹23.03;
    # SEBI ₹0.75; GST 18 % of ₹23.78 = ₹4.2804 → ₹4.28; stamp 0.015 % ₹112.50.
    assert delivered.taxes_paise == 75_000 + 2_303 + 75 + 428 + 11_250 == 89_056
    assert (delivered.charges_paise, delivered.brokerage_paise) == (89_056, 0)
    assert (delivered.penalty_paise, delivered.realized_pnl_paise) == (0, 0)
    assert delivered.dp_day == 0  # shares received pay no DP charge
    holding = state.holdings[reliance.instrument_id]
    assert (holding.quantity, holding.cost_paise) == (500, 75_000_000)
    assert not state.positions
    assert state.balance_paise == balance - 3_000_000 - 89_056
    assert state.blocked_paise == blocked - premium_margin + 75_000_000
    assert state.portfolio_margin == {}
    check_funds_identity(state)


def test_short_put_when_in_the_money_then_assigned_shares_at_the_strike(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    put = reliance_option(1600, PE)
    state = funded_account(10_000_000_00)
    position_id = opened(state, put, Side.SELL, 4_500)
    balance = state.balance_paise
    # Spot ₹1,560 against the ₹1,600 strike: ₹40 in the money; the writer takes the shares.
    filled, delivered = _delivered(
        execute(state, _expire(put, position_id, 4_000, reliance)).events
    )
    assert (filled.side, filled.price_paise) == (Side.BUY, 0)
    assert filled.realized_pnl_paise == 4_500 * 500  # the premium kept: ₹22,500
    assert (delivered.side, delivered.quantity, delivered.price_paise) == (Side.BUY, 500, 160_000)
    # ₹8,00,000: STT ₹800; NSE ₹24.56; SEBI ₹0.80; GST 18 % of ₹25.36 → ₹4.56; stamp ₹120.
    assert delivered.charges_paise == 80_000 + 2_456 + 80 + 456 + 12_000 == 94_992
    holding = state.holdings[reliance.instrument_id]
    assert (holding.quantity, holding.cost_paise) == (500, 80_000_000)
    assert state.balance_paise == balance + 2_250_000 - 94_992
    check_funds_identity(state)


def test_long_future_when_expired_then_shares_received_at_the_settlement_price(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    future = reliance_future()
    state = funded_account(10_000_000_00)
    position_id = opened(state, future, Side.BUY, 154_500)
    balance = state.balance_paise
    filled, delivered = _delivered(
        execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance)).events
    )
    assert (filled.side, filled.price_paise) == (Side.SELL, SPOT_AT_EXPIRY)
    assert filled.realized_pnl_paise == (156_000 - 154_500) * 500  # ₹7,500
    assert (delivered.side, delivered.price_paise) == (Side.BUY, SPOT_AT_EXPIRY)
    # ₹7,80,000: STT ₹780; NSE ₹23.946 → ₹23.95; SEBI ₹0.78; GST 18 % of ₹24.73 → ₹4.45;
    # stamp ₹117.
    assert delivered.charges_paise == 78_000 + 2_395 + 78 + 445 + 11_700 == 92_618
    holding = state.holdings[reliance.instrument_id]
    assert (holding.quantity, holding.cost_paise) == (500, 78_000_000)
    assert state.balance_paise == balance + 750_000 - 92_618
    check_funds_identity(state)


def test_short_future_when_holdings_cover_then_shares_delivered_out_of_them(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    future = reliance_future()
    state = funded_account(10_000_000_00)
    _holding(state, execute, quote_for, reliance, 600)
    position_id = opened(state, future, Side.SELL, 155_000)
    # RELIANCE's portfolio: 500 × ₹1,560 = ₹7,80,000 at 14.2 % + 3.5 % = ₹1,10,760 + ₹27,300.
    assert state.portfolio_margin == {"RELIANCE": 11_076_000 + 2_730_000}
    balance, realized = state.balance_paise, state.realized_pnl_paise
    filled, delivered = _delivered(
        execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance)).events
    )
    assert (filled.side, filled.price_paise) == (Side.BUY, SPOT_AT_EXPIRY)
    assert filled.realized_pnl_paise == (155_000 - 156_000) * 500  # −₹5,000
    assert (delivered.side, delivered.quantity, delivered.delivered_quantity) == (
        Side.SELL,
        500,
        500,
    )
    # 500 of the 600 shares bought at ₹1,400 go at ₹1,560: ₹80,000 realised.
    assert delivered.realized_pnl_paise == 500 * (156_000 - 140_000)
    # ₹7,80,000 sold: STT ₹780; NSE ₹23.95; SEBI ₹0.78; GST ₹4.45; no stamp; DP ₹15.34.
    assert delivered.taxes_paise == 78_000 + 2_395 + 78 + 445 + DP_CHARGE == 82_452
    assert (delivered.penalty_paise, delivered.closeout_price_paise) == (0, 0)
    assert delivered.dp_day == state.dp_charged_day[reliance.instrument_id] > 0
    holding = state.holdings[reliance.instrument_id]
    assert (holding.quantity, holding.cost_paise) == (100, 14_000_000)
    assert state.realized_pnl_paise == realized - 500_000 + 8_000_000
    assert state.portfolio_margin == {}
    assert state.balance_paise == balance - 500_000 + 8_000_000 - 82_452
    check_funds_identity(state)


def test_short_call_when_holdings_short_then_rest_closed_out_with_the_penalty(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    call = reliance_option(1500, CE)
    state = funded_account(10_000_000_00)
    _holding(state, execute, quote_for, reliance, 200)
    position_id = opened(state, call, Side.SELL, 7_000)
    balance = state.balance_paise
    # Assigned: 500 shares owed at the ₹1,500 strike, only 200 held.
    filled, delivered = _delivered(
        execute(state, _expire(call, position_id, 6_000, reliance)).events
    )
    assert filled.realized_pnl_paise == 7_000 * 500  # the premium kept: ₹35,000
    assert (delivered.side, delivered.price_paise) == (Side.SELL, 150_000)
    assert (delivered.quantity, delivered.delivered_quantity) == (500, 200)
    assert delivered.closeout_price_paise == SPOT_AT_EXPIRY
    # 200 delivered at ₹1,500 against ₹1,400 cost: +₹20,000; 300 owed at ₹1,500 bought back
    # at ₹1,560: −₹18,000.
    assert delivered.realized_pnl_paise == 200 * 10_000 - 300 * 6_000 == 200_000
    # The 200 delivered (₹3,00,000): STT ₹300; NSE ₹9.21; SEBI ₹0.30; GST 18 % of ₹9.51 →
    # ₹1.71; DP ₹15.34. The 300 closed out (₹4,68,000 at ₹1,560): 20 % penalty ₹93,600.
    assert delivered.taxes_paise == 30_000 + 921 + 30 + 171 + DP_CHARGE == 32_656
    assert delivered.penalty_paise == 9_360_000
    assert delivered.charges_paise == 32_656 + 9_360_000
    assert reliance.instrument_id not in state.holdings  # all delivered; never negative
    assert state.balance_paise == balance + 3_500_000 + 200_000 - 9_392_656
    check_funds_identity(state)


def test_long_put_when_no_shares_then_closed_out_intrinsic_realised_less_the_penalty(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    put = reliance_option(1600, PE)
    state = funded_account(10_000_000_00)
    position_id = opened(state, put, Side.BUY, 4_500)
    _, delivered = _delivered(execute(state, _expire(put, position_id, 4_000, reliance)).events)
    assert (delivered.side, delivered.delivered_quantity) == (Side.SELL, 0)
    assert delivered.realized_pnl_paise == 500 * (160_000 - 156_000)  # the intrinsic ₹20,000
    assert delivered.taxes_paise == 0  # nothing delivered: no STT, no DP
    assert delivered.dp_day == 0
    assert delivered.penalty_paise == 500 * 156_000 // 5  # 20 % of ₹7,80,000
    assert reliance.instrument_id not in state.holdings
    check_funds_identity(state)


def test_short_future_when_a_pending_sell_holds_shares_then_only_the_free_ones_delivered(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    future = reliance_future()
    state = funded_account(10_000_000_00)
    _holding(state, execute, quote_for, reliance, 600)
    _cnc(state, execute, quote_for, reliance, "cnc-sell", Side.SELL, 200, 170_000)
    position_id = opened(state, future, Side.SELL, 155_000)
    _, delivered = _delivered(
        execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance)).events
    )
    assert (delivered.quantity, delivered.delivered_quantity) == (500, 400)
    assert delivered.penalty_paise == 100 * 156_000 // 5
    assert state.holdings[reliance.instrument_id].quantity == 200  # the pending sell's
    assert execute(state, fill(reliance, "cnc-sell", 200, 170_000)).rejection is None
    assert reliance.instrument_id not in state.holdings
    check_funds_identity(state)


def test_stock_option_when_out_of_the_money_then_expires_worthless_without_delivery(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    call = reliance_option(1600, CE)
    state = funded_account(10_000_000_00)
    position_id = opened(state, call, Side.BUY, 2_000)
    balance = state.balance_paise
    _, filled = execute(state, _expire(call, position_id, 0, reliance)).events
    assert isinstance(filled, ev.OrderFilled)
    assert (filled.price_paise, filled.charges_paise, filled.close_reason) == (0, 0, "EXPIRED")
    assert filled.realized_pnl_paise == -2_000 * 500
    assert not state.holdings and not state.positions
    assert state.balance_paise == balance - 1_000_000
    check_funds_identity(state)


def test_settlement_when_run_twice_then_the_second_changes_nothing(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    future = reliance_future()
    state = funded_account(10_000_000_00)
    position_id = opened(state, future, Side.BUY, 154_500)
    execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance))
    after = state.seq, state.balance_paise, dict(state.holdings)
    again = execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance, "expiry-2"))
    assert (again.rejection, again.events) == (Rejection.POSITION_CLOSED, ())
    assert (state.seq, state.balance_paise, dict(state.holdings)) == after


def test_stock_option_when_its_shares_are_not_listed_then_settled_in_cash(
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    call = reliance_option(1500, CE)
    state = funded_account(10_000_000_00)
    position_id = opened(state, call, Side.BUY, 6_000)
    _, filled = execute(state, _expire(call, position_id, 6_000, None)).events
    assert isinstance(filled, ev.OrderFilled)
    # The cash settlement: at intrinsic, STT on exercise 0.125 % of ₹30,000 = ₹37.50.
    assert (filled.price_paise, filled.charges_paise) == (6_000, 3_750)
    assert not state.holdings


def test_index_future_when_shares_stamped_anyway_then_still_settled_in_cash(
    nifty_fut: Instrument,
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    order = place(
        nifty_fut,
        product=Product.NRML,
        quantity=65,
        price_paise=2_613_860,
        quote=quote_for(nifty_fut, 2_613_860),
    )
    assert execute(state, order).rejection is None
    assert execute(state, fill(nifty_fut, order.order_id, 65, 2_613_860)).rejection is None
    (position_id,) = state.positions
    events = execute(state, _expire(nifty_fut, position_id, 2_615_000, reliance)).events
    assert [type(e) for e in events] == [ev.OrderAccepted, ev.OrderFilled]
    assert not state.holdings


@pytest.mark.parametrize(
    ("contract", "quantity", "settlement", "expected"),
    [
        pytest.param(reliance_future(), 500, 156_000, Delivery(Side.BUY, 156_000, 156_000)),
        pytest.param(reliance_future(), -500, 156_000, Delivery(Side.SELL, 156_000, 156_000)),
        pytest.param(reliance_option(1500, CE), 500, 6_000, Delivery(Side.BUY, 150_000, 156_000)),
        pytest.param(reliance_option(1500, CE), -500, 6_000, Delivery(Side.SELL, 150_000, 156_000)),
        pytest.param(reliance_option(1600, PE), 500, 4_000, Delivery(Side.SELL, 160_000, 156_000)),
        pytest.param(reliance_option(1600, PE), -500, 4_000, Delivery(Side.BUY, 160_000, 156_000)),
        pytest.param(reliance_future(), 1, 156_000, Delivery(Side.BUY, 156_000, 156_000)),
        pytest.param(reliance_option(1500, CE), 1, 1, Delivery(Side.BUY, 150_000, 150_001)),
        pytest.param(reliance_option(1600, CE), 500, 0, None, id="otm-call"),
        pytest.param(reliance_option(1500, PE), -500, 0, None, id="otm-put"),
    ],
)
def test_delivery_of_when_position_expires_then_its_direction_and_prices(
    contract: Instrument, quantity: int, settlement: int, expected: Delivery | None
) -> None:
    assert delivery_of(contract, quantity, settlement) == expected


def test_physically_settled_when_stock_fno_then_true_index_and_mcx_cash(
    nifty_fut: Instrument, nifty_call: Instrument, crude_fut: Instrument, reliance: Instrument
) -> None:
    assert physically_settled(reliance_future())
    assert physically_settled(reliance_option(1500, PE))
    assert deliverable_ticker(reliance_future()) == "NSE:RELIANCE"
    assert deliverable_ticker(reliance_future(Exchange.BFO)) == "BSE:RELIANCE"
    for cash_settled in (nifty_fut, nifty_call, crude_fut, reliance):
        assert not physically_settled(cash_settled)
        assert deliverable_ticker(cash_settled) is None


def test_free_holding_when_sells_pending_then_todays_buys_cover_them_first(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    _holding(state, execute, quote_for, reliance, 600)
    _cnc(state, execute, quote_for, reliance, "today", Side.BUY, 50, 156_000)
    assert execute(state, fill(reliance, "today", 50, 156_000)).rejection is None
    _cnc(state, execute, quote_for, reliance, "cnc-sell", Side.SELL, 80, 170_000)  # spoken for
    _cnc(state, execute, quote_for, reliance, "cnc-bid", Side.BUY, 30, 140_000)  # a buy: none
    intraday = place(
        reliance,
        order_id="mis-sell",
        side=Side.SELL,
        quantity=20,
        price_paise=170_000,
        quote=quote_for(reliance, 156_000),
    )
    assert execute(state, intraday).rejection is None  # intraday: none
    # Today's 50 cover 50 of the 80 pending: 30 of the 600 held are spoken for.
    assert free_holding(state, reliance.instrument_id) == 570
    _cnc(state, execute, quote_for, reliance, "all", Side.SELL, 570, 170_000)
    assert free_holding(state, reliance.instrument_id) == 0


def test_short_future_when_one_share_goes_out_then_dp_once_a_day(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    future = reliance_future()
    state = funded_account(10_000_000_00)
    _holding(state, execute, quote_for, reliance, 1)
    position_id = opened(state, future, Side.SELL, 155_000)
    _, delivered = _delivered(
        execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance)).events
    )
    assert (delivered.quantity, delivered.delivered_quantity) == (500, 1)
    assert delivered.dp_day != 0 and delivered.taxes_paise > DP_CHARGE


def test_short_future_when_dp_paid_today_then_the_delivery_pays_none(
    reliance: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    future = reliance_future()
    state = funded_account(10_000_000_00)
    _holding(state, execute, quote_for, reliance, 600)
    _cnc(state, execute, quote_for, reliance, "sold", Side.SELL, 100, 156_000, EXPIRY_MS - HOUR_MS)
    filled = fill(reliance, "sold", 100, 156_000, now_ms=EXPIRY_MS - HOUR_MS)
    assert execute(state, filled).rejection is None
    charged_day = state.dp_charged_day[reliance.instrument_id]
    position_id = opened(state, future, Side.SELL, 155_000)
    _, delivered = _delivered(
        execute(state, _expire(future, position_id, SPOT_AT_EXPIRY, reliance)).events
    )
    assert delivered.delivered_quantity == 500
    assert delivered.dp_day == 0  # the day's DP was paid by the sale
    assert state.dp_charged_day[reliance.instrument_id] == charged_day
