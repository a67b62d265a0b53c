"""``basket_margins(state, orders, rules)``: the margin a basket of new orders would need, each
order alone and all of them together with the positions held, placing nothing (docs/API.md
"Basket margins"; the shape of a broker's basket margin).

Each order alone is what the margin preview gives (:func:`preview_order` against the account
as it is), broken down. Together, every order of the basket is taken as filled at its valuation
price at once: the futures and options of one underlying make one portfolio with the positions
held on it, so a hedge in the basket, or against a position, lowers what the basket adds;
shares are margined order by order (no offset between stocks). The benefit is the difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import msgspec

from engine.domain import commands as cmd
from engine.domain.account.decide import (
    Requirements,
    portfolio_with_order,
    preview_order,
    valuation_price,
)
from engine.domain.account.state import AccountState
from engine.domain.enums import Rejection
from engine.domain.invariants import InvariantError
from engine.domain.portfolio import (
    LegMarket,
    PortfolioMargin,
    UnderlyingMarket,
    is_derivative,
    portfolio_of,
    position_legs,
    with_fill,
)
from engine.domain.rules import AccountRules

# The refusals that still price an order: it is valid, the account only lacks the funds.
_PRICED = (None, Rejection.INSUFFICIENT_FUNDS)


class MarginFigures(NamedTuple):
    """A margin broken down as a broker shows it, in paise. As a change (what orders add to
    an account) each part may be negative where they reduce what positions held need."""

    span_paise: int = 0
    exposure_paise: int = 0
    additional_paise: int = 0  # the extra ELM on short options expiring today
    option_premium_paise: int = 0  # long options' premium
    premium_credit_paise: int = 0  # short options' premium, credited against the margin
    var_paise: int = 0  # shares: an MIS order's VaR+ELM, a CNC buy's value
    blocked_paise: int = 0  # what paperdesk blocks: the total less the credit, never below 0

    @property
    def total_paise(self) -> int:
        """What a broker shows as required (the credit not taken off)."""
        return (
            self.span_paise
            + self.exposure_paise
            + self.additional_paise
            + self.option_premium_paise
            + self.var_paise
        )


NO_FIGURES = MarginFigures()


class OrderMargins(NamedTuple):
    """One order of a basket, alone."""

    order: cmd.PlaceOrder
    requirements: Requirements  # as the margin preview: its refusal, block and charges
    figures: MarginFigures  # what it adds to the account as it is (blocked: the block)
    standalone: MarginFigures  # what it would need on an account holding nothing


class BasketMargins(NamedTuple):
    """A basket's margins: the orders each alone, summed (``initial``), and all together
    with the positions held (``final``)."""

    orders: tuple[OrderMargins, ...]
    initial: MarginFigures
    final: MarginFigures
    charges_paise: int  # the orders' estimated charges, summed

    @property
    def benefit_paise(self) -> int:
        """What margining the basket together saves on the orders margined alone."""
        return self.initial.total_paise - self.final.total_paise


def basket_margins(
    state: AccountState, orders: Sequence[cmd.PlaceOrder], rules: AccountRules
) -> BasketMargins:
    """Price every order of a basket alone and all of them together; never mutates.

    An order the preview refuses for any reason but funds adds nothing to either figure (its
    refusal is in its ``requirements``); one short of funds is priced all the same.
    """
    priced = tuple(_order_margins(state, order, rules) for order in orders)
    taken = [o for o in priced if o.requirements.rejection in _PRICED]
    shares = [o.figures for o in taken if not is_derivative(o.order.instrument)]
    derivatives = [o.order for o in taken if is_derivative(o.order.instrument)]
    return BasketMargins(
        orders=priced,
        initial=summed(o.figures for o in priced),
        final=summed([*shares, *_portfolios_together(state, derivatives, rules)]),
        charges_paise=sum(o.requirements.charges_paise for o in priced),
    )


def summed(figures: Iterable[MarginFigures]) -> MarginFigures:
    """The figures added part by part."""
    return MarginFigures(*(sum(parts) for parts in zip(NO_FIGURES, *figures, strict=True)))


def change(before: PortfolioMargin, after: PortfolioMargin) -> MarginFigures:
    """What going from ``before`` to ``after`` adds to a portfolio's margin; blocked: what
    it adds to the block (0 when the block falls)."""
    return MarginFigures(
        span_paise=after.span_paise - before.span_paise,
        exposure_paise=after.exposure_paise - before.exposure_paise,
        additional_paise=after.additional_paise - before.additional_paise,
        option_premium_paise=after.premium_paise - before.premium_paise,
        premium_credit_paise=after.premium_credit_paise - before.premium_credit_paise,
        blocked_paise=max(0, after.blocked_paise - before.blocked_paise),
    )


def _order_margins(state: AccountState, order: cmd.PlaceOrder, rules: AccountRules) -> OrderMargins:
    requirements = preview_order(state, order, rules)
    empty = AccountState(state.account_id)
    return OrderMargins(
        order=order,
        requirements=requirements,
        figures=_figures(state, order, rules, requirements),
        standalone=_figures(empty, order, rules, preview_order(empty, order, rules)),
    )


def _figures(
    state: AccountState, order: cmd.PlaceOrder, rules: AccountRules, requirements: Requirements
) -> MarginFigures:
    """``requirements``' block (from :func:`preview_order` on ``state``) broken down."""
    if requirements.rejection not in _PRICED:
        return NO_FIGURES
    block = requirements.block_paise
    if not is_derivative(order.instrument):
        return MarginFigures(var_paise=block, blocked_paise=block)
    margins = portfolio_with_order(
        state,
        rules,
        order.market,
        instrument=order.instrument,
        product=order.product,
        side=order.side,
        quantity=order.quantity,
        valuation_paise=_valuation(order, rules),
        now_ms=order.now_ms,
        exclude=None,
    )
    figures = change(*margins)
    if figures.blocked_paise != block:
        raise InvariantError(f"order {order.order_id}: breakdown {figures} is not its {block}")
    return figures


def _portfolios_together(
    state: AccountState, orders: Sequence[cmd.PlaceOrder], rules: AccountRules
) -> Iterator[MarginFigures]:
    """For each underlying the derivative ``orders`` trade: what they add, filled together,
    to the margin of the positions held on it."""
    by_underlying: dict[str, list[cmd.PlaceOrder]] = {}
    for order in orders:
        by_underlying.setdefault(portfolio_of(order.instrument), []).append(order)
    for group in by_underlying.values():
        market = _merged(group)
        trade_date = rules.trade_date(group[0].now_ms)
        legs = position_legs(state.positions.values(), market)
        before = rules.portfolio.margin(tuple(legs.values()), market, trade_date)
        for order in group:
            leg_market = market.leg(order.instrument.instrument_id)
            if leg_market is None:
                raise InvariantError(f"order {order.order_id} was priced without a market")
            key = (order.instrument.instrument_id, order.product.value)
            quantity = order.side.sign * order.quantity
            legs = with_fill(legs, key, leg_market, quantity, _valuation(order, rules))
        after = rules.portfolio.margin(tuple(legs.values()), market, trade_date)
        yield change(before, after)


def _merged(orders: Sequence[cmd.PlaceOrder]) -> UnderlyingMarket:
    """One underlying's market over the contracts of all ``orders`` (each stamped with its own
    and the positions' on it, read at the same moment)."""
    markets = [order.market for order in orders if order.market is not None]
    if len(markets) != len(orders):
        raise InvariantError("a derivative order was priced without a market")
    legs: dict[str, LegMarket] = {}
    for market in markets:
        for leg in market.legs:
            legs.setdefault(leg.instrument.instrument_id, leg)
    return msgspec.structs.replace(markets[0], legs=tuple(legs.values()))


def _valuation(order: cmd.PlaceOrder, rules: AccountRules) -> int:
    return valuation_price(
        order.order_type, order.price_paise, order.trigger_paise, order.quote, rules
    )
