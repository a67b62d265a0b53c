"""Fills, positions, holdings, charges and realized P&L, exact to the paisa.

Proves that a position keeps its exact signed cost: partial reductions realize
``qty × exit − floor-prorated cost`` and leave the rest of the cost behind, a full close leaves
no residue, shorts and flips (the held part realized, the rest opened at the fill price with
fresh margin) work the same way, and uneven partial closes realize exactly what one full close
would; that a future's or option's fill carries no margin of its own but sets its underlying's
portfolio margin to the portfolio model's figure for what is held (with the expiry-day extra ELM
on a short index option sold that day), gone once nothing is held; that every fill debits
``engine.domain.charges.order_charges`` for its category, exchange and side; that CNC buys
settle into holdings, a delivery sell from holdings pays the DP charge once per scrip per day
while a CNC sell against the same day's buy is charged at intraday (MIS) rates; and that
``ClosePosition`` and ``SetRiskLevels`` follow their rules (exit order accepted and filled in
one decision, stale trigger level refused, off-tick levels refused).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, Decision, new_position_id, state_fingerprint
from engine.domain.charges import ChargeCategory, order_charges
from engine.domain.enums import OrderStatus, OrderType, Product, Rejection, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.margin import equity_margin
from engine.domain.portfolio import MarginLeg, PortfolioMargin, UnderlyingMarket
from engine.domain.positions import Holding
from engine.domain.quote import Quote
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, Execute
from tests.support.margin_markets import market_for

CRORE_PAISE = 1_000_000_000
BUY, SELL = Side.BUY, Side.SELL
MIS, CNC, NRML = Product.MIS, Product.CNC, Product.NRML
Trade = Callable[..., tuple[Any, Any]]


def _filled(decision: Any) -> ev.OrderFilled:
    (event,) = decision.events
    assert isinstance(event, ev.OrderFilled)
    return event


def _only_position(state: AccountState) -> Any:
    (position,) = state.positions.values()
    return position


def _portfolio(
    rules: AccountRules,
    market: UnderlyingMarket,
    now_ms: int,
    *held: tuple[Instrument, int, int],
) -> PortfolioMargin:
    """The portfolio model's margin on ``market`` for ``held`` legs, each (instrument, signed
    quantity, signed cost)."""
    legs = []
    for instrument, quantity, cost_paise in held:
        leg = market.leg(instrument.instrument_id)
        assert leg is not None
        legs.append(MarginLeg(leg, quantity, cost_paise))
    return rules.portfolio.margin(legs, market, rules.trade_date(now_ms))


# --------------------------------------------------------------------------------------------
# positions and realized P&L


def test_long_when_partly_closed_then_realizes_exact_share_and_keeps_rest_of_cost(
    wipro: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, BUY, 3, 24487)
    trade(state, wipro, BUY, 4, 24488)
    position = _only_position(state)
    # 3 × 244.87 + 4 × 244.88 = 734.61 + 979.52 = 1714.13 for 7 shares (average not exact)
    assert (position.quantity, position.cost_paise) == (7, 171_413)
    # margin per fill: 20 % of 734.61 -> 146.92, 20 % of 979.52 -> 195.90
    assert position.margin_paise == 14_692 + 19_590

    _, closed = trade(state, wipro, SELL, 2, 24500)

    filled = _filled(closed)
    # cost share floor(1714.13 × 2 / 7) = 489.75; realized 2 × 245.00 − 489.75 = 0.25
    assert filled.realized_pnl_paise == 25
    assert (filled.position_quantity, filled.position_cost_paise) == (5, 122_438)
    # margin released floor(342.82 × 2 / 7) = 97.94
    assert filled.position_margin_paise == 34_282 - 9_794
    assert position.realized_pnl_paise == 25

    _, rest = trade(state, wipro, SELL, 5, 24450)

    # 5 × 244.50 − 1224.38 = −1.88
    assert _filled(rest).realized_pnl_paise == -188
    assert state.realized_pnl_paise == 25 - 188
    assert state.positions == {}
    assert state.position_ids == {}
    assert state.blocked_paise == 0
    assert state.balance_paise == CRORE_PAISE - 163 - state.charges_paise


@pytest.mark.parametrize(
    ("chunks", "realized"),
    [
        # cost 1714.13 for 7; exit 245.10: one close realizes 7 × 245.10 − 1714.13 = 1.57
        pytest.param([7], [157], id="one-close"),
        # floor(171 413 / 7) = 24 487 -> 23; floor(146 926 × 2 / 6) = 48 975 -> 45; rest -> 89
        pytest.param([1, 2, 4], [23, 45, 89], id="1-2-4"),
        # floor(171 413 × 4 / 7) = 97 950 -> 90; floor(73 463 × 2 / 3) = 48 975 -> 45; rest -> 22
        pytest.param([4, 2, 1], [90, 45, 22], id="4-2-1"),
        # floor(171 413 × 3 / 7) = 73 462 -> 68; floor(97 951 × 3 / 4) = 73 463 -> 67; rest -> 22
        pytest.param([3, 3, 1], [68, 67, 22], id="3-3-1"),
    ],
)
def test_long_when_reduced_in_uneven_parts_then_realized_sums_to_single_close(
    chunks: list[int],
    realized: list[int],
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, BUY, 3, 24487)
    trade(state, wipro, BUY, 4, 24488)

    got = [
        _filled(trade(state, wipro, SELL, chunk, 24510)[1]).realized_pnl_paise for chunk in chunks
    ]

    assert got == realized
    assert sum(got) == 7 * 24510 - 171_413 == 157
    assert state.positions == {}
    assert state.blocked_paise == 0


def test_short_when_covered_then_realizes_price_drop(
    reliance: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, SELL, 10, 154280)
    position = _only_position(state)
    assert (position.quantity, position.cost_paise, position.margin_paise) == (
        -10,
        -1_542_800,
        308_560,
    )

    _, partial = trade(state, reliance, BUY, 3, 153000)
    # cost share −floor(15 428 × 3 / 10) = −4628.40; realized −3 × 1530 + 4628.40 = 38.40
    assert _filled(partial).realized_pnl_paise == 3_840
    assert (position.quantity, position.cost_paise) == (-7, -1_079_960)

    _, cover = trade(state, reliance, BUY, 7, 153500)
    # −7 × 1535 + 10 799.60 = 54.60
    assert _filled(cover).realized_pnl_paise == 5_460
    assert state.realized_pnl_paise == 9_300
    assert state.positions == {}
    assert state.blocked_paise == 0


def test_short_when_price_rises_then_cover_realizes_loss(
    reliance: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, SELL, 10, 154280)
    _, cover = trade(state, reliance, BUY, 10, 155000)
    assert _filled(cover).realized_pnl_paise == -7_200  # 10 × (1542.80 − 1550.00)


def test_long_when_sold_beyond_quantity_then_flips_short_at_fill_price_with_fresh_margin(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    position_id = _only_position(state).position_id

    placed, flipped = trade(state, reliance, SELL, 15, 155000)

    # the order blocked only the 5 it opens: 20 % × 5 × 1550.00
    (accepted,) = placed.events
    assert accepted.margin_blocked_paise == 155_000
    filled = _filled(flipped)
    assert filled.realized_pnl_paise == 7_100  # 10 × 1550.00 − 15 429.00
    assert filled.block_released_paise == 155_000
    position = _only_position(state)
    assert position.position_id == position_id
    assert (position.quantity, position.cost_paise) == (-5, -775_000)
    fresh = equity_margin(rules.margin, reliance, MIS, SELL, 5, 155000)
    assert position.margin_paise == fresh == 155_000
    assert state.blocked_paise == 155_000
    assert position.realized_pnl_paise == 7_100


def test_short_future_when_bought_beyond_quantity_then_flips_long(
    rules: AccountRules,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_fut, SELL, 65, 2613860, product=NRML)

    _, flipped = trade(state, nifty_fut, BUY, 195, 2600000, product=NRML)

    # 65 × (26138.60 − 26000.00) = 9009.00
    filled = _filled(flipped)
    assert filled.realized_pnl_paise == 900_900
    position = _only_position(state)
    assert (position.quantity, position.cost_paise) == (130, 130 * 2600000)
    # The long is margined in NIFTY's portfolio at the market (26138.60), not at its cost:
    # 130 × 26138.60 = 3 39 80 180.00; 9.3 % = 3 16 015.674 + 2 % 67 960.36
    market = market_for(rules, state, nifty_fut, now_ms=NOW_MS)
    assert market is not None
    margin = _portfolio(rules, market, NOW_MS, (nifty_fut, 130, 130 * 2600000)).blocked_paise
    assert margin == 31_601_567 + 6_796_036
    assert filled.portfolio == ev.PortfolioBlock("NIFTY", margin, (position.position_id,))
    assert position.margin_paise == filled.position_margin_paise == 0
    assert state.portfolio_margin == {"NIFTY": margin}
    assert state.blocked_paise == margin


def test_option_sell_when_filled_then_margined_on_underlying_and_released_on_buyback(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    market = market_for(rules, state, nifty_call, now_ms=NOW_MS, price_paise=2613860)
    assert market is not None
    _, sold = trade(state, nifty_call, SELL, 65, 44145, product=NRML, market=market)

    margin = _portfolio(rules, market, NOW_MS, (nifty_call, -65, -65 * 44145))
    # Exposure 2 % of 65 × 26138.60 = 33 980.18; the premium received 65 × 441.45 credited
    assert (margin.exposure_paise, margin.premium_credit_paise) == (3_398_018, 2_869_425)
    assert margin.additional_paise == 0  # not its expiry day
    assert margin.blocked_paise == margin.total_paise - 2_869_425 > 3_398_018
    filled = _filled(sold)
    assert filled.position_margin_paise == 0
    assert filled.portfolio == ev.PortfolioBlock(
        "NIFTY", margin.blocked_paise, (filled.position_id,)
    )
    assert state.portfolio_margin == {"NIFTY": margin.blocked_paise}
    assert state.blocked_paise == margin.blocked_paise

    _, bought = trade(state, nifty_call, BUY, 65, 40000, product=NRML, market=market)

    assert _filled(bought).realized_pnl_paise == 65 * (44145 - 40000)
    assert _filled(bought).portfolio == ev.PortfolioBlock("NIFTY", 0, ())
    assert state.portfolio_margin == {}
    assert state.blocked_paise == 0


def test_position_id_when_opened_then_derived_from_opening_fill(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, quantity=10, price_paise=154280))
    execute(state, fill_order(reliance, "o1", 4, 154280))
    execute(state, fill_order(reliance, "o1", 6, 154280))
    position = _only_position(state)
    assert position.position_id == new_position_id("o1", 0)
    assert state.position_ids == {"MIS:NSE_EQ|INE002A01018": position.position_id}
    assert state.position_for(reliance.instrument_id, MIS) is position
    assert state.position_for(reliance.instrument_id, CNC) is None


# --------------------------------------------------------------------------------------------
# charges per fill


@dataclass(frozen=True)
class Charged:
    id: str
    ticker: str
    product: Product
    side: Side
    quantity: int
    price_paise: int
    category: ChargeCategory
    expected_paise: int
    brokerage_paise: int


CHARGED = [
    # brokerage 4.63 (0.03 %), exchange 0.47, SEBI 0.02, GST 0.92, stamp 0.46
    Charged("mis-buy", "NSE:RELIANCE", MIS, BUY, 10, 154290, ChargeCategory.MIS, 650, 463),
    # brokerage 4.64, STT 3.87 (0.025 %), exchange 0.48, SEBI 0.02, GST 0.93
    Charged("mis-sell", "NSE:RELIANCE", MIS, SELL, 10, 154790, ChargeCategory.MIS, 994, 464),
    # BSE exchange charge 0.00375 %: 0.58, GST 0.94
    Charged("mis-buy-bse", "BSE:RELIANCE", MIS, BUY, 10, 154290, ChargeCategory.MIS, 663, 463),
    # no brokerage, STT 15.43 (0.1 %), exchange 0.47, SEBI 0.02, GST 0.09, stamp 2.31 (0.015 %)
    Charged("cnc-buy", "NSE:RELIANCE", CNC, BUY, 10, 154280, ChargeCategory.CNC, 1832, 0),
    # ₹16 99 009: brokerage capped at 20, exchange 31.09, SEBI 1.70, GST 9.50, stamp 33.98
    Charged(
        "future-buy",
        "NFO:NIFTY26DECFUT",
        NRML,
        BUY,
        65,
        2613860,
        ChargeCategory.FUTURES,
        9627,
        2000,
    ),
    # + STT 849.50 (0.05 %), no stamp
    Charged(
        "future-sell",
        "NFO:NIFTY26DECFUT",
        NRML,
        SELL,
        65,
        2613860,
        ChargeCategory.FUTURES,
        91_179,
        2000,
    ),
    # intraday future charged as a future: same as NRML
    Charged(
        "future-mis-buy",
        "NFO:NIFTY26DECFUT",
        MIS,
        BUY,
        65,
        2613860,
        ChargeCategory.FUTURES,
        9627,
        2000,
    ),
    # worked example B buy leg on ₹9490: flat 20, exchange 3.37, SEBI 0.01, GST 4.21, stamp 0.28
    Charged(
        "option-buy",
        "NFO:NIFTY26DEC26000CE",
        NRML,
        BUY,
        65,
        14600,
        ChargeCategory.OPTIONS,
        2787,
        2000,
    ),
    # ₹10 400 sell: flat 20, STT 15.60 (0.15 %), exchange 3.70, SEBI 0.01, GST 4.27
    Charged(
        "option-sell",
        "NFO:NIFTY26DEC26000CE",
        NRML,
        SELL,
        65,
        16000,
        ChargeCategory.OPTIONS,
        4358,
        2000,
    ),
    # MCX CTT 0.01 %: 53.12, exchange 11.16, SEBI 0.53, GST 5.70, brokerage capped 20
    Charged(
        "mcx-sell",
        "MCX:CRUDEOIL26DECFUT",
        NRML,
        SELL,
        100,
        531200,
        ChargeCategory.FUTURES,
        9051,
        2000,
    ),
]


@pytest.mark.parametrize("case", CHARGED, ids=lambda c: c.id)
def test_fill_when_executed_then_debits_order_charges_for_its_category(
    case: Charged,
    rules: AccountRules,
    master: InstrumentMaster,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    instrument = master.get(case.ticker)
    assert instrument is not None
    schedule = rules.charges.on(date(2026, 11, 24))
    breakdown = order_charges(
        schedule,
        case.category,
        instrument.exchange.value,
        case.side,
        case.quantity * case.price_paise,
    )
    assert breakdown.total_paise == case.expected_paise
    state = funded_account(CRORE_PAISE)

    _, filled_decision = trade(
        state,
        instrument,
        case.side,
        case.quantity,
        case.price_paise,
        product=case.product,
    )

    filled = _filled(filled_decision)
    assert filled.charges_paise == case.expected_paise
    assert filled.brokerage_paise == case.brokerage_paise == breakdown.brokerage_paise
    assert filled.taxes_paise == case.expected_paise - case.brokerage_paise
    assert state.charges_paise == case.expected_paise
    assert state.balance_paise == CRORE_PAISE - case.expected_paise
    assert state.orders == {}


def test_round_trip_when_closed_then_balance_is_deposit_plus_pnl_minus_both_legs(
    reliance: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    trade(state, reliance, SELL, 10, 154790)
    assert state.realized_pnl_paise == 5_000
    assert state.charges_paise == 650 + 994
    assert state.balance_paise == CRORE_PAISE + 5_000 - 1_644
    assert state.available_paise == state.balance_paise


# --------------------------------------------------------------------------------------------
# delivery: holdings, DP and intraday reclassification


def _settle(state: AccountState, execute: Execute, now_ms: int = NOW_MS) -> Any:
    return execute(state, cmd.SettleHoldings(now_ms=now_ms))


def test_cnc_buy_when_settled_then_becomes_holding_with_cost_still_blocked(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280, product=CNC)
    position = _only_position(state)
    assert position.margin_paise == position.cost_paise == 1_542_800
    balance = state.balance_paise

    settled = _settle(state, execute)

    assert settled.events == (
        ev.HoldingsSettled(at_ms=NOW_MS, position_ids=(position.position_id,)),
    )
    assert state.positions == {}
    assert state.position_ids == {}
    assert state.holdings == {
        reliance.instrument_id: Holding(reliance.instrument_id, 10, 1_542_800)
    }
    assert state.blocked_paise == 1_542_800
    assert state.balance_paise == balance
    assert _settle(state, execute).events == ()


def test_cnc_buy_when_added_to_holding_then_settles_into_one_holding(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280, product=CNC)
    _settle(state, execute)
    trade(state, reliance, BUY, 5, 150000, product=CNC, now_ms=NOW_MS + DAY_MS)

    _settle(state, execute, NOW_MS + DAY_MS)

    assert state.holdings[reliance.instrument_id] == Holding(
        reliance.instrument_id, 15, 1_542_800 + 750_000
    )
    assert state.blocked_paise == 2_292_800


def test_mis_position_when_settling_then_stays_a_position(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280)
    assert _settle(state, execute).events == ()
    assert len(state.positions) == 1
    assert state.holdings == {}


def test_cnc_sell_from_holdings_when_repeated_then_dp_charged_once_per_scrip_per_day(
    rules: AccountRules,
    reliance: Instrument,
    tcs: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280, product=CNC)
    trade(state, tcs, BUY, 2, 314850, product=CNC)
    _settle(state, execute)
    next_day = NOW_MS + DAY_MS
    schedule = rules.charges.on(date(2026, 11, 25))

    _, first = trade(state, reliance, SELL, 4, 155000, product=CNC, now_ms=next_day)
    _, second = trade(state, reliance, SELL, 3, 155000, product=CNC, now_ms=next_day)
    _, other_scrip = trade(state, tcs, SELL, 1, 315000, product=CNC, now_ms=next_day)
    _, day_after = trade(state, reliance, SELL, 3, 155000, product=CNC, now_ms=next_day + DAY_MS)

    first_fill, second_fill = _filled(first), _filled(second)
    # STT 6.20 + exchange 0.19 + SEBI 0.01 + GST 0.04 + DP 15.34
    assert first_fill.charges_paise == 2_178
    assert first_fill.charges_paise == (
        order_charges(
            schedule, ChargeCategory.CNC, "NSE", SELL, 620_000, dp_applies=True
        ).total_paise
    )
    assert first_fill.dp_day == rules.trade_day(next_day)
    # the same scrip the same day: STT 4.65 + exchange 0.14 + GST 0.03, no DP
    assert second_fill.charges_paise == 482
    assert second_fill.dp_day == 0
    dp = schedule.dp_charge_paise
    assert dp == 1_534
    other = order_charges(schedule, ChargeCategory.CNC, "NSE", SELL, 315_000, dp_applies=True)
    assert _filled(other_scrip).charges_paise == other.total_paise
    assert _filled(day_after).charges_paise == 482 + dp
    # realized: 4 × 1550 − floor(15 428 × 4 / 10) = 28.80; 3 × 1550 − 4628.40 = 21.60; ...
    assert first_fill.realized_pnl_paise == 2_880
    assert second_fill.realized_pnl_paise == 2_160
    assert _filled(day_after).realized_pnl_paise == 465_000 - 462_840
    assert reliance.instrument_id not in state.holdings
    assert state.holdings[tcs.instrument_id] == Holding(tcs.instrument_id, 1, 314_850)
    assert state.blocked_paise == 314_850


def test_cnc_sell_when_same_day_as_buy_then_round_trip_charged_as_intraday(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    _, bought = trade(state, reliance, BUY, 10, 154280, product=CNC)

    _, sold = trade(state, reliance, SELL, 10, 155000, product=CNC)

    schedule = rules.charges.on(date(2026, 11, 24))
    buy, filled = _filled(bought), _filled(sold)
    delivery_buy = order_charges(schedule, ChargeCategory.CNC, "NSE", BUY, 1_542_800)
    intraday_buy = order_charges(schedule, ChargeCategory.MIS, "NSE", BUY, 1_542_800)
    intraday_sell = order_charges(schedule, ChargeCategory.MIS, "NSE", SELL, 1_550_000)
    # The buy pays delivery rates when it fills (STT 0.1 % 15.43, stamp 2.31, exchange 0.47,
    # SEBI 0.02, GST 0.09: ₹18.32); the same-day sell pays intraday rates (brokerage 4.65, STT
    # 3.88, exchange 0.48, SEBI 0.02, GST 0.93: ₹9.96) and re-rates the buy as intraday: its
    # ₹18.32 comes back and its intraday ₹6.50 (brokerage 4.63, stamp 0.46, ...) is taken.
    assert buy.charges_paise == delivery_buy.total_paise == 1_832
    assert (intraday_buy.total_paise, intraday_sell.total_paise) == (650, 996)
    assert filled.charges_paise == 996 + 650 - 1_832  # a refund on balance: -1.86
    assert filled.brokerage_paise == intraday_sell.brokerage_paise + intraday_buy.brokerage_paise
    assert buy.charges_paise + filled.charges_paise == 650 + 996  # the intraday round trip
    assert state.charges_paise == 650 + 996
    assert filled.dp_day == 0
    assert filled.realized_pnl_paise == 7_200
    assert state.positions == {}
    assert state.holdings == {}
    assert state.blocked_paise == 0


def test_cnc_sells_when_same_day_in_parts_then_buys_refunded_exactly_once(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    _, first = trade(state, reliance, BUY, 7, 154280, product=CNC)
    _, second = trade(state, reliance, BUY, 3, 154300, product=CNC)
    paid = _filled(first).charges_paise + _filled(second).charges_paise

    _, part = trade(state, reliance, SELL, 4, 155000, product=CNC)
    assert _only_position(state).buy_taxes_paise + _only_position(state).buy_brokerage_paise > 0
    _, rest = trade(state, reliance, SELL, 6, 155100, product=CNC)

    schedule = rules.charges.on(date(2026, 11, 24))
    cost = 7 * 154280 + 3 * 154300
    bought_first = cost * 4 // 10  # the sells close their pro-rata share of the buys' value
    expected = sum(
        order_charges(schedule, ChargeCategory.MIS, "NSE", side, value).total_paise
        for side, value in (
            (BUY, bought_first),
            (BUY, cost - bought_first),
            (SELL, 4 * 155000),
            (SELL, 6 * 155100),
        )
    )
    # every paisa the delivery buys paid comes back across the two sells, no more
    assert paid + _filled(part).charges_paise + _filled(rest).charges_paise == expected
    assert state.charges_paise == expected
    assert state.positions == {}


def test_cnc_sell_when_covering_todays_buy_and_holdings_then_each_part_charged_its_way(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280, product=CNC)
    _settle(state, execute)
    next_day = NOW_MS + DAY_MS
    _, bought = trade(state, reliance, BUY, 5, 150000, product=CNC, now_ms=next_day)

    _, sold = trade(state, reliance, SELL, 8, 155000, product=CNC, now_ms=next_day)

    schedule = rules.charges.on(date(2026, 11, 25))
    intraday = order_charges(schedule, ChargeCategory.MIS, "NSE", SELL, 5 * 155000)
    delivery = order_charges(schedule, ChargeCategory.CNC, "NSE", SELL, 3 * 155000, dp_applies=True)
    rerated = order_charges(schedule, ChargeCategory.MIS, "NSE", BUY, 5 * 150000)
    filled = _filled(sold)
    # today's 5 are an intraday round trip (their buy re-rated); 3 are delivered from holdings
    assert filled.charges_paise == (
        intraday.total_paise
        + delivery.total_paise
        + rerated.total_paise
        - _filled(bought).charges_paise
    )
    assert filled.brokerage_paise == (
        intraday.brokerage_paise + delivery.brokerage_paise + rerated.brokerage_paise
    )
    # today's 5 first: 5 × (1550 − 1500) = 250.00; then 3 of the holding: 4650 − 4628.40
    assert filled.realized_pnl_paise == 25_000 + 2_160
    assert state.positions == {}
    assert state.holdings[reliance.instrument_id] == Holding(reliance.instrument_id, 7, 1_079_960)
    assert state.blocked_paise == 1_079_960


# --------------------------------------------------------------------------------------------
# close position and risk levels


def _close(position_id: str, instrument: Instrument, price_paise: int, **kwargs: Any) -> Any:
    return cmd.ClosePosition(
        now_ms=NOW_MS,
        position_id=position_id,
        exit_order_id="x1",
        instrument=instrument,
        price_paise=price_paise,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("side", "exit_side", "close_price", "realized", "exit_charges"),
    [
        # long 10 @ 1542.90 closed @ 1547.90: +50.00, MIS sell charges 9.94
        pytest.param(BUY, SELL, 154790, 5_000, 994, id="long"),
        # short 10 @ 1542.90 covered @ 1537.90: +50.00; MIS buy on ₹15 379 charges 6.48
        pytest.param(SELL, BUY, 153790, 5_000, 648, id="short"),
    ],
)
def test_close_position_when_open_then_accepts_and_fills_exit_realizing_pnl(
    side: Side,
    exit_side: Side,
    close_price: int,
    realized: int,
    exit_charges: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    _, opened = trade(state, reliance, side, 10, 154290)
    entry_charges = _filled(opened).charges_paise
    position = _only_position(state)

    decision = execute(state, _close(position.position_id, reliance, close_price))

    assert decision.rejection is None
    accepted, filled = decision.events
    assert accepted == ev.OrderAccepted(
        at_ms=NOW_MS,
        order_id="x1",
        client_order_id=None,
        instrument_id=reliance.instrument_id,
        side=exit_side,
        product=MIS,
        order_type=OrderType.MARKET,
        validity=Validity.DAY,
        quantity=10,
        price_paise=0,
        trigger_paise=0,
        margin_blocked_paise=0,
    )
    assert isinstance(filled, ev.OrderFilled)
    assert (filled.order_id, filled.side, filled.quantity, filled.price_paise) == (
        "x1",
        exit_side,
        10,
        close_price,
    )
    assert filled.status_after is OrderStatus.EXECUTED
    assert filled.realized_pnl_paise == realized
    assert filled.charges_paise == exit_charges
    assert filled.position_quantity == 0
    assert state.orders == {}
    assert state.positions == {}
    assert state.blocked_paise == 0
    assert state.balance_paise == CRORE_PAISE + realized - entry_charges - exit_charges

    again = execute(state, _close(position.position_id, reliance, close_price))
    assert again == Decision((), Rejection.POSITION_CLOSED)


@pytest.mark.parametrize(
    ("trigger_level", "expected"),
    [
        pytest.param(153000, None, id="stop-loss-level"),
        pytest.param(156000, None, id="target-level"),
        pytest.param(152000, Rejection.POSITION_CLOSED, id="stale-level"),
        pytest.param(None, None, id="manual-close"),
    ],
)
def test_close_position_when_trigger_level_changed_then_position_closed(
    trigger_level: int | None,
    expected: Rejection | None,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    position_id = _only_position(state).position_id
    execute(
        state,
        cmd.SetRiskLevels(
            now_ms=NOW_MS,
            position_id=position_id,
            tick_paise=reliance.tick_paise,
            stop_loss_paise=153000,
            target_paise=156000,
        ),
    )
    fingerprint = state_fingerprint(state)

    decision = execute(
        state, _close(position_id, reliance, 153000, trigger_level_paise=trigger_level)
    )

    assert decision.rejection is expected
    if expected is not None:
        assert decision.events == ()
        assert state_fingerprint(state) == fingerprint
    else:
        assert state.positions == {}


@pytest.mark.parametrize(
    ("position_id", "price", "expected"),
    [
        pytest.param("nope", 154290, Rejection.POSITION_CLOSED, id="unknown-position"),
        pytest.param(None, 154295, Rejection.PRICE_UNAVAILABLE, id="off-tick-price"),
        pytest.param(None, 0, Rejection.PRICE_UNAVAILABLE, id="no-price"),
    ],
)
def test_close_position_when_invalid_then_rejected_without_events(
    position_id: str | None,
    price: int,
    expected: Rejection,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    target = position_id or _only_position(state).position_id
    decision = execute(state, _close(target, reliance, price))
    assert decision == Decision((), expected)
    assert len(state.positions) == 1


def test_close_position_when_exit_order_id_names_working_order_then_duplicate(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    execute(state, place_order(reliance, order_id="x1", quantity=5, price_paise=150000))
    fingerprint = state_fingerprint(state)

    decision = execute(state, _close(_only_position(state).position_id, reliance, 154290))

    assert decision == Decision((), Rejection.DUPLICATE)
    assert state_fingerprint(state) == fingerprint


def test_close_position_when_stale_trigger_and_no_levels_then_position_closed(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    position_id = _only_position(state).position_id
    decision = execute(state, _close(position_id, reliance, 153000, trigger_level_paise=153000))
    assert decision == Decision((), Rejection.POSITION_CLOSED)


def test_close_position_when_cnc_then_charged_intraday_and_no_holding_left(
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    _, bought = trade(state, reliance, BUY, 10, 154280, product=CNC)
    decision = execute(state, _close(_only_position(state).position_id, reliance, 155000))
    _, filled = decision.events
    assert isinstance(filled, ev.OrderFilled)
    # intraday sell 9.96 + the buy re-rated as intraday (6.50 instead of the 18.32 it paid)
    assert _filled(bought).charges_paise + filled.charges_paise == 996 + 650
    assert filled.realized_pnl_paise == 7_200
    assert state.holdings == {}
    assert state.blocked_paise == 0


@pytest.mark.parametrize(
    ("stop_loss", "target", "expected"),
    [
        pytest.param(153000, 156000, None, id="both-on-tick"),
        pytest.param(153000, None, None, id="stop-only"),
        pytest.param(None, None, None, id="clear"),
        pytest.param(153005, 156000, Rejection.INVALID_PRICE, id="stop-off-tick"),
        pytest.param(153000, 156001, Rejection.INVALID_PRICE, id="target-off-tick"),
        pytest.param(0, 156000, Rejection.INVALID_PRICE, id="stop-zero"),
        pytest.param(153000, -10, Rejection.INVALID_PRICE, id="target-negative"),
    ],
)
def test_set_risk_levels_when_levels_checked_then_on_tick_only(
    stop_loss: int | None,
    target: int | None,
    expected: Rejection | None,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)
    position = _only_position(state)

    decision = execute(
        state,
        cmd.SetRiskLevels(
            now_ms=NOW_MS,
            position_id=position.position_id,
            tick_paise=reliance.tick_paise,
            stop_loss_paise=stop_loss,
            target_paise=target,
        ),
    )

    assert decision.rejection is expected
    if expected is None:
        assert decision.events == (
            ev.PositionRiskSet(
                at_ms=NOW_MS,
                position_id=position.position_id,
                stop_loss_paise=stop_loss,
                target_paise=target,
            ),
        )
        assert (position.stop_loss_paise, position.target_paise) == (stop_loss, target)
    else:
        assert decision.events == ()
        assert (position.stop_loss_paise, position.target_paise) == (None, None)


def test_set_risk_levels_when_position_unknown_then_position_closed(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(CRORE_PAISE)
    decision = execute(
        state,
        cmd.SetRiskLevels(
            now_ms=NOW_MS, position_id="nope", tick_paise=10, stop_loss_paise=100, target_paise=None
        ),
    )
    assert decision == Decision((), Rejection.POSITION_CLOSED)


def test_cnc_sell_fill_when_shares_closed_meanwhile_then_insufficient_holdings(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    # A pending CNC sell counted today's CNC position; ClosePosition then sold those shares.
    # Filling the sell must be refused as a value, not crash on a missing holding.
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280, product=CNC)
    accepted = execute(
        state,
        place_order(
            reliance, order_id="s1", side=SELL, product=CNC, quantity=10, price_paise=160000
        ),
    )
    assert accepted.rejection is None
    execute(state, _close(_only_position(state).position_id, reliance, 154280))
    fingerprint = state_fingerprint(state)

    decision = execute(state, fill_order(reliance, "s1", 10, 160000))

    assert decision == Decision((), Rejection.INSUFFICIENT_HOLDINGS)
    assert state_fingerprint(state) == fingerprint
    assert execute(state, cmd.CancelOrder(now_ms=NOW_MS, order_id="s1")).rejection is None


def test_cnc_sell_fill_when_holding_partly_gone_then_only_owned_quantity_fills(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 4, 154280, product=CNC)
    execute(state, cmd.SettleHoldings(now_ms=NOW_MS))
    trade(state, reliance, BUY, 6, 154280, product=CNC)
    execute(
        state,
        place_order(
            reliance, order_id="s1", side=SELL, product=CNC, quantity=10, price_paise=160000
        ),
    )
    execute(state, _close(_only_position(state).position_id, reliance, 154280))

    too_many = execute(state, fill_order(reliance, "s1", 5, 160000))
    owned = execute(state, fill_order(reliance, "s1", 4, 160000))

    assert too_many == Decision((), Rejection.INSUFFICIENT_HOLDINGS)
    assert owned.rejection is None
    assert state.holdings == {}
    assert state.orders["s1"].remaining_quantity == 6


# --------------------------------------------------------------------------------------------
# orders and positions over several fills


def test_order_when_filled_in_parts_then_totals_sum_over_its_fills(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(reliance, quantity=100, price_paise=154280))

    first = _filled(execute(state, fill_order(reliance, "o1", 10, 154280)))
    second = _filled(execute(state, fill_order(reliance, "o1", 50, 154270)))

    # first ₹15 428: brokerage 4.63, exchange 0.47, SEBI 0.02, GST 0.92, stamp 0.46 = 6.50
    assert (first.charges_paise, first.order_brokerage_paise) == (650, 463)
    # second ₹77 135: the order's brokerage on ₹92 563 is capped at 20, less the 4.63 paid:
    # 15.37; exchange 2.37, SEBI 0.08, GST 18 % × 17.82 = 3.21, stamp 2.31 = 23.34
    assert (second.charges_paise, second.order_brokerage_paise) == (2_334, 1_537)
    order = state.orders["o1"]
    assert order.filled_quantity == 60
    # 10 × 1542.80 + 50 × 1542.70 = 15 428 + 77 135 = ₹92 563
    assert order.fill_value_paise == 9_256_300
    assert order.average_price_paise() == 154_272  # 92 563 / 60 = 1542.7166..., to the paisa
    assert order.charges_paise == 650 + 2_334
    assert order.brokerage_paise == 2_000

    third = _filled(execute(state, fill_order(reliance, "o1", 30, 154280)))

    assert third.order_brokerage_paise == 0  # the order has paid its ₹20
    assert order.brokerage_paise == 2_000
    assert order.filled_quantity == 90
    assert order.fill_value_paise == 9_256_300 + 30 * 154280
    assert order.charges_paise == 650 + 2_334 + third.charges_paise
    assert state.charges_paise == order.charges_paise


def test_position_when_reduced_twice_then_realized_sums_over_both(
    wipro: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, BUY, 3, 24487)
    trade(state, wipro, BUY, 4, 24488)  # 7 for 1714.13

    trade(state, wipro, SELL, 2, 24500)  # 2 × 245.00 − floor(1714.13 × 2 / 7) 489.75 = 0.25
    _, second = trade(state, wipro, SELL, 2, 24510)

    # 5 left for 1224.38: 2 × 245.10 − floor(1224.38 × 2 / 5) 489.75 = 0.45
    assert _filled(second).realized_pnl_paise == 45
    position = _only_position(state)
    assert position.quantity == 3
    assert position.cost_paise == 122_438 - 48_975
    assert position.realized_pnl_paise == 25 + 45
    assert state.realized_pnl_paise == 70


def test_position_when_short_covered_twice_then_realized_sums_over_both(
    reliance: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, SELL, 10, 154280)

    trade(state, reliance, BUY, 3, 153000)  # −3 × 1530 + 4628.40 = 38.40
    trade(state, reliance, BUY, 2, 155000)  # −2 × 1550 + floor(10 799.60 × 2 / 7) 3085.60

    position = _only_position(state)
    # −3100 + 3085.60 = −14.40; together 38.40 − 14.40 = 24.00
    assert position.realized_pnl_paise == 3_840 - 1_440
    assert (position.quantity, position.cost_paise) == (-5, -1_079_960 + 308_560)


# --------------------------------------------------------------------------------------------
# boundaries of a fill: expiry day, 1-paisa ticks, what an event says when nothing is held


def test_option_sell_when_filled_on_its_expiry_day_then_expiry_day_margin_blocked(
    rules: AccountRules,
    nifty_call: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    assert nifty_call.expiry is not None
    expiry_ms = NOW_MS + (nifty_call.expiry - rules.trade_date(NOW_MS)).days * DAY_MS
    assert rules.trade_date(expiry_ms) == nifty_call.expiry
    state = funded_account(CRORE_PAISE)
    market = market_for(rules, state, nifty_call, now_ms=expiry_ms, price_paise=2613860)
    assert market is not None

    _, sold = trade(
        state, nifty_call, SELL, 65, 44145, product=NRML, now_ms=expiry_ms, market=market
    )

    margin = _portfolio(rules, market, expiry_ms, (nifty_call, -65, -65 * 44145))
    # On its expiry day the short carries 2 % more of 65 × 26138.60: 33 980.18
    assert margin.additional_paise == 3_398_018
    assert margin.blocked_paise == (
        margin.span_paise + margin.exposure_paise + 3_398_018 - margin.premium_credit_paise
    )
    assert _filled(sold).portfolio == ev.PortfolioBlock(
        "NIFTY", margin.blocked_paise, (_filled(sold).position_id,)
    )
    assert state.portfolio_margin == {"NIFTY": margin.blocked_paise}
    assert state.blocked_paise == margin.blocked_paise


def test_fill_when_price_is_one_paisa_on_a_one_paisa_tick_then_filled(
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
) -> None:
    # NSE's tick below ₹250 is 1 paisa (docs/DOMAIN.md §3); a fill can come at 1 paisa.
    penny = dataclasses.replace(wipro, tick_paise=1, reference_price_paise=1)
    state = funded_account(CRORE_PAISE)
    execute(state, place_order(penny, quantity=10, price_paise=1))

    decision = execute(state, fill_order(penny, "o1", 10, 1))

    assert decision.rejection is None
    assert _filled(decision).price_paise == 1
    assert _only_position(state).cost_paise == 10
    refused = execute(state, fill_order(penny, "o1", 10, 0))
    assert refused.rejection is not None


def test_set_risk_levels_when_one_paisa_on_a_one_paisa_tick_then_set(
    wipro: Instrument, funded_account: Callable[..., AccountState], execute: Execute, trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, SELL, 10, 24400)
    position = _only_position(state)
    levels = cmd.SetRiskLevels(
        now_ms=NOW_MS,
        position_id=position.position_id,
        tick_paise=1,
        stop_loss_paise=24_401,
        target_paise=1,
    )

    assert execute(state, levels).rejection is None
    assert (position.stop_loss_paise, position.target_paise) == (24_401, 1)


def test_fill_when_nothing_held_then_event_carries_no_holding_and_no_buy_charges(
    reliance: Instrument, funded_account: Callable[..., AccountState], trade: Trade
) -> None:
    state = funded_account(CRORE_PAISE)
    _, opened = trade(state, reliance, BUY, 10, 154280)
    _, closed = trade(state, reliance, SELL, 10, 154300)

    for filled in (_filled(opened), _filled(closed)):
        assert (filled.holding_quantity, filled.holding_cost_paise) == (0, 0)
        assert (filled.position_buy_brokerage_paise, filled.position_buy_taxes_paise) == (0, 0)


def test_cnc_sell_when_only_from_holdings_then_no_position_is_named(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280, product=CNC)
    _settle(state, execute)

    _, sold = trade(state, reliance, SELL, 4, 155000, product=CNC, now_ms=NOW_MS + DAY_MS)

    filled = _filled(sold)
    assert filled.position_id == ""
    assert (filled.position_quantity, filled.holding_quantity) == (0, 6)
    assert state.positions == {}


def test_order_and_position_when_changed_then_stamped_with_the_event_time(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    place_order: Callable[..., cmd.PlaceOrder],
    fill_order: Callable[..., cmd.FillOrder],
    quote_for: Callable[..., Quote],
) -> None:
    state = funded_account(CRORE_PAISE)
    quote = quote_for(reliance, 154280)
    stop = place_order(
        reliance, order_type=OrderType.SL, quantity=10, price_paise=154500, trigger_paise=154400
    )
    execute(state, msgspec.structs.replace(stop, quote=quote))
    order = state.orders["o1"]
    assert (order.created_ms, order.updated_ms) == (NOW_MS, NOW_MS)

    modify = cmd.ModifyOrder(
        now_ms=NOW_MS + 1, order_id="o1", instrument=reliance, quote=quote, quantity=12
    )
    assert execute(state, modify).rejection is None
    assert state.orders["o1"].updated_ms == NOW_MS + 1

    version = state.orders["o1"].version
    trigger = cmd.TriggerOrder(now_ms=NOW_MS + 2, order_id="o1", order_version=version)
    assert execute(state, trigger).rejection is None
    assert state.orders["o1"].updated_ms == NOW_MS + 2

    assert execute(
        state, fill_order(reliance, "o1", 5, 154500, now_ms=NOW_MS + 3, order_version=version)
    ).events
    assert state.orders["o1"].updated_ms == NOW_MS + 3
    position = _only_position(state)
    assert position.opened_ms == NOW_MS + 3
    assert execute(
        state, fill_order(reliance, "o1", 7, 154500, now_ms=NOW_MS + 4, order_version=version)
    ).events
    assert position.opened_ms == NOW_MS + 3
