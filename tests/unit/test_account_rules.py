"""Which working orders a reducing order shares its reduction with, and other rule boundaries.

Proves that an order against a position blocks margin only for the units it opens, after the
units that working orders on the same instrument, product and side already reduce; that working
orders on another instrument, another product or the other side do not shrink that reduction
(so margin is not over-blocked); that a peer reducing more than the position leaves the new
order to open in full; that a future's cover order, margined by its underlying's portfolio,
blocks what the portfolio grows by once the same position's same-side peers have filled; and
that a keyed admin adjustment is recorded with its operator, its time, the balance after it and
its own sequence number.

Amounts are paise; each hand computation sits in a comment next to its case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.domain import commands as cmd
from engine.domain.account.state import AccountState, FundOperation
from engine.domain.enums import Product, Side
from engine.domain.instruments import Instrument
from engine.domain.portfolio import MarginLeg
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute
from tests.support.margin_markets import market_for

CRORE_PAISE = 1_000_000_000
BUY, SELL = Side.BUY, Side.SELL
MIS, CNC, NRML = Product.MIS, Product.CNC, Product.NRML
Trade = Callable[..., tuple[Any, Any]]


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        # nothing else working: the exit of all 10 opens nothing
        pytest.param(None, 0, id="no-peer"),
        # a peer SELL 4 of the same position reduces 4 first: 6 left to reduce, 4 open a
        # short: 20 % × 4 × 1550.00
        pytest.param(("RELIANCE", SELL, MIS, 4), 124_000, id="same-position-peer"),
        # a peer SELL 15 already reduces all 10 (and opens 5): this one opens all 10
        pytest.param(("RELIANCE", SELL, MIS, 15), 310_000, id="peer-reduces-everything"),
        pytest.param(("RELIANCE", SELL, MIS, 10), 310_000, id="peer-reduces-exactly-all"),
        # a peer SELL 9 leaves 1 to reduce: 9 open, 20 % × 9 × 1550.00
        pytest.param(("RELIANCE", SELL, MIS, 9), 279_000, id="peer-leaves-one"),
        # unrelated working orders reduce nothing of this MIS long
        pytest.param(("WIPRO", SELL, MIS, 4), 0, id="other-instrument"),
        pytest.param(("RELIANCE", SELL, CNC, 4), 0, id="other-product"),
        pytest.param(("RELIANCE", BUY, MIS, 4), 0, id="other-side"),
    ],
)
def test_exit_order_when_peer_orders_work_then_only_same_position_same_side_peers_count(
    peer: tuple[str, Side, Product, int] | None,
    expected: int,
    reliance: Instrument,
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280)  # MIS long 10
    if peer is not None:
        ticker, side, product, quantity = peer
        instrument = reliance if ticker == "RELIANCE" else wipro
        if product is CNC:
            trade(state, reliance, BUY, quantity, 154280, product=CNC)  # shares to deliver
        price = 155000 if instrument is reliance else 24500
        placed = execute(
            state,
            place_order(
                instrument,
                order_id="peer",
                side=side,
                product=product,
                quantity=quantity,
                price_paise=price,
            ),
        )
        assert placed.rejection is None
    blocked_before = state.blocked_paise

    decision = execute(
        state,
        place_order(reliance, order_id="x1", side=SELL, quantity=10, price_paise=155000),
    )

    assert decision.rejection is None
    assert state.orders["x1"].margin_blocked_paise == expected
    assert state.blocked_paise == blocked_before + expected


@pytest.mark.parametrize(
    ("peer", "held_before", "expected"),
    [
        # short 130 NIFTY Dec NRML; buying 195 turns it into a long 65, which needs less
        pytest.param(None, -130, 0, id="no-peer"),
        # a peer BUY 65 NRML covers half first: this buy turns a short 65 into a long 130, and
        # blocks what the portfolio grows by, 130 lots' 3 16 015.67 + 67 960.36 less 65 lots'
        # 1 58 007.84 + 33 980.18
        pytest.param((BUY, NRML), -65, 19_198_801, id="same-position-peer"),
        pytest.param((BUY, MIS), -130, 0, id="other-product"),
        pytest.param((SELL, NRML), -130, 0, id="other-side"),
    ],
)
def test_cover_order_when_peer_orders_work_then_only_same_position_same_side_peers_count(
    peer: tuple[Side, Product] | None,
    held_before: int,
    expected: int,
    rules: AccountRules,
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_fut, SELL, 130, 2613860, product=NRML)
    if peer is not None:
        side, product = peer
        placed = execute(
            state,
            place_order(
                nifty_fut,
                order_id="peer",
                side=side,
                product=product,
                quantity=65,
                price_paise=2600000 if side is BUY else 2620000,
            ),
        )
        assert placed.rejection is None
    market = market_for(rules, state, nifty_fut, now_ms=NOW_MS)
    assert market is not None
    leg = market.leg(nifty_fut.instrument_id)
    assert leg is not None

    def blocked(quantity: int) -> int:
        legs = [MarginLeg(leg, quantity, quantity * 2600000)]
        return rules.portfolio.margin(legs, market, rules.trade_date(NOW_MS)).blocked_paise

    # The NRML position as this order sees it before (after the peers that fill first) and
    # after it fills.
    assert expected == max(0, blocked(held_before + 195) - blocked(held_before))

    decision = execute(
        state,
        place_order(
            nifty_fut, order_id="x1", side=BUY, product=NRML, quantity=195, price_paise=2600000
        ),
    )

    assert decision.rejection is None
    assert state.orders["x1"].margin_blocked_paise == expected


@pytest.mark.parametrize(
    ("peer_quantity", "new_price", "expected"),
    [
        # alone, the exit of 10 (modified to 1560.00) still opens nothing
        pytest.param(0, 156000, 0, id="alone"),
        # a peer SELL 4 reduces 4 first: 4 of this exit open, 20 % × 4 × 1560.00
        pytest.param(4, 156000, 124_800, id="peer-reduces-first"),
    ],
)
def test_modify_exit_order_when_recomputed_then_its_own_remaining_does_not_count_as_a_peer(
    peer_quantity: int,
    new_price: int,
    expected: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154280)
    if peer_quantity:
        execute(
            state,
            place_order(
                reliance, order_id="peer", side=SELL, quantity=peer_quantity, price_paise=155000
            ),
        )
    execute(state, place_order(reliance, order_id="x1", side=SELL, quantity=10, price_paise=155000))

    decision = execute(
        state,
        cmd.ModifyOrder(
            now_ms=NOW_MS, order_id="x1", instrument=reliance, quote=None, price_paise=new_price
        ),
    )

    assert decision.rejection is None
    assert state.orders["x1"].margin_blocked_paise == expected


# --------------------------------------------------------------------------------------------
# keyed admin adjustments are recorded as they were done


@pytest.mark.parametrize(
    ("command", "operation", "balance_after"),
    [
        pytest.param(cmd.CreditFunds, "ADD", 1_000_000 + 7_000, id="add"),
        pytest.param(cmd.DebitFunds, "WITHDRAW", 1_000_000 - 7_000, id="withdraw"),
    ],
)
def test_keyed_adjustment_when_applied_then_record_names_operator_time_and_balance_after(
    command: Any,
    operation: str,
    balance_after: int,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(1_000_000)
    seq_before = state.seq

    decision = execute(
        state,
        command(
            now_ms=NOW_MS + 5,
            amount_paise=7_000,
            kind="ADJUSTMENT",
            reference="ticket-9",
            operation_key="k1",
            operator_id="admin-7",
        ),
    )

    assert decision.rejection is None
    assert state.fund_operations == {
        "k1": FundOperation(
            operation=operation,
            amount_paise=7_000,
            operator_id="admin-7",
            balance_after_paise=balance_after,
            account_seq=seq_before + 1,
            at_ms=NOW_MS + 5,
        )
    }
    assert state.balance_paise == balance_after
