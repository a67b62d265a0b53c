"""Resetting an account ("starting over", issue 23) is one pure decision of ordinary events.

Proves, on an account with a working order, an intraday position in profit, a short in loss,
delivery holdings and a pending withdrawal, that a reset cancels the order and the withdrawal
(its block released, nothing debited), closes each position and sells the holdings at the
stamped prices with exactly the charges and P&L a position close (and a delivery sell, DP
charge included) gives, marks the reset with an ``AccountReset`` event and then books one RESET
entry of the difference, so the balance is the opening balance to the paisa, nothing stays
blocked and the funds identity holds; that replaying the events from an empty state rebuilds
the same state; that ``decide`` does not mutate; that the per-day limit refuses a second reset
the same trade day (and allows one the next day); that a missing or off-tick price refuses the
whole reset with no events; and that a reset of an account already at its opening balance
books no cash entry at all.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import msgspec
import pytest

from engine.config import load_config
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide, reset_exit_order_id
from engine.domain.account.state import (
    AccountState,
    Decision,
    blocked_from_parts,
    funds_identity_holds,
    state_fingerprint,
)
from engine.domain.enums import (
    CancelReason,
    CloseReason,
    FundKind,
    OrderType,
    PriceSource,
    Product,
    Rejection,
    Side,
)
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, Execute, QuoteFor, make_quote, place, run_command

OPENING_PAISE = 50_000_000  # ₹5 lakh
DEPOSIT_PAISE = 100_000_000  # ₹10 lakh

Trade = Callable[..., object]


def _reset(
    state: AccountState, exits: tuple[cmd.ResetExit, ...], *, now_ms: int = NOW_MS
) -> cmd.ResetAccount:
    return cmd.ResetAccount(
        now_ms=now_ms,
        reset_id="r-1",
        by_user_id="user-1",
        by_role="USER",
        opening_balance_paise=OPENING_PAISE,
        exits=exits,
    )


class Journaled:
    """One account run through ``decide`` and ``apply`` (with the purity and funds identity
    checks of ``run_command``), keeping every event as the journal would."""

    def __init__(self, state: AccountState, rules: AccountRules) -> None:
        self.state = state
        self.rules = rules
        self.journal: list[bytes] = []

    def run(self, command: cmd.AccountCommand) -> Decision:
        decision = run_command(self.state, command, self.rules)
        self.journal.extend(ev.encode_event(e) for e in decision.events)
        return decision

    def trade(
        self,
        instrument: Instrument,
        side: Side,
        quantity: int,
        price_paise: int,
        *,
        product: Product = Product.MIS,
        now_ms: int = NOW_MS,
    ) -> None:
        order_id = f"t{len(self.journal)}"
        terms = place(
            instrument,
            order_id=order_id,
            side=side,
            product=product,
            quantity=quantity,
            price_paise=price_paise,
            quote=make_quote(CONFIG, instrument, price_paise),
            now_ms=now_ms,
        )
        assert self.run(terms).rejection is None
        filled = self.run(cmd.FillOrder(order_id, instrument, quantity, price_paise, now_ms=now_ms))
        assert filled.rejection is None

    def replayed(self) -> AccountState:
        events = (ev.decode_event(payload) for payload in self.journal)
        return apply_all(AccountState(self.state.account_id), events)


CONFIG = load_config()


@pytest.fixture
def account(
    rules: AccountRules, reliance: Instrument, wipro: Instrument, tcs: Instrument
) -> Journaled:
    """₹10 lakh deposited; 5 TCS held from yesterday; 10 RELIANCE long at ₹1540 (MIS);
    200 WIPRO short at ₹244 (MIS); a working LIMIT buy; a pending ₹1,000 withdrawal."""
    account = Journaled(AccountState("acc-1"), rules)
    account.run(
        cmd.CreditFunds(now_ms=NOW_MS, amount_paise=DEPOSIT_PAISE, kind="DEPOSIT", reference="d")
    )
    account.trade(tcs, Side.BUY, 5, 314_800, product=Product.CNC, now_ms=NOW_MS - DAY_MS)
    assert account.run(cmd.SettleHoldings(now_ms=NOW_MS - DAY_MS)).rejection is None
    account.trade(reliance, Side.BUY, 10, 154_000)
    account.trade(wipro, Side.SELL, 200, 24_400)
    resting = place(
        reliance,
        order_id="rest-1",
        quantity=3,
        price_paise=150_000,
        quote=make_quote(CONFIG, reliance, 154_000),
    )
    assert account.run(resting).rejection is None
    withdrawal = cmd.RequestWithdrawal(
        now_ms=NOW_MS, withdrawal_id="wd-1", amount_paise=100_000, bank_account_id=None
    )
    assert account.run(withdrawal).rejection is None
    state = account.state
    assert state.holdings[tcs.instrument_id].quantity == 5
    assert len(state.positions) == 2 and "rest-1" in state.orders
    assert state.blocked_paise > 0
    return account


@pytest.fixture
def busy(account: Journaled) -> AccountState:
    return account.state


def _exits(
    state: AccountState, prices: dict[str, int], master_of: dict[str, Instrument]
) -> tuple[cmd.ResetExit, ...]:
    """Exits at ``prices`` (by instrument id) for every position and holding of ``state``."""
    exits = [
        cmd.ResetExit(
            master_of[p.instrument_id],
            prices[master_of[p.instrument_id].ticker],
            p.position_id,
            PriceSource.LIVE,
        )
        for p in state.positions.values()
    ]
    exits += [
        cmd.ResetExit(
            master_of[h.instrument_id],
            prices[master_of[h.instrument_id].ticker],
            "",
            PriceSource.LIVE,
        )
        for h in state.holdings.values()
    ]
    return tuple(exits)


@pytest.fixture
def instruments(reliance: Instrument, wipro: Instrument, tcs: Instrument) -> dict[str, Instrument]:
    return {i.instrument_id: i for i in (reliance, wipro, tcs)}


PRICES = {"NSE:RELIANCE": 155_000, "NSE:WIPRO": 24_550, "NSE:TCS": 316_000}


def _by_type(events: tuple[ev.AccountEvent, ...]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_reset_when_orders_positions_holdings_and_withdrawal_then_opening_balance_and_nothing_blocked(  # noqa: E501
    busy: AccountState,
    rules: AccountRules,
    instruments: dict[str, Instrument],
    reliance: Instrument,
    wipro: Instrument,
    tcs: Instrument,
) -> None:
    state = busy
    fingerprint = state_fingerprint(state)
    decision = decide(state, _reset(state, _exits(state, PRICES, instruments)), rules)
    assert state_fingerprint(state) == fingerprint, "decide mutated the state"
    assert decision.rejection is None
    events = decision.events
    # Cancel, two closes (accept + fill), the holding's sale, the withdrawal, marker, cash.
    assert _by_type(events) == [
        "OrderCancelled",
        "OrderAccepted",
        "OrderFilled",
        "OrderAccepted",
        "OrderFilled",
        "OrderAccepted",
        "OrderFilled",
        "WithdrawalCancelled",
        "AccountReset",
        "FundsDebited",  # ₹10 lakh deposited is above the ₹5 lakh opening balance
    ]
    cancelled = events[0]
    assert isinstance(cancelled, ev.OrderCancelled)
    assert (cancelled.order_id, cancelled.reason) == ("rest-1", CancelReason.RESET)

    fills = [e for e in events if isinstance(e, ev.OrderFilled)]
    by_instrument = {f.instrument_id: f for f in fills}
    # Exactly the P&L of each exit at its stamped price.
    assert by_instrument[reliance.instrument_id].realized_pnl_paise == 10 * (155_000 - 154_000)
    assert by_instrument[wipro.instrument_id].realized_pnl_paise == -200 * (24_550 - 24_400)
    held = state.holdings[tcs.instrument_id]
    assert by_instrument[tcs.instrument_id].realized_pnl_paise == 5 * 316_000 - held.cost_paise
    assert by_instrument[tcs.instrument_id].holding_quantity == 0
    assert by_instrument[tcs.instrument_id].dp_day == rules.trade_day(NOW_MS)  # delivery sell
    assert all(f.price_source == "LIVE" for f in fills)
    assert [f.order_id for f in fills] == [reset_exit_order_id("r-1", n) for n in range(3)]

    withdrawal = events[7]
    assert isinstance(withdrawal, ev.WithdrawalCancelled)
    assert (withdrawal.withdrawal_id, withdrawal.amount_paise) == ("wd-1", 100_000)

    marker = events[8]
    assert isinstance(marker, ev.AccountReset)
    # RELIANCE: +₹100.00 less ₹9.96; WIPRO: −₹300.00 less ₹20.69; TCS delivery sell: +₹60.00
    # less ₹31.74 (₹15.34 of it DP). The balance of ₹9,99,943.52 becomes ₹9,99,741.13, and
    # one RESET debit of ₹4,99,741.13 leaves ₹5,00,000.00.
    assert [f.charges_paise for f in fills] == [996, 2_069, 3_174]
    assert state.balance_paise == 99_994_352
    moved = sum(f.realized_pnl_paise - f.charges_paise for f in fills)
    assert moved == -20_239
    assert marker.adjustment_paise == OPENING_PAISE - (99_994_352 - 20_239) == -49_974_113
    assert marker.trade_day == rules.trade_day(NOW_MS)
    assert (marker.by_user_id, marker.by_role, marker.reset_id) == ("user-1", "USER", "r-1")
    cash = events[9]
    assert isinstance(cash, ev.FundsCredited | ev.FundsDebited)
    assert (cash.kind, cash.reference) == (FundKind.RESET, "r-1")
    assert abs(marker.adjustment_paise) == cash.amount_paise

    after = apply_all(copy.deepcopy(state), events)
    assert after.balance_paise == OPENING_PAISE
    assert after.blocked_paise == 0 == blocked_from_parts(after)
    assert after.available_paise == OPENING_PAISE
    assert not after.orders and not after.positions and not after.holdings
    assert not after.fund_blocks and not after.pending_withdrawals
    assert funds_identity_holds(after)
    assert (after.resets_total, after.resets_on_last_day) == (1, 1)
    # History is kept: the realized P&L and charges of the old life are still counted.
    assert after.realized_pnl_paise == state.realized_pnl_paise + sum(
        f.realized_pnl_paise for f in fills
    )


def test_reset_when_closing_then_charges_are_those_of_a_position_close(
    busy: AccountState, rules: AccountRules, instruments: dict[str, Instrument]
) -> None:
    state = busy
    events = decide(state, _reset(state, _exits(state, PRICES, instruments)), rules).events
    reset_fills = {e.instrument_id: e for e in events if isinstance(e, ev.OrderFilled)}
    # The same closes as ordinary ClosePosition decisions, one after the other, on a copy.
    closing = copy.deepcopy(state)
    apply_all(closing, events[:1])  # the working order cancelled first, as the reset does
    for n, position_id in enumerate(sorted(closing.positions)):
        position = closing.positions[position_id]
        close = cmd.ClosePosition(
            now_ms=NOW_MS,
            position_id=position_id,
            exit_order_id=reset_exit_order_id("r-1", n),
            instrument=instruments[position.instrument_id],
            price_paise=PRICES[instruments[position.instrument_id].ticker],
            reason=CloseReason.USER,
            price_source=PriceSource.LIVE,
        )
        closed = decide(closing, close, rules)
        assert closed.rejection is None
        apply_all(closing, closed.events)
        fill = closed.events[1]
        assert isinstance(fill, ev.OrderFilled)
        assert reset_fills[fill.instrument_id] == fill


def test_reset_when_events_replayed_from_scratch_then_same_state(
    account: Journaled, instruments: dict[str, Instrument], reliance: Instrument
) -> None:
    state = account.state
    assert account.run(_reset(state, _exits(state, PRICES, instruments))).rejection is None
    after = place(reliance, order_id="after-1", quantity=1, price_paise=153_000, now_ms=NOW_MS + 1)
    assert account.run(after).rejection is None

    replayed = account.replayed()
    assert replayed == state
    assert state_fingerprint(replayed) == state_fingerprint(state)
    assert funds_identity_holds(replayed)
    assert replayed.resets_total == 1 and list(replayed.orders) == ["after-1"]


def test_reset_when_replaying_the_full_journal_then_fingerprint_matches(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Callable[..., tuple[object, object]],
    reliance: Instrument,
    instruments: dict[str, Instrument],
) -> None:
    state = AccountState("acc-replay")
    journal: list[ev.AccountEvent] = []

    def run(command: cmd.AccountCommand) -> None:
        decision = decide(state, command, rules)
        assert decision.rejection is None, decision
        apply_all(state, decision.events)
        journal.extend(ev.decode_event(ev.encode_event(e)) for e in decision.events)

    run(cmd.CreditFunds(now_ms=NOW_MS, amount_paise=DEPOSIT_PAISE, kind="DEPOSIT", reference="d"))
    run(place(reliance, order_id="b1", quantity=10, price_paise=154_000))
    run(cmd.FillOrder("b1", reliance, 10, 154_000, now_ms=NOW_MS))
    run(place(reliance, order_id="w1", quantity=2, price_paise=150_000))
    run(cmd.RequestWithdrawal("wd-9", 250_000, None, now_ms=NOW_MS))
    run(_reset(state, _exits(state, PRICES, instruments)))
    run(place(reliance, order_id="after-1", quantity=1, price_paise=153_000, now_ms=NOW_MS + 1))

    replayed = apply_all(AccountState("acc-replay"), journal)
    assert replayed == state
    assert state_fingerprint(replayed) == state_fingerprint(state)
    assert funds_identity_holds(replayed)
    assert replayed.resets_total == 1


def test_reset_when_second_the_same_trade_day_then_reset_limit_reached(
    busy: AccountState, execute: Execute, rules: AccountRules, instruments: dict[str, Instrument]
) -> None:
    state = busy
    assert execute(state, _reset(state, _exits(state, PRICES, instruments))).rejection is None
    fingerprint = state_fingerprint(state)
    later = _reset(state, (), now_ms=NOW_MS + 3_600_000)
    second = decide(state, later, rules)
    assert second == Decision((), Rejection.RESET_LIMIT_REACHED)
    assert state_fingerprint(state) == fingerprint
    # The next trade day the limit starts again.
    tomorrow = execute(state, _reset(state, (), now_ms=NOW_MS + DAY_MS))
    assert tomorrow.rejection is None
    assert (state.resets_total, state.resets_on_last_day) == (2, 1)


def test_reset_when_limit_is_two_then_second_allowed_and_third_refused(
    funded_account: Callable[..., AccountState], rules: AccountRules
) -> None:
    two = dataclasses.replace(
        rules, limits=dataclasses.replace(rules.limits, account_resets_per_day_max=2)
    )
    state = funded_account(DEPOSIT_PAISE)
    outcomes = []
    for n in range(3):
        decision = decide(state, _reset(state, (), now_ms=NOW_MS + n), two)
        apply_all(state, decision.events)
        outcomes.append(decision.rejection)
    assert outcomes == [None, None, Rejection.RESET_LIMIT_REACHED]


def test_reset_when_a_position_has_no_price_then_refused_without_events(
    busy: AccountState, rules: AccountRules, instruments: dict[str, Instrument]
) -> None:
    state = busy
    exits = _exits(state, PRICES, instruments)
    fingerprint = state_fingerprint(state)
    missing = decide(state, _reset(state, exits[1:]), rules)
    assert missing == Decision((), Rejection.PRICE_UNAVAILABLE)
    off_tick = tuple(
        msgspec.structs.replace(e, price_paise=e.price_paise + 1) if not e.position_id else e
        for e in exits
    )
    assert decide(state, _reset(state, off_tick), rules) == Decision(
        (), Rejection.PRICE_UNAVAILABLE
    )
    assert state_fingerprint(state) == fingerprint


def test_reset_when_already_at_opening_balance_then_no_cash_entry(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(OPENING_PAISE)
    decision = execute(state, _reset(state, ()))
    assert _by_type(decision.events) == ["AccountReset"]
    marker = decision.events[0]
    assert isinstance(marker, ev.AccountReset) and marker.adjustment_paise == 0
    assert state.balance_paise == OPENING_PAISE


def test_reset_when_balance_below_opening_then_one_reset_credit_of_the_difference(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(12_345_678)
    decision = execute(state, _reset(state, ()))
    cash = decision.events[-1]
    assert isinstance(cash, ev.FundsCredited)
    assert (cash.amount_paise, cash.kind) == (OPENING_PAISE - 12_345_678, FundKind.RESET)
    assert state.balance_paise == OPENING_PAISE
    assert state.deposits_paise == OPENING_PAISE  # 12_345_678 deposited + 37_654_322 reset


def test_reset_when_balance_above_opening_then_one_reset_debit_of_the_difference(
    funded_account: Callable[..., AccountState], execute: Execute
) -> None:
    state = funded_account(DEPOSIT_PAISE)
    decision = execute(state, _reset(state, ()))
    cash = decision.events[-1]
    assert isinstance(cash, ev.FundsDebited)
    assert cash.amount_paise == 50_000_000
    assert (state.balance_paise, state.withdrawals_paise) == (OPENING_PAISE, 50_000_000)


def test_reset_when_an_sl_order_works_then_it_is_cancelled_with_reason_reset(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    quote_for: QuoteFor,
    reliance: Instrument,
) -> None:
    state = funded_account(DEPOSIT_PAISE)
    stop = place(
        reliance,
        order_id="sl-1",
        side=Side.SELL,
        order_type=OrderType.SL_M,
        trigger_paise=150_000,
        quantity=5,
        quote=quote_for(reliance, 154_000),
    )
    assert execute(state, stop).rejection is None
    decision = execute(state, _reset(state, ()))
    assert isinstance(decision.events[0], ev.OrderCancelled)
    assert state.orders == {} and state.blocked_paise == 0


@pytest.mark.parametrize(
    ("deposited_paise", "cash_event"),
    [(OPENING_PAISE - 1, ev.FundsCredited), (OPENING_PAISE + 1, ev.FundsDebited)],
    ids=["one-paisa-short", "one-paisa-over"],
)
def test_reset_when_one_paisa_from_opening_then_that_paisa_moved_by_the_resetter(
    deposited_paise: int,
    cash_event: type,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(deposited_paise)
    decision = execute(state, _reset(state, ()))
    cash = decision.events[-1]
    assert isinstance(cash, cash_event)
    assert isinstance(cash, ev.FundsCredited | ev.FundsDebited)
    assert (cash.amount_paise, cash.kind, cash.reference, cash.operator_id) == (
        1,
        FundKind.RESET,
        "r-1",
        "user-1",
    )
    assert state.balance_paise == OPENING_PAISE


def test_reset_when_opening_balance_negative_then_invalid_amount_without_events(
    funded_account: Callable[..., AccountState], rules: AccountRules
) -> None:
    state = funded_account(DEPOSIT_PAISE)
    negative = msgspec.structs.replace(_reset(state, ()), opening_balance_paise=-1)
    assert decide(state, negative, rules) == Decision((), Rejection.INVALID_AMOUNT)
    zero = msgspec.structs.replace(_reset(state, ()), opening_balance_paise=0)
    assert decide(state, zero, rules).rejection is None


def test_reset_when_several_exits_then_each_exit_order_has_its_own_derived_id_in_order(
    busy: AccountState, rules: AccountRules, instruments: dict[str, Instrument]
) -> None:
    state = busy
    decision = decide(state, _reset(state, _exits(state, PRICES, instruments)), rules)
    accepted = [e.order_id for e in decision.events if isinstance(e, ev.OrderAccepted)]
    # Positions first (by position id), then holdings (by instrument id), numbered from 0.
    assert accepted == [reset_exit_order_id("r-1", n) for n in range(3)]
    assert len(set(accepted)) == 3
    assert reset_exit_order_id("r-1", 0) == reset_exit_order_id("r-1", 0)
    assert reset_exit_order_id("r-1", 0) != reset_exit_order_id("r-2", 0)


@pytest.mark.parametrize("price_paise", [0, -5])
def test_reset_when_a_holding_price_is_not_positive_then_price_unavailable(
    price_paise: int, busy: AccountState, rules: AccountRules, instruments: dict[str, Instrument]
) -> None:
    state = busy
    exits = tuple(
        msgspec.structs.replace(e, price_paise=price_paise) if not e.position_id else e
        for e in _exits(state, PRICES, instruments)
    )
    assert decide(state, _reset(state, exits), rules) == Decision((), Rejection.PRICE_UNAVAILABLE)


def test_reset_when_a_holding_trades_at_one_paisa_then_sold_there(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    rules: AccountRules,
    wipro: Instrument,
) -> None:
    # NSE's tick below ₹250 is 1 paisa (docs/DOMAIN.md §3): a holding can be worth 1 paisa.
    penny = dataclasses.replace(wipro, tick_paise=1)
    state = funded_account(DEPOSIT_PAISE)
    journal = Journaled(state, rules)
    journal.trade(penny, Side.BUY, 10, 24_401, product=Product.CNC, now_ms=NOW_MS - DAY_MS)
    assert journal.run(cmd.SettleHoldings(now_ms=NOW_MS - DAY_MS)).events
    exit_at_one = (cmd.ResetExit(penny, 1, "", PriceSource.LIVE),)

    decision = execute(state, _reset(state, exit_at_one))

    assert decision.rejection is None
    (sold,) = [e for e in decision.events if isinstance(e, ev.OrderFilled)]
    assert (sold.price_paise, sold.quantity, sold.holding_quantity) == (1, 10, 0)
    assert sold.realized_pnl_paise == 10 * 1 - 10 * 24_401


def test_reset_when_a_position_and_two_holdings_then_each_exit_has_its_own_id(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    reliance: Instrument,
    tcs: Instrument,
    wipro: Instrument,
) -> None:
    state = funded_account(DEPOSIT_PAISE)
    journal = Journaled(state, rules)
    yesterday = NOW_MS - DAY_MS
    journal.trade(tcs, Side.BUY, 2, 314_800, product=Product.CNC, now_ms=yesterday)
    journal.trade(reliance, Side.BUY, 3, 154_000, product=Product.CNC, now_ms=yesterday)
    assert journal.run(cmd.SettleHoldings(now_ms=yesterday)).events
    journal.trade(wipro, Side.SELL, 10, 24_400)
    assert len(state.positions) == 1 and len(state.holdings) == 2
    exits = _exits(state, PRICES, {i.instrument_id: i for i in (reliance, tcs, wipro)})

    decision = journal.run(_reset(state, exits))

    exited = [e.order_id for e in decision.events if isinstance(e, ev.OrderAccepted)]
    assert exited == [reset_exit_order_id("r-1", n) for n in range(3)]
    assert state.positions == {} and state.holdings == {}
