"""Funds commands keep the funds identity (docs/DOMAIN.md §2) after every step.

Proves that credits and debits move the balance and the deposit/withdrawal totals by exactly
their amount; that a debit or block beyond the available margin is ``INSUFFICIENT_FUNDS`` and
non-positive amounts are ``INVALID_AMOUNT``, with no events; that fund blocks count as blocked
and are released whole; that a deposit request moves nothing until its approval credits it in
the same event, and a withdrawal request blocks its amount until its decision releases it (and
debits it, approved) in one event, each decided once, its block released by nothing else; that
a keyed admin adjustment is recorded by its own event and refused a second time; that margin
blocked by
orders and positions is never available to a debit; and that ``funds_identity_holds`` is not
vacuous: it fails on a state whose totals disagree with their parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import (
    AccountState,
    Decision,
    blocked_from_parts,
    funds_identity_holds,
    state_fingerprint,
)
from engine.domain.enums import Rejection, Side
from engine.domain.instruments import Instrument
from tests.conftest import NOW_MS, Execute

LAKH_PAISE = 10_000_000  # ₹1 lakh


def _credit(amount: int, kind: str = "DEPOSIT") -> cmd.CreditFunds:
    return cmd.CreditFunds(now_ms=NOW_MS, amount_paise=amount, kind=kind, reference="ref")


def _debit(amount: int) -> cmd.DebitFunds:
    return cmd.DebitFunds(now_ms=NOW_MS, amount_paise=amount, kind="WITHDRAWAL", reference="ref")


def _withdraw(withdrawal_id: str, amount: int) -> cmd.RequestWithdrawal:
    return cmd.RequestWithdrawal(
        now_ms=NOW_MS, withdrawal_id=withdrawal_id, amount_paise=amount, bank_account_id="bank"
    )


def _decide_withdrawal(withdrawal_id: str, *, approve: bool) -> cmd.DecideWithdrawal:
    return cmd.DecideWithdrawal(
        now_ms=NOW_MS, withdrawal_id=withdrawal_id, approve=approve, admin_user_id="adm", remarks=""
    )


def _deposit(deposit_id: str, amount: int) -> cmd.RequestDeposit:
    return cmd.RequestDeposit(
        now_ms=NOW_MS,
        deposit_id=deposit_id,
        amount_paise=amount,
        bank_account_id=None,
        reference="",
    )


def _decide_deposit(deposit_id: str, *, approve: bool) -> cmd.DecideDeposit:
    return cmd.DecideDeposit(
        now_ms=NOW_MS, deposit_id=deposit_id, approve=approve, admin_user_id="adm", remarks="ok"
    )


def _block(block_id: str, amount: int) -> cmd.BlockFunds:
    return cmd.BlockFunds(now_ms=NOW_MS, block_id=block_id, amount_paise=amount, kind="WITHDRAWAL")


def _release(block_id: str) -> cmd.ReleaseFunds:
    return cmd.ReleaseFunds(now_ms=NOW_MS, block_id=block_id)


def _totals(state: AccountState) -> tuple[int, int, int, int]:
    return (
        state.balance_paise,
        state.deposits_paise,
        state.withdrawals_paise,
        state.blocked_paise,
    )


def test_credit_when_positive_then_balance_and_deposits_grow(execute: Execute) -> None:
    state = AccountState("acc-1")

    first = execute(state, _credit(LAKH_PAISE))
    execute(state, _credit(1, kind="ADJUSTMENT"))

    assert first.events == (
        ev.FundsCredited(at_ms=NOW_MS, amount_paise=LAKH_PAISE, kind="DEPOSIT", reference="ref"),
    )
    assert _totals(state) == (LAKH_PAISE + 1, LAKH_PAISE + 1, 0, 0)
    assert state.available_paise == LAKH_PAISE + 1
    assert state.seq == 2


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        pytest.param(LAKH_PAISE, None, id="all-available"),
        pytest.param(1, None, id="one-paisa"),
        pytest.param(LAKH_PAISE + 1, Rejection.INSUFFICIENT_FUNDS, id="one-paisa-too-much"),
        pytest.param(0, Rejection.INVALID_AMOUNT, id="zero"),
        pytest.param(-100, Rejection.INVALID_AMOUNT, id="negative"),
    ],
)
def test_debit_when_amount_checked_then_bounded_by_available(
    amount: int,
    expected: Rejection | None,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(LAKH_PAISE)
    fingerprint = state_fingerprint(state)

    decision = execute(state, _debit(amount))

    assert decision.rejection is expected
    if expected is None:
        assert _totals(state) == (LAKH_PAISE - amount, LAKH_PAISE, amount, 0)
    else:
        assert decision.events == ()
        assert state_fingerprint(state) == fingerprint


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(_credit(0), id="credit-zero"),
        pytest.param(_credit(-1), id="credit-negative"),
        pytest.param(_debit(0), id="debit-zero"),
        pytest.param(_block("b1", 0), id="block-zero"),
        pytest.param(_block("b1", -5), id="block-negative"),
        pytest.param(_withdraw("w9", 0), id="withdrawal-zero"),
        pytest.param(_deposit("d9", -1), id="deposit-negative"),
    ],
)
def test_funds_command_when_amount_not_positive_then_invalid_amount(
    command: Any, funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)
    execute(state, _block("b0", 100))
    fingerprint = state_fingerprint(state)

    decision = execute(state, command)

    assert decision == Decision((), Rejection.INVALID_AMOUNT)
    assert state_fingerprint(state) == fingerprint


def test_block_funds_when_released_then_available_restored(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)

    blocked = execute(state, _block("w1", 40_000))
    assert blocked.events == (
        ev.FundsBlocked(at_ms=NOW_MS, block_id="w1", amount_paise=40_000, kind="WITHDRAWAL"),
    )
    assert state.fund_blocks == {"w1": 40_000}
    assert (state.balance_paise, state.blocked_paise) == (LAKH_PAISE, 40_000)
    assert state.available_paise == LAKH_PAISE - 40_000

    released = execute(state, cmd.ReleaseFunds(now_ms=NOW_MS, block_id="w1", amount_paise=40_000))
    assert released.events == (ev.FundsReleased(at_ms=NOW_MS, block_id="w1", amount_paise=40_000),)
    assert state.fund_blocks == {}
    assert _totals(state) == (LAKH_PAISE, LAKH_PAISE, 0, 0)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param(_block("w1", 1), Rejection.DUPLICATE, id="block-id-taken"),
        pytest.param(
            _block("w2", LAKH_PAISE - 40_000 + 1), Rejection.INSUFFICIENT_FUNDS, id="block-too-much"
        ),
        pytest.param(_release("nope"), Rejection.NOT_FOUND, id="release-unknown"),
        pytest.param(
            cmd.ReleaseFunds(now_ms=NOW_MS, block_id="w1", amount_paise=39_999),
            Rejection.INVALID_AMOUNT,
            id="release-other-amount",
        ),
        pytest.param(
            _decide_withdrawal("nope", approve=True), Rejection.DUPLICATE, id="approve-unknown"
        ),
        # the block itself is not available to a plain debit
        pytest.param(
            _debit(LAKH_PAISE - 40_000 + 1), Rejection.INSUFFICIENT_FUNDS, id="debit-into-block"
        ),
    ],
)
def test_funds_command_when_block_state_wrong_then_rejected_without_events(
    command: Any,
    expected: Rejection,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(LAKH_PAISE)
    execute(state, _block("w1", 40_000))
    fingerprint = state_fingerprint(state)

    decision = execute(state, command)

    assert decision == Decision((), expected)
    assert state_fingerprint(state) == fingerprint


def test_block_funds_when_exactly_available_then_accepted(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)
    assert execute(state, _block("w1", LAKH_PAISE)).rejection is None
    assert state.available_paise == 0


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_withdrawal_when_requested_then_blocked_until_decided_once(
    approve: bool, funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)
    requested = execute(state, _withdraw("w1", 40_000))
    assert requested.events == (
        ev.WithdrawalRequested(
            at_ms=NOW_MS, withdrawal_id="w1", amount_paise=40_000, bank_account_id="bank"
        ),
    )
    assert (state.pending_withdrawals, state.fund_blocks) == ({"w1": 40_000}, {"w1": 40_000})
    assert state.available_paise == LAKH_PAISE - 40_000
    fingerprint = state_fingerprint(state)
    for other_way_out in (_release("w1"), _block("w1", 1)):
        refused = execute(state, other_way_out)
        assert refused.rejection in (Rejection.BLOCK_OWNED_BY_WITHDRAWAL, Rejection.DUPLICATE)
    assert state_fingerprint(state) == fingerprint

    decided = execute(state, _decide_withdrawal("w1", approve=approve))

    assert decided.events == (
        ev.WithdrawalDecided(
            at_ms=NOW_MS,
            withdrawal_id="w1",
            approved=approve,
            amount_paise=40_000,
            decided_by="adm",
            remarks="",
        ),
    )
    assert (state.pending_withdrawals, state.fund_blocks, state.blocked_paise) == ({}, {}, 0)
    taken = 40_000 if approve else 0
    assert _totals(state) == (LAKH_PAISE - taken, LAKH_PAISE, taken, 0)
    again = execute(state, _decide_withdrawal("w1", approve=not approve))
    assert again == Decision((), Rejection.DUPLICATE)


def test_withdrawal_request_when_more_than_available_then_insufficient_funds(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)
    assert execute(state, _withdraw("w1", LAKH_PAISE + 1)) == Decision(
        (), Rejection.INSUFFICIENT_FUNDS
    )


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_deposit_when_requested_then_credited_only_by_its_approval_once(
    approve: bool, funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)
    assert execute(state, _deposit("d1", 50_000)).rejection is None
    assert state.pending_deposits == {"d1": 50_000}
    assert _totals(state) == (LAKH_PAISE, LAKH_PAISE, 0, 0)
    assert execute(state, _deposit("d1", 50_000)) == Decision((), Rejection.DUPLICATE)

    assert execute(state, _decide_deposit("d1", approve=approve)).rejection is None

    credited = 50_000 if approve else 0
    assert _totals(state) == (LAKH_PAISE + credited, LAKH_PAISE + credited, 0, 0)
    assert state.pending_deposits == {}
    assert execute(state, _decide_deposit("d1", approve=True)) == Decision((), Rejection.DUPLICATE)


def test_keyed_adjustment_when_sent_twice_then_recorded_once_and_refused_again(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(LAKH_PAISE)
    credit = cmd.CreditFunds(
        now_ms=NOW_MS,
        amount_paise=7_000,
        kind="ADJUSTMENT",
        reference="k1",
        operation_key="k1",
        operator_id="adm",
    )
    assert execute(state, credit).rejection is None
    record = state.fund_operations["k1"]
    assert (record.operation, record.amount_paise, record.balance_after_paise) == (
        "ADD",
        7_000,
        LAKH_PAISE + 7_000,
    )
    assert record.account_seq == state.seq
    debit = cmd.DebitFunds(
        now_ms=NOW_MS, amount_paise=1, kind="ADJUSTMENT", reference="k1", operation_key="k1"
    )
    for again in (credit, debit):
        assert execute(state, again) == Decision((), Rejection.DUPLICATE)
    assert state.balance_paise == LAKH_PAISE + 7_000


def test_debit_when_margin_blocked_by_orders_and_positions_then_only_free_cash_leaves(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., Any],
    place_order: Callable[..., cmd.PlaceOrder],
) -> None:
    state = funded_account(LAKH_PAISE)
    trade(state, reliance, Side.BUY, 10, 154290)  # position margin 3085.80, charges 6.50
    execute(state, place_order(reliance, order_id="o2", quantity=10, price_paise=154000))
    execute(state, _block("w1", 1_000_00))
    # blocked: 308 580 (position) + 308 000 (order, 20 % × 15 400) + 100 000 (withdrawal)
    assert state.blocked_paise == 716_580 == blocked_from_parts(state)
    free = LAKH_PAISE - 650 - 716_580
    assert state.available_paise == free

    assert execute(state, _debit(free + 1)).rejection is Rejection.INSUFFICIENT_FUNDS
    assert execute(state, _debit(free)).rejection is None
    assert state.available_paise == 0
    assert state.balance_paise == state.blocked_paise


def test_funds_identity_when_sequence_of_steps_then_holds_after_each(
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Callable[..., Any],
) -> None:
    state = funded_account(LAKH_PAISE)
    steps: list[cmd.AccountCommand] = [
        _credit(5_000_00),
        _withdraw("w1", 2_000_00),
        _debit(1_000_00),
        _decide_withdrawal("w1", approve=True),
        _block("w2", 1_00),
        _release("w2"),
    ]
    for step in steps:
        execute(state, step)  # asserts the identity after applying
        assert funds_identity_holds(state)
    trade(state, reliance, Side.BUY, 10, 154290)
    trade(state, reliance, Side.SELL, 10, 154790)
    assert funds_identity_holds(state)
    assert state.deposits_paise == LAKH_PAISE + 5_000_00
    assert state.withdrawals_paise == 3_000_00
    assert state.realized_pnl_paise == 5_000
    assert state.charges_paise == 650 + 994
    assert state.balance_paise == LAKH_PAISE + 5_000_00 - 3_000_00 + 5_000 - 1_644
    assert state.blocked_paise == 0


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"balance_paise": 1}, id="balance"),
        pytest.param({"charges_paise": 1}, id="charges"),
        pytest.param({"blocked_paise": 1}, id="blocked"),
        pytest.param({"fund_blocks": {"ghost": 1}}, id="orphan-fund-block"),
    ],
)
def test_funds_identity_when_totals_disagree_with_parts_then_false(
    tamper: dict[str, Any], funded_account: Callable[..., AccountState]
) -> None:
    state = funded_account(LAKH_PAISE)
    assert funds_identity_holds(state)
    for name, value in tamper.items():
        current = getattr(state, name)
        setattr(state, name, value if isinstance(value, dict) else current + value)
    assert not funds_identity_holds(state)
