"""Fund requests, blocks and settlement at their boundaries (engine.domain.account).

A deposit or withdrawal request of 1 paisa is a request, of 0 is refused; a withdrawal of
exactly the available funds is accepted and 1 paisa more is refused; a request's event carries
what was asked; blocked funds and withdrawals add up over several requests and debits; a
withdrawal's block cannot be taken over by an admin BLOCK of the same id (DUPLICATE); a 1-share CNC
position settles into holdings like any other; an order's preview blocks and charges what
the order itself does, funded or not.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply
from engine.domain.account.decide import Requirements, preview_order
from engine.domain.account.state import AccountState, funds_identity_holds
from engine.domain.enums import Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, fill, place

FUNDS_PAISE = 100_000


@pytest.mark.parametrize(
    ("amount_paise", "rejection"),
    [(-1, Rejection.INVALID_AMOUNT), (0, Rejection.INVALID_AMOUNT), (1, None), (2, None)],
)
def test_deposit_request_when_amount_at_boundary_then_refused_below_one_paisa(
    execute: Execute,
    funded_account: Callable[..., AccountState],
    amount_paise: int,
    rejection: Rejection | None,
) -> None:
    state = funded_account(FUNDS_PAISE)
    decision = execute(
        state,
        cmd.RequestDeposit(
            now_ms=NOW_MS,
            deposit_id="d1",
            amount_paise=amount_paise,
            bank_account_id="bank-7",
            reference="UTR-42",
        ),
    )
    assert decision.rejection is rejection
    if rejection is None:
        assert decision.events == (
            ev.DepositRequested(
                at_ms=NOW_MS,
                deposit_id="d1",
                amount_paise=amount_paise,
                bank_account_id="bank-7",
                reference="UTR-42",
            ),
        )
        assert state.pending_deposits == {"d1": amount_paise}
        assert state.balance_paise == FUNDS_PAISE  # nothing moves before the decision


@pytest.mark.parametrize(
    ("amount_paise", "rejection"),
    [
        (0, Rejection.INVALID_AMOUNT),
        (1, None),
        (FUNDS_PAISE - 1, None),
        (FUNDS_PAISE, None),
        (FUNDS_PAISE + 1, Rejection.INSUFFICIENT_FUNDS),
    ],
)
def test_withdrawal_request_when_amount_at_boundary_then_blocked_up_to_available(
    execute: Execute,
    funded_account: Callable[..., AccountState],
    amount_paise: int,
    rejection: Rejection | None,
) -> None:
    state = funded_account(FUNDS_PAISE)
    decision = execute(
        state,
        cmd.RequestWithdrawal(
            now_ms=NOW_MS, withdrawal_id="w1", amount_paise=amount_paise, bank_account_id="bank-7"
        ),
    )
    assert decision.rejection is rejection
    if rejection is None:
        assert decision.events == (
            ev.WithdrawalRequested(
                at_ms=NOW_MS,
                withdrawal_id="w1",
                amount_paise=amount_paise,
                bank_account_id="bank-7",
            ),
        )
        assert (state.blocked_paise, state.available_paise) == (
            amount_paise,
            FUNDS_PAISE - amount_paise,
        )
    else:
        assert (state.blocked_paise, state.pending_withdrawals) == (0, {})


def test_withdrawal_request_when_id_already_blocks_then_duplicate_and_nothing_more_blocked(
    execute: Execute, funded_account: Callable[..., AccountState]
) -> None:
    state = funded_account(FUNDS_PAISE)
    request = cmd.RequestWithdrawal(
        now_ms=NOW_MS, withdrawal_id="w1", amount_paise=3_000, bank_account_id=None
    )
    assert execute(state, request).rejection is None
    assert execute(state, request).rejection is Rejection.DUPLICATE
    assert state.blocked_paise == 3_000


def test_withdrawal_requests_when_beside_other_blocks_then_blocked_amounts_add_up(
    execute: Execute, funded_account: Callable[..., AccountState]
) -> None:
    state = funded_account(FUNDS_PAISE)
    block = cmd.BlockFunds(now_ms=NOW_MS, block_id="b1", amount_paise=10_000, kind="ADMIN")
    assert execute(state, block).rejection is None
    for n, amount in enumerate((20_000, 30_000), start=1):
        request = cmd.RequestWithdrawal(
            now_ms=NOW_MS, withdrawal_id=f"w{n}", amount_paise=amount, bank_account_id=None
        )
        assert execute(state, request).rejection is None
    assert (state.blocked_paise, state.available_paise) == (60_000, 40_000)


def test_admin_block_when_it_names_a_pending_withdrawal_then_duplicate_and_block_kept(
    execute: Execute, funded_account: Callable[..., AccountState]
) -> None:
    state = funded_account(FUNDS_PAISE)
    request = cmd.RequestWithdrawal(
        now_ms=NOW_MS, withdrawal_id="w1", amount_paise=5_000, bank_account_id=None
    )
    assert execute(state, request).rejection is None
    block = cmd.BlockFunds(now_ms=NOW_MS, block_id="w1", amount_paise=9_000, kind="ADMIN")
    decision = execute(state, block)
    assert (decision.rejection, decision.events) == (Rejection.DUPLICATE, ())
    assert (state.fund_blocks, state.blocked_paise) == ({"w1": 5_000}, 5_000)


def test_debits_when_two_withdrawals_then_withdrawn_total_is_their_sum(
    execute: Execute, funded_account: Callable[..., AccountState]
) -> None:
    state = funded_account(FUNDS_PAISE)
    for amount in (1_500, 2_500):
        debit = cmd.DebitFunds(
            now_ms=NOW_MS, amount_paise=amount, kind="WITHDRAWAL", reference="payout"
        )
        assert execute(state, debit).rejection is None
    assert (state.balance_paise, state.withdrawals_paise) == (FUNDS_PAISE - 4_000, 4_000)


@pytest.mark.parametrize("quantity", [1, 2])
def test_settlement_when_cnc_position_of_any_size_then_it_becomes_holdings(
    execute: Execute,
    funded_account: Callable[..., AccountState],
    trade: Callable[..., object],
    reliance: Instrument,
    quantity: int,
) -> None:
    state = funded_account(10_000_000)
    trade(state, reliance, Side.BUY, quantity, 154_280, product=Product.CNC)
    [position_id] = state.positions
    decision = execute(state, cmd.SettleHoldings(now_ms=NOW_MS))
    assert decision.events == (ev.HoldingsSettled(at_ms=NOW_MS, position_ids=(position_id,)),)
    assert state.holdings[reliance.instrument_id].quantity == quantity
    assert not state.positions


@pytest.mark.parametrize(
    ("product", "side"),
    [(Product.MIS, Side.BUY), (Product.MIS, Side.SELL), (Product.CNC, Side.BUY)],
)
def test_preview_when_funded_or_not_then_same_block_and_charges_as_the_order_itself(
    execute: Execute,
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    quote_for: QuoteFor,
    reliance: Instrument,
    product: Product,
    side: Side,
) -> None:
    """The preview shows what placing blocks and what filling at the limit charges; refused
    for funds, it still shows both (the dashboard prints them)."""
    order = place(
        reliance,
        side=side,
        product=product,
        quantity=10,
        price_paise=154_280,
        quote=quote_for(reliance, 154_280),
    )
    state = funded_account(10_000_000)
    previewed = preview_order(state, order, rules)
    [accepted] = execute(state, order).events
    assert isinstance(accepted, ev.OrderAccepted)
    [filled] = execute(state, fill(reliance, "o1", 10, 154_280)).events
    assert isinstance(filled, ev.OrderFilled)
    assert previewed == Requirements(None, accepted.margin_blocked_paise, filled.charges_paise)
    assert previewed.block_paise > 0 and previewed.charges_paise > 0

    poor = funded_account(previewed.block_paise - 1)
    refused = preview_order(poor, order, rules)
    assert refused == Requirements(
        Rejection.INSUFFICIENT_FUNDS, previewed.block_paise, previewed.charges_paise
    )


@pytest.mark.parametrize("approve", [True, False])
def test_withdrawal_decision_when_requested_before_requests_were_events_then_decided_on_its_block(
    approve: bool, execute: Execute, funded_account: Callable[..., AccountState]
) -> None:
    # Before requests were journaled, a withdrawal request was only a fund block of its id.
    state = funded_account(FUNDS_PAISE)
    legacy = cmd.BlockFunds(now_ms=NOW_MS, block_id="w-old", amount_paise=7_000, kind="WITHDRAWAL")
    assert execute(state, legacy).rejection is None
    assert state.pending_withdrawals == {}

    decision = execute(
        state,
        cmd.DecideWithdrawal(
            now_ms=NOW_MS,
            withdrawal_id="w-old",
            approve=approve,
            admin_user_id="admin-1",
            remarks="paid",
        ),
    )

    (decided,) = decision.events
    assert isinstance(decided, ev.WithdrawalDecided)
    assert (decided.withdrawal_id, decided.amount_paise, decided.approved) == (
        "w-old",
        7_000,
        approve,
    )
    assert (decided.decided_by, decided.remarks) == ("admin-1", "paid")
    assert (state.blocked_paise, state.fund_blocks) == (0, {})
    assert state.balance_paise == FUNDS_PAISE - (7_000 if approve else 0)
    assert state.withdrawals_paise == (7_000 if approve else 0)


def test_deposit_decision_when_replayed_without_its_request_then_credited_once(
    funded_account: Callable[..., AccountState],
) -> None:
    # A journal written before deposit requests were events holds the decision alone.
    state = funded_account(FUNDS_PAISE)
    decided = ev.DepositDecided(
        at_ms=NOW_MS,
        deposit_id="d-old",
        approved=True,
        amount_paise=5_000,
        decided_by="admin-1",
        remarks="",
    )

    apply(state, decided)

    assert (state.balance_paise, state.deposits_paise) == (FUNDS_PAISE + 5_000, FUNDS_PAISE + 5_000)
    assert state.pending_deposits == {}
    assert funds_identity_holds(state)
