"""The explicit invariant checks: what they refuse, and that ``python -O`` keeps them.

``check_funds_identity`` passes a consistent account and names the numbers of a broken one (a
balance that disagrees with deposits, withdrawals, P&L and charges; a blocked total that
disagrees with its parts). The projection and the group writer raise ``InvariantError`` for an
event projected out of sequence and for ledger legs without their account row; under
``python -O``, which strips ``assert``, the checks still raise.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

from engine.domain.account.apply import apply_all
from engine.domain.account.state import AccountState, check_funds_identity
from engine.domain.enums import OrderStatus, OrderType, Product, Side, Validity
from engine.domain.events import FundsCredited, OrderFilled
from engine.domain.invariants import InvariantError
from engine.domain.orders import Order
from persistence.projection import project
from persistence.rows import Rows
from persistence.writer import group_arguments

NOW_MS = 1_795_496_400_000


def consistent() -> AccountState:
    state = AccountState("acct", balance_paise=900, deposits_paise=1_000, charges_paise=100)
    state.fund_blocks["b-1"] = 300
    state.blocked_paise = 300
    return state


def test_funds_identity_when_state_consistent_then_passes() -> None:
    check_funds_identity(consistent())


def test_funds_identity_when_balance_off_then_raises_with_both_figures() -> None:
    state = consistent()
    state.balance_paise += 1
    with pytest.raises(InvariantError, match=r"balance 901 \(its parts say 900\)"):
        check_funds_identity(state)


def test_funds_identity_when_blocked_off_its_parts_then_raises_with_both_figures() -> None:
    state = consistent()
    state.blocked_paise = 250
    with pytest.raises(InvariantError, match=r"blocked 250 \(its parts say 300\)"):
        check_funds_identity(state)


def test_funds_identity_when_every_part_moved_then_each_counted_with_its_sign() -> None:
    # balance 10,000 − 2,500 withdrawn + 700 realized − 200 charges = 8,000
    state = AccountState(
        "acct",
        balance_paise=8_000,
        deposits_paise=10_000,
        withdrawals_paise=2_500,
        realized_pnl_paise=700,
        charges_paise=200,
    )
    check_funds_identity(state)
    for part in ("deposits_paise", "withdrawals_paise", "realized_pnl_paise", "charges_paise"):
        moved = msgspec.structs.replace(state, **{part: getattr(state, part) + 1})
        with pytest.raises(InvariantError, match="balance 8000"):
            check_funds_identity(moved)


def test_apply_when_executed_order_would_keep_a_block_then_invariant_error() -> None:
    state = AccountState("acct", blocked_paise=500)
    state.orders["o1"] = Order(
        order_id="o1",
        client_order_id=None,
        instrument_id="NSE:X",
        side=Side.BUY,
        product=Product.MIS,
        order_type=OrderType.LIMIT,
        validity=Validity.DAY,
        quantity=1,
        price_paise=100,
        trigger_paise=0,
        status=OrderStatus.PENDING,
        margin_blocked_paise=500,
        created_ms=NOW_MS,
        updated_ms=NOW_MS,
    )
    filled = OrderFilled(
        at_ms=NOW_MS,
        order_id="o1",
        instrument_id="NSE:X",
        product=Product.MIS,
        side=Side.BUY,
        quantity=1,
        price_paise=100,
        status_after=OrderStatus.EXECUTED,
        block_released_paise=499,  # a paisa short of the order's block
        charges_paise=0,
        brokerage_paise=0,
        taxes_paise=0,
        realized_pnl_paise=0,
        position_id="p1",
        position_quantity=1,
        position_cost_paise=100,
        position_margin_paise=0,
        holding_quantity=0,
        holding_cost_paise=0,
        dp_day=0,
    )
    with pytest.raises(InvariantError, match="executed order o1 keeps a block"):
        apply_all(state, (filled,))


def test_project_when_event_out_of_sequence_then_invariant_error() -> None:
    event = FundsCredited(at_ms=NOW_MS, amount_paise=100, kind="DEPOSIT", reference="r")
    with pytest.raises(InvariantError, match="event 2 projected after 0"):
        project(AccountState("acct"), 2, event, Rows())


def test_group_arguments_when_leg_has_no_account_row_then_invariant_error() -> None:
    rows = Rows()
    rows.ledger.append(("acct-lost", 1, 0, "CASH", "EXTERNAL", "DEPOSIT", 1, 1, "r", "d", None))
    with pytest.raises(InvariantError, match="acct-lost"):
        group_arguments(rows)


def test_checks_when_python_optimized_then_still_raise() -> None:
    script = textwrap.dedent(
        """
        from engine.domain.account.state import AccountState, check_funds_identity
        from engine.domain.invariants import InvariantError
        from persistence.rows import Rows
        from persistence.writer import group_arguments

        assert False, "python -O strips this"
        raised = []
        try:
            check_funds_identity(AccountState("acct", balance_paise=1))
        except InvariantError:
            raised.append("funds")
        rows = Rows()
        rows.ledger.append(("x", 1, 0, "CASH", "EXTERNAL", "DEPOSIT", 1, 1, "r", "d", None))
        try:
            group_arguments(rows)
        except InvariantError:
            raised.append("ledger")
        print(",".join(raised))
        """
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).parents[2],  # the repository, for the imports
    )
    assert done.stdout.strip() == "funds,ledger"
