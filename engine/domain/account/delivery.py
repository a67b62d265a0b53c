"""Physical settlement of stock futures and options at expiry (docs/DOMAIN.md §6).

Since October 2019 NSE settles every stock future and stock option by delivery of its shares,
as BSE does for its own; index and MCX contracts stay cash settled. At expiry an open stock
future, and a stock option in the money (a long exercised, a short assigned), move shares into
or out of the account's CNC holdings: a long future, a long call and a short put receive them,
a short future, a short call and a long put deliver them. A future delivers at its settlement
price, an option at its strike; an option out of the money expires worthless.

The contract's position is closed first, by the expiry's exit order, then one
``SharesDelivered`` event moves the shares, charged as an equity delivery trade of that value
(STT on both sides, exchange charge, SEBI fee, GST, stamp duty on the buy side, the DP charge
when shares leave the holding). Shares are never short in CNC: what the holding cannot give is
closed out at the settlement price, the difference realised, plus a penalty
(``delivery_closeout_pct``).
"""

from __future__ import annotations

from typing import NamedTuple

from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.charges import ChargeCategory, order_charges
from engine.domain.enums import Exchange, InstrumentType, Product, Side
from engine.domain.instruments import Instrument, UnderlyingKind
from engine.domain.margin import pro_rata
from engine.domain.rules import AccountRules

# Where a derivative segment's shares are delivered: its exchange's cash market.
CASH_EXCHANGE = {Exchange.NFO: Exchange.NSE, Exchange.BFO: Exchange.BSE}


def physically_settled(contract: Instrument) -> bool:
    """True for a stock future or stock option of NSE or BSE: settled by delivery at expiry."""
    return (
        contract.exchange in CASH_EXCHANGE
        and contract.underlying_kind is UnderlyingKind.STOCK
        and (contract.is_future or contract.is_option)
    )


def deliverable_ticker(contract: Instrument) -> str | None:
    """The ticker of the shares a physically settled contract delivers (``NSE:RELIANCE``);
    None for a contract settled in cash."""
    if not physically_settled(contract):
        return None
    return f"{CASH_EXCHANGE[contract.exchange].value}:{contract.underlying}"


class Delivery(NamedTuple):
    """Which way the shares of an expiring position go, and at what prices."""

    side: Side  # BUY: the account receives the shares; SELL: it delivers them
    price_paise: int  # a share's delivery price: the future's settlement price, the strike
    closeout_price_paise: int  # the stock's settlement price, where a short delivery closes


def delivery_of(
    contract: Instrument, position_quantity: int, settlement_paise: int
) -> Delivery | None:
    """The delivery a position of ``contract`` settles by, given the contract's settlement
    value a unit (a future's settlement price, an option's intrinsic value against the stock's
    settlement price); None when nothing is delivered (an option not in the money)."""
    long = position_quantity > 0
    if contract.is_future:
        side = Side.BUY if long else Side.SELL
        return Delivery(side, settlement_paise, settlement_paise)
    if settlement_paise <= 0:
        return None
    call = contract.instrument_type is InstrumentType.CE
    strike = contract.strike_paise
    spot = strike + settlement_paise if call else strike - settlement_paise
    receives = long == call  # a long call and a short put take the shares
    return Delivery(Side.BUY if receives else Side.SELL, strike, spot)


def free_holding(state: AccountState, instrument_id: str) -> int:
    """Shares of the holding a delivery may take: what pending CNC sells have not spoken for
    beyond today's CNC buys (those are not holdings yet and deliver nothing)."""
    holding = state.holdings.get(instrument_id)
    if holding is None:
        return 0
    position = state.position_for(instrument_id, Product.CNC)
    bought_today = 0 if position is None else max(0, position.quantity)
    pending_sells = sum(
        o.remaining_quantity
        for o in state.orders.values()
        if o.instrument_id == instrument_id and o.product is Product.CNC and o.side is Side.SELL
    )
    return max(0, min(holding.quantity, holding.quantity + bought_today - pending_sells))


def shares_delivered(
    state: AccountState,
    rules: AccountRules,
    *,
    exit_order_id: str,
    position_id: str,
    contract: Instrument,
    shares: Instrument,
    quantity: int,
    delivery: Delivery,
    now_ms: int,
) -> ev.SharesDelivered:
    """The delivery of ``quantity`` shares of ``shares`` settling ``contract``'s position: the
    holding after it, what it realises and what it costs, to the paisa."""
    trade_date = rules.trade_date(now_ms)
    schedule = rules.charges.on(trade_date)
    exchange = shares.exchange.value
    instrument_id = shares.instrument_id
    holding = state.holdings.get(instrument_id)
    held, cost = (0, 0) if holding is None else (holding.quantity, holding.cost_paise)
    price = delivery.price_paise
    if delivery.side is Side.BUY:
        value = quantity * price
        charges = order_charges(schedule, ChargeCategory.CNC, exchange, Side.BUY, value)
        moved, realized, penalty, dp_day = quantity, 0, 0, 0
        held_after, cost_after = held + quantity, cost + value
    else:
        moved = min(quantity, free_holding(state, instrument_id))
        short = quantity - moved
        cost_share = pro_rata(cost, moved, held) if moved else 0
        dp_applies = moved > 0 and state.dp_charged_day.get(instrument_id) != rules.trade_day(
            now_ms
        )
        charges = order_charges(
            schedule,
            ChargeCategory.CNC,
            exchange,
            Side.SELL,
            moved * price,
            dp_applies=dp_applies,
        )
        # The short part is sold at the delivery price and bought back at the close-out price.
        closeout = short * (price - delivery.closeout_price_paise)
        realized = moved * price - cost_share + closeout
        penalty = schedule.delivery_closeout.of(short * delivery.closeout_price_paise)
        dp_day = rules.trade_day(now_ms) if dp_applies else 0
        held_after, cost_after = held - moved, cost - cost_share
    closed_out = delivery.side is Side.SELL and moved < quantity
    return ev.SharesDelivered(
        at_ms=now_ms,
        exit_order_id=exit_order_id,
        position_id=position_id,
        contract_id=contract.instrument_id,
        instrument_id=instrument_id,
        side=delivery.side,
        quantity=quantity,
        price_paise=price,
        delivered_quantity=moved,
        closeout_price_paise=delivery.closeout_price_paise if closed_out else 0,
        realized_pnl_paise=realized,
        charges_paise=charges.total_paise + penalty,
        brokerage_paise=charges.brokerage_paise,
        taxes_paise=charges.taxes_paise,
        penalty_paise=penalty,
        holding_quantity=held_after,
        holding_cost_paise=cost_after,
        dp_day=dp_day,
    )
