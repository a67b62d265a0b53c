"""The account state machine keeps its invariants under random command sequences.

A Hypothesis ``RuleBasedStateMachine`` drives one account with random credits, debits, fund
blocks and releases, orders (two equities, an index future and an index option; every side,
product and order type; quantities in lots; prices on the tick grid near a moving LTP),
modifications, cancels, triggers, partial and full fills, position closes, stop-loss/target
levels, delivery sells, holdings settlement, price moves and new trading days. After every
step it proves:

* the funds identity (DOMAIN.md §2) and that the blocked total equals the sum of its parts;
* no acceptance spends money that was not there: an accepted PlaceOrder had available margin
  ≥ its block + estimated charges (ModifyOrder: available + its old block ≥ new block +
  charges), so the available margin after an acceptance is never negative;
* ``decide`` never mutates the state (fingerprint before and after equal);
* every event survives ``encode_event``/``decode_event`` unchanged, and replaying the decoded
  journal from an empty ``AccountState`` gives an identical state (``==`` and fingerprint);
* P&L is conserved to the paisa: the cash flow of all fills plus the cost still open in
  positions and holdings equals the realized P&L;
* an order with no position to reduce blocks the full ``order_margin`` of its valuation;
* structural sanity: working orders are PENDING with something left, positions are non-zero,
  CNC is never short, holdings are positive, ``seq`` counts the events.

It also proves the machine is not vacuous: across the run every event type is produced and
orders are both accepted and rejected.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from engine import commands as cmd
from engine import events as ev
from engine.account import (
    AccountState,
    Decision,
    apply_all,
    blocked_from_parts,
    decide,
    funds_identity_holds,
    state_fingerprint,
)
from engine.charges import charge_category, order_charges
from engine.config import Config
from engine.enums import OrderStatus, OrderType, Product, Rejection, Side, Validity
from engine.instruments import Instrument, InstrumentMaster
from engine.margin import order_margin
from engine.orders import Order
from engine.quote import Quote
from engine.rules import AccountRules, circuit_band
from tests.conftest import DAY_MS, FUZZ_SCALE, NOW_MS, make_quote

TICKERS = ("NSE:RELIANCE", "NSE:TCS", "NFO:NIFTY26DECFUT", "NFO:NIFTY26DEC26000CE")
UNDERLYING = "NFO:NIFTY26DECFUT"
ACCOUNT_ID = "prop-1"

MACHINE_SETTINGS = settings(
    max_examples=200 * FUZZ_SCALE,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

picks = st.integers(min_value=0, max_value=1_000)
ticks = st.integers(min_value=-30, max_value=30)
# percentages of the available margin: mostly affordable, sometimes zero or too much
amounts = st.integers(min_value=0, max_value=60) | st.integers(min_value=-1, max_value=110)


class AccountMachine(RuleBasedStateMachine):
    """One account, a tiny market of four instruments and a journal of every event."""

    def __init__(
        self,
        rules: AccountRules,
        config: Config,
        instruments: Sequence[Instrument],
        seen: Counter[str],
    ) -> None:
        super().__init__()
        # not ``self.rules``: RuleBasedStateMachine keeps its own rule list under that name
        self.account_rules = rules
        self.config = config
        self.instruments = tuple(instruments)
        self.by_id = {i.instrument_id: i for i in self.instruments}
        self.seen = seen
        self.state = AccountState(ACCOUNT_ID)
        self.journal: list[bytes] = []
        self.ltp = {i.instrument_id: i.reference_price_paise for i in self.instruments}
        self.now_ms = NOW_MS
        self.ids = itertools.count(1)

    # ---------------------------------------------------------------------------------------
    # plumbing

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids)}"

    def _quote(self, instrument: Instrument) -> Quote:
        return make_quote(self.config, instrument, self.ltp[instrument.instrument_id])

    def _price(self, instrument: Instrument, offset_ticks: int) -> int:
        tick = instrument.tick_paise
        return max(tick, self.ltp[instrument.instrument_id] + offset_ticks * tick)

    def _underlying_paise(self, instrument: Instrument) -> int:
        if not instrument.is_option:
            return 0
        return self.ltp[next(i.instrument_id for i in self.instruments if i.ticker == UNDERLYING)]

    def _pick_order(self, pick: int) -> Order:
        orders = sorted(self.state.orders)
        return self.state.orders[orders[pick % len(orders)]]

    def _has_orders(self) -> bool:
        return bool(self.state.orders)

    def _has_positions(self) -> bool:
        return bool(self.state.positions)

    def _run(self, command: cmd.AccountCommand) -> Decision:
        """Decide and apply one command, checking purity, acceptance funds and the journal."""
        fingerprint = state_fingerprint(self.state)
        available_before = self.state.available_paise
        old_block = None
        if isinstance(command, cmd.ModifyOrder) and command.order_id in self.state.orders:
            old_block = self.state.orders[command.order_id].margin_blocked_paise

        decision = decide(self.state, command, self.account_rules)

        assert state_fingerprint(self.state) == fingerprint, "decide mutated the state"
        if decision.rejection is not None:
            self.seen[f"rejected:{decision.rejection.value}"] += 1
            assert decision.events == () or (
                len(decision.events) == 1
                and isinstance(decision.events[0], ev.OrderRejected)
                and decision.events[0].reason is decision.rejection
            ), decision
        if decision.rejection is None and isinstance(command, cmd.PlaceOrder):
            self._check_place_funds(command, decision, available_before)
        if decision.rejection is None and isinstance(command, cmd.ModifyOrder):
            assert old_block is not None
            self._check_modify_funds(command, decision, available_before + old_block)
        for event in decision.events:
            self.seen[type(event).__name__] += 1
            payload = ev.encode_event(event)
            assert ev.decode_event(payload) == event, event
            self.journal.append(payload)

        apply_all(self.state, decision.events)

        if decision.rejection is None and isinstance(command, cmd.PlaceOrder | cmd.ModifyOrder):
            assert self.state.available_paise >= 0, "an acceptance overdrew the account"
        return decision

    def _valuation(
        self, order_type: OrderType, price: int, trigger: int, quote: Quote | None
    ) -> int:
        protection = self.account_rules.execution.market_protection
        if order_type in (OrderType.LIMIT, OrderType.SL):
            return price
        if order_type is OrderType.SL_M:
            return trigger + protection.of(trigger)
        assert quote is not None, "a MARKET order was accepted without a quote"
        return quote.ask_paise + protection.of(quote.ask_paise)

    def _estimated_charges(
        self, instrument: Instrument, product: Product, side: Side, value_paise: int
    ) -> int:
        schedule = self.account_rules.charges.on(self.account_rules.trade_date(self.now_ms))
        category = charge_category(instrument.segment, product)
        return order_charges(
            schedule, category, instrument.exchange.value, side, value_paise
        ).total_paise

    def _margin_ceiling(
        self, instrument: Instrument, product: Product, side: Side, quantity: int, value: int
    ) -> int:
        """The margin of the whole order: an acceptance never blocks more than this."""
        if product is Product.CNC and side is Side.SELL:
            return 0
        return order_margin(
            self.account_rules.margin,
            instrument,
            product,
            side,
            quantity,
            value,
            underlying_price_paise=self._underlying_paise(instrument),
            expiry_day=self.account_rules.trade_date(self.now_ms) == instrument.expiry,
        )

    def _check_place_funds(
        self, command: cmd.PlaceOrder, decision: Decision, available_before: int
    ) -> None:
        (accepted,) = decision.events
        assert isinstance(accepted, ev.OrderAccepted)
        valuation = self._valuation(
            command.order_type, command.price_paise, command.trigger_paise, command.quote
        )
        charges = self._estimated_charges(
            command.instrument, command.product, command.side, command.quantity * valuation
        )
        block = accepted.margin_blocked_paise
        ceiling = self._margin_ceiling(
            command.instrument, command.product, command.side, command.quantity, valuation
        )
        assert 0 <= block <= ceiling
        if self.state.position_for(command.instrument.instrument_id, command.product) is None:
            assert block == ceiling, "an order with nothing to reduce blocks its full margin"
        assert available_before >= block + charges, (available_before, block, charges)

    def _check_modify_funds(
        self, command: cmd.ModifyOrder, decision: Decision, spendable: int
    ) -> None:
        (modified,) = decision.events
        assert isinstance(modified, ev.OrderModified)
        order = self.state.orders[command.order_id]
        valuation = self._valuation(
            modified.order_type, modified.price_paise, modified.trigger_paise, command.quote
        )
        remaining = modified.quantity - order.filled_quantity
        assert remaining > 0
        charges = self._estimated_charges(
            command.instrument, order.product, order.side, remaining * valuation
        )
        block = modified.margin_blocked_paise
        assert (
            0
            <= block
            <= self._margin_ceiling(
                command.instrument, order.product, order.side, remaining, valuation
            )
        )
        assert spendable >= block + charges, (spendable, block, charges)

    # ---------------------------------------------------------------------------------------
    # funds

    @initialize(
        amount=st.sampled_from([5_000_000, 50_000_000, 500_000_000, 5_000_000_000])
        | st.integers(min_value=1_000_000, max_value=5_000_000_000),
        holding_shares=st.integers(min_value=0, max_value=20),
    )
    def open_account(self, amount: int, holding_shares: int) -> None:
        """Deposit, and maybe carry delivery shares bought and settled on an earlier day."""
        decision = self._run(
            cmd.CreditFunds(now_ms=self.now_ms, amount_paise=amount, kind="DEPOSIT", reference="o")
        )
        assert decision.rejection is None
        if not holding_shares:
            return
        instrument = self.instruments[0]
        price = self.ltp[instrument.instrument_id]
        order_id = self._next_id("h")
        placed = self._run(
            cmd.PlaceOrder(
                now_ms=self.now_ms - DAY_MS,
                order_id=order_id,
                client_order_id=None,
                instrument=instrument,
                side=Side.BUY,
                product=Product.CNC,
                order_type=OrderType.LIMIT,
                validity=Validity.DAY,
                quantity=holding_shares,
                price_paise=price,
                trigger_paise=0,
                quote=self._quote(instrument),
            )
        )
        if placed.rejection is None:
            fill = cmd.FillOrder(
                now_ms=self.now_ms - DAY_MS,
                order_id=order_id,
                instrument=instrument,
                quantity=holding_shares,
                price_paise=price,
            )
            assert self._run(fill).rejection is None
            self._run(cmd.SettleHoldings(now_ms=self.now_ms - DAY_MS))
            assert self.state.holdings[instrument.instrument_id].quantity == holding_shares

    @rule(amount=st.integers(min_value=-10, max_value=200_000_000))
    def credit(self, amount: int) -> None:
        self._run(
            cmd.CreditFunds(now_ms=self.now_ms, amount_paise=amount, kind="DEPOSIT", reference="d")
        )

    def _amount(self, percent: int) -> int:
        """An amount as a percentage of what is available (≤ 0 and > 100 % on purpose)."""
        return max(self.state.available_paise, 10_000) * percent // 100

    @rule(percent=amounts)
    def debit(self, percent: int) -> None:
        self._run(
            cmd.DebitFunds(
                now_ms=self.now_ms,
                amount_paise=self._amount(percent),
                kind="WITHDRAWAL",
                reference="w",
            )
        )

    @rule(percent=amounts, deposit=st.booleans())
    def request_funds(self, percent: int, deposit: bool) -> None:
        """A deposit request (nothing moves) or a withdrawal request (its amount blocked)."""
        amount = self._amount(percent)
        request: cmd.AccountCommand = (
            cmd.RequestDeposit(
                now_ms=self.now_ms,
                deposit_id=self._next_id("d"),
                amount_paise=amount,
                bank_account_id=None,
                reference="",
            )
            if deposit
            else cmd.RequestWithdrawal(
                now_ms=self.now_ms,
                withdrawal_id=self._next_id("w"),
                amount_paise=amount,
                bank_account_id=None,
            )
        )
        self._run(request)

    @precondition(lambda self: bool(self.state.pending_deposits or self.state.pending_withdrawals))
    @rule(pick=picks, approve=st.booleans(), twice=st.sampled_from([False] * 4 + [True]))
    def decide_request(self, pick: int, approve: bool, twice: bool) -> None:
        """An admin decides a pending request, once; deciding it again is refused."""
        pending = [("d", i) for i in sorted(self.state.pending_deposits)] + [
            ("w", i) for i in sorted(self.state.pending_withdrawals)
        ]
        kind, request_id = pending[pick % len(pending)]
        decision: cmd.AccountCommand = (
            cmd.DecideDeposit(
                now_ms=self.now_ms,
                deposit_id=request_id,
                approve=approve,
                admin_user_id="admin",
                remarks="",
            )
            if kind == "d"
            else cmd.DecideWithdrawal(
                now_ms=self.now_ms,
                withdrawal_id=request_id,
                approve=approve,
                admin_user_id="admin",
                remarks="",
            )
        )
        assert self._run(decision).rejection is None
        if twice:
            assert self._run(decision).rejection is Rejection.DUPLICATE

    @rule(percent=amounts, reuse=st.sampled_from([False] * 9 + [True]))
    def block(self, percent: int, reuse: bool) -> None:
        existing = sorted(self.state.fund_blocks)
        block_id = existing[0] if reuse and existing else self._next_id("b")
        self._run(
            cmd.BlockFunds(
                now_ms=self.now_ms,
                block_id=block_id,
                amount_paise=self._amount(percent),
                kind="WITHDRAWAL",
            )
        )

    @precondition(lambda self: bool(self.state.fund_blocks))
    @rule(pick=picks)
    def release(self, pick: int) -> None:
        """Release a block; a pending withdrawal's is released only by its decision."""
        blocks = sorted(self.state.fund_blocks)
        block_id = blocks[pick % len(blocks)]
        decision = self._run(cmd.ReleaseFunds(now_ms=self.now_ms, block_id=block_id))
        owned = block_id in self.state.pending_withdrawals
        assert decision.rejection is (Rejection.BLOCK_OWNED_BY_WITHDRAWAL if owned else None)

    # ---------------------------------------------------------------------------------------
    # orders

    @rule(
        which=st.integers(min_value=0, max_value=len(TICKERS) - 1),
        side=st.sampled_from(Side),
        product_choice=st.integers(min_value=0, max_value=9),
        order_type=st.sampled_from(OrderType),
        lots=st.integers(min_value=1, max_value=8),
        price_ticks=ticks,
        trigger_ticks=ticks,
        with_quote=st.sampled_from([True, True, True, False]),
        reuse_client_id=st.sampled_from([False] * 9 + [True]),
        reuse_order_id=st.sampled_from([False] * 19 + [True]),
    )
    def place(
        self,
        which: int,
        side: Side,
        product_choice: int,
        order_type: OrderType,
        lots: int,
        price_ticks: int,
        trigger_ticks: int,
        with_quote: bool,
        reuse_client_id: bool,
        reuse_order_id: bool,
    ) -> None:
        instrument = self.instruments[which]
        # mostly a product the instrument allows, now and then the one it does not
        allowed = (
            (Product.MIS, Product.CNC) if instrument.is_equity else (Product.MIS, Product.NRML)
        )
        refused = Product.NRML if instrument.is_equity else Product.CNC
        product = refused if product_choice == 0 else allowed[product_choice % 2]
        price = self._price(instrument, price_ticks)
        trigger = self._price(instrument, trigger_ticks)
        prices = {
            OrderType.MARKET: (0, 0),
            OrderType.LIMIT: (price, 0),
            OrderType.SL: (price, trigger),
            OrderType.SL_M: (0, trigger),
        }[order_type]
        client_ids = sorted(self.state.client_order_ids)
        client_id = client_ids[0] if reuse_client_id and client_ids else self._next_id("c")
        multiplier = 5 if instrument.is_equity else 1
        working = sorted(self.state.orders)
        order_id = working[0] if reuse_order_id and working else self._next_id("o")
        decision = self._run(
            cmd.PlaceOrder(
                now_ms=self.now_ms,
                order_id=order_id,
                client_order_id=client_id,
                instrument=instrument,
                side=side,
                product=product,
                order_type=order_type,
                validity=Validity.DAY,
                quantity=lots * instrument.lot_size * multiplier,
                price_paise=prices[0],
                trigger_paise=prices[1],
                quote=self._quote(instrument) if with_quote else None,
                underlying_price_paise=self._underlying_paise(instrument),
            )
        )
        if order_id in working:
            assert decision.events == ()

    def _delivery_owned(self) -> dict[str, int]:
        """Shares each equity could be sold from: holdings plus today's CNC longs."""
        owned: dict[str, int] = {}
        for instrument_id, holding in self.state.holdings.items():
            owned[instrument_id] = holding.quantity
        for position in self.state.positions.values():
            if position.product is Product.CNC and position.quantity > 0:
                owned[position.instrument_id] = (
                    owned.get(position.instrument_id, 0) + position.quantity
                )
        return owned

    @precondition(lambda self: bool(self._delivery_owned()))
    @rule(
        pick=picks,
        share_pct=st.integers(min_value=1, max_value=100),
        order_type=st.sampled_from([OrderType.LIMIT, OrderType.MARKET]),
        price_ticks=ticks,
    )
    def sell_delivery(
        self, pick: int, share_pct: int, order_type: OrderType, price_ticks: int
    ) -> None:
        """Sell part of what the account owns for delivery (holdings and today's CNC buys)."""
        owned = sorted(self._delivery_owned().items())
        instrument_id, quantity = owned[pick % len(owned)]
        instrument = self.by_id[instrument_id]
        limit = order_type is OrderType.LIMIT
        self._run(
            cmd.PlaceOrder(
                now_ms=self.now_ms,
                order_id=self._next_id("s"),
                client_order_id=None,
                instrument=instrument,
                side=Side.SELL,
                product=Product.CNC,
                order_type=order_type,
                validity=Validity.DAY,
                quantity=max(1, quantity * share_pct // 100),
                price_paise=self._price(instrument, price_ticks) if limit else 0,
                trigger_paise=0,
                quote=self._quote(instrument),
            )
        )

    @precondition(_has_orders)
    @rule(
        pick=picks,
        lots=st.none() | st.integers(min_value=0, max_value=8),
        new_type=st.none() | st.sampled_from(OrderType),
        price_ticks=ticks,
        trigger_ticks=ticks,
    )
    def modify(
        self,
        pick: int,
        lots: int | None,
        new_type: OrderType | None,
        price_ticks: int,
        trigger_ticks: int,
    ) -> None:
        order = self._pick_order(pick)
        instrument = self.by_id[order.instrument_id]
        order_type = new_type or order.order_type
        price = self._price(instrument, price_ticks)
        trigger = self._price(instrument, trigger_ticks)
        uses_price = order_type in (OrderType.LIMIT, OrderType.SL)
        uses_trigger = order_type in (OrderType.SL, OrderType.SL_M)
        quantity = None
        if lots is not None:
            quantity = order.filled_quantity + lots * instrument.lot_size
        self._run(
            cmd.ModifyOrder(
                now_ms=self.now_ms,
                order_id=order.order_id,
                instrument=instrument,
                quote=self._quote(instrument),
                quantity=quantity,
                price_paise=price if uses_price else None,
                trigger_paise=trigger if uses_trigger else None,
                order_type=new_type,
                underlying_price_paise=self._underlying_paise(instrument),
            )
        )

    @precondition(_has_orders)
    @rule(pick=picks)
    def cancel(self, pick: int) -> None:
        order = self._pick_order(pick)
        decision = self._run(cmd.CancelOrder(now_ms=self.now_ms, order_id=order.order_id))
        assert decision.rejection is None

    @precondition(_has_orders)
    @rule(pick=picks)
    def trigger(self, pick: int) -> None:
        order = self._pick_order(pick)
        waiting = order.waits_for_trigger
        decision = self._run(
            cmd.TriggerOrder(
                now_ms=self.now_ms, order_id=order.order_id, order_version=order.version
            )
        )
        assert (decision.rejection is None) == waiting

    @precondition(_has_orders)
    @rule(
        pick=picks,
        lots=st.integers(min_value=1, max_value=40),
        price_ticks=st.integers(min_value=-10, max_value=10),
    )
    def fill(self, pick: int, lots: int, price_ticks: int) -> None:
        order = self._pick_order(pick)
        instrument = self.by_id[order.instrument_id]
        if order.waits_for_trigger:
            # the market crosses the trigger first (the trigger rule also does this alone)
            self._trigger(order)
        remaining_lots = order.remaining_quantity // instrument.lot_size
        self._market_fill(order, min(lots, remaining_lots) * instrument.lot_size, price_ticks)

    @precondition(_has_orders)
    @rule(pick=picks, price_ticks=st.integers(min_value=-10, max_value=10))
    def fill_rest(self, pick: int, price_ticks: int) -> None:
        """Fill whatever is left of an order (triggering a stop order first)."""
        order = self._pick_order(pick)
        if order.waits_for_trigger:
            self._trigger(order)
        self._market_fill(order, order.remaining_quantity, price_ticks)

    def _trigger(self, order: Order) -> None:
        trigger = cmd.TriggerOrder(
            now_ms=self.now_ms, order_id=order.order_id, order_version=order.version
        )
        assert self._run(trigger).rejection is None

    def _market_fill(self, order: Order, quantity: int, price_ticks: int) -> None:
        """Fill ``order`` as the market would for its current version (from the queue when
        it executes at market, else from its limit book), at a random price: a price through
        its limit is refused and changes nothing."""
        instrument = self.by_id[order.instrument_id]
        price = self._price(instrument, price_ticks)
        at_market = not order.rests_at_limit
        through_limit = not at_market and (
            price > order.price_paise if order.side is Side.BUY else price < order.price_paise
        )
        fingerprint = state_fingerprint(self.state)
        decision = self._run(
            cmd.FillOrder(
                now_ms=self.now_ms,
                order_id=order.order_id,
                instrument=instrument,
                quantity=quantity,
                price_paise=price,
                order_version=order.version,
                at_market=at_market,
                underlying_price_paise=self._underlying_paise(instrument),
            )
        )
        if through_limit:
            assert decision.rejection is Rejection.OUTSIDE_ORDER_TERMS
            assert state_fingerprint(self.state) == fingerprint

    @precondition(_has_orders)
    @rule(pick=picks, stale=st.booleans(), price_ticks=st.integers(min_value=-10, max_value=10))
    def fill_outside_terms(self, pick: int, stale: bool, price_ticks: int) -> None:
        """A fill for an older version of an order, or of the wrong kind (at market for an
        order resting at its limit, or the reverse), is refused and changes nothing."""
        order = self._pick_order(pick)
        if order.waits_for_trigger:
            self._trigger(order)
        instrument = self.by_id[order.instrument_id]
        fingerprint = state_fingerprint(self.state)
        decision = self._run(
            cmd.FillOrder(
                now_ms=self.now_ms,
                order_id=order.order_id,
                instrument=instrument,
                quantity=order.remaining_quantity,
                price_paise=self._price(instrument, price_ticks),
                order_version=order.version - 1 if stale else order.version,
                at_market=order.rests_at_limit if not stale else not order.rests_at_limit,
            )
        )
        expected = Rejection.STALE_EXECUTION if stale else Rejection.OUTSIDE_ORDER_TERMS
        assert decision.rejection is expected
        assert state_fingerprint(self.state) == fingerprint

    # ---------------------------------------------------------------------------------------
    # positions

    def _pick_position(self, pick: int) -> str:
        ids = sorted(self.state.positions)
        return ids[pick % len(ids)]

    @precondition(_has_positions)
    @rule(
        pick=picks,
        price_ticks=st.integers(min_value=-10, max_value=10),
        level=st.sampled_from(["manual", "stop", "target", "stale"]),
        reuse_order_id=st.sampled_from([False] * 19 + [True]),
    )
    def close_position(self, pick: int, price_ticks: int, level: str, reuse_order_id: bool) -> None:
        position_id = self._pick_position(pick)
        position = self.state.positions[position_id]
        instrument = self.by_id[position.instrument_id]
        price = self._price(instrument, price_ticks)
        trigger_level = {
            "manual": None,
            "stop": position.stop_loss_paise,
            "target": position.target_paise,
            "stale": price + 1,
        }[level]
        working = sorted(self.state.orders)
        exit_order_id = working[0] if reuse_order_id and working else self._next_id("x")
        decision = self._run(
            cmd.ClosePosition(
                now_ms=self.now_ms,
                position_id=position_id,
                exit_order_id=exit_order_id,
                instrument=instrument,
                price_paise=price,
                reason="USER" if trigger_level is None else "STOP_LOSS",
                trigger_level_paise=trigger_level,
            )
        )
        if exit_order_id in working:
            assert decision.events == ()

    @precondition(_has_positions)
    @rule(
        pick=picks,
        stop_ticks=st.none() | st.integers(min_value=-50, max_value=-1),
        target_ticks=st.none() | st.integers(min_value=1, max_value=50),
        off_tick=st.sampled_from([False, False, False, True]),
    )
    def set_risk(
        self, pick: int, stop_ticks: int | None, target_ticks: int | None, off_tick: bool
    ) -> None:
        position_id = self._pick_position(pick)
        instrument = self.by_id[self.state.positions[position_id].instrument_id]
        stop = None if stop_ticks is None else self._price(instrument, stop_ticks)
        target = None if target_ticks is None else self._price(instrument, target_ticks)
        if off_tick and stop is not None:
            stop += 1
        decision = self._run(
            cmd.SetRiskLevels(
                now_ms=self.now_ms,
                position_id=position_id,
                tick_paise=instrument.tick_paise,
                stop_loss_paise=stop,
                target_paise=target,
            )
        )
        assert (decision.rejection is not None) == (off_tick and stop is not None)

    @rule(kind=st.sampled_from(["modify", "cancel", "trigger", "fill", "close", "risk"]))
    def unknown_target(self, kind: str) -> None:
        """Commands naming an order or position that does not exist are refused."""
        instrument = self.instruments[0]
        price = instrument.reference_price_paise
        commands: dict[str, cmd.AccountCommand] = {
            "modify": cmd.ModifyOrder(
                now_ms=self.now_ms, order_id="ghost", instrument=instrument, quote=None
            ),
            "cancel": cmd.CancelOrder(now_ms=self.now_ms, order_id="ghost"),
            "trigger": cmd.TriggerOrder(now_ms=self.now_ms, order_id="ghost"),
            "fill": cmd.FillOrder(
                now_ms=self.now_ms,
                order_id="ghost",
                instrument=instrument,
                quantity=1,
                price_paise=price,
            ),
            "close": cmd.ClosePosition(
                now_ms=self.now_ms,
                position_id="ghost",
                exit_order_id=self._next_id("x"),
                instrument=instrument,
                price_paise=price,
            ),
            "risk": cmd.SetRiskLevels(
                now_ms=self.now_ms,
                position_id="ghost",
                tick_paise=instrument.tick_paise,
                stop_loss_paise=price,
                target_paise=None,
            ),
        }
        command = commands[kind]
        decision = self._run(command)
        assert decision.events == ()
        assert decision.rejection is not None

    @rule()
    def settle(self) -> None:
        """Settlement may also run mid-session (the shell decides when)."""
        self._run(cmd.SettleHoldings(now_ms=self.now_ms))

    # ---------------------------------------------------------------------------------------
    # market and clock

    @rule(
        which=st.integers(min_value=0, max_value=len(TICKERS) - 1),
        move_ticks=st.integers(min_value=-2_000, max_value=2_000),
    )
    def move_price(self, which: int, move_ticks: int) -> None:
        instrument = self.instruments[which]
        tick = instrument.tick_paise
        low, high = circuit_band(self.config.circuits, instrument, instrument.reference_price_paise)
        high = min(high, 4 * instrument.reference_price_paise)
        ltp = self.ltp[instrument.instrument_id] + move_ticks * tick
        self.ltp[instrument.instrument_id] = min(max(ltp, low + 40 * tick), high - 40 * tick)

    @rule()
    def next_day(self) -> None:
        """The session ends: CNC longs settle into holdings and the clock moves a day on."""
        self._run(cmd.SettleHoldings(now_ms=self.now_ms))
        assert not any(p.product is Product.CNC for p in self.state.positions.values())
        self.now_ms += DAY_MS

    # ---------------------------------------------------------------------------------------
    # invariants

    @invariant()
    def funds_identity(self) -> None:
        state = self.state
        assert funds_identity_holds(state), state
        assert state.blocked_paise == blocked_from_parts(state)
        assert state.balance_paise == (
            state.deposits_paise
            - state.withdrawals_paise
            + state.realized_pnl_paise
            - state.charges_paise
        )
        assert state.available_paise == state.balance_paise - state.blocked_paise

    @invariant()
    def journal_replays_to_same_state(self) -> None:
        replayed = apply_all(
            AccountState(ACCOUNT_ID), (ev.decode_event(payload) for payload in self.journal)
        )
        assert replayed == self.state
        assert state_fingerprint(replayed) == state_fingerprint(self.state)

    @invariant()
    def realized_pnl_is_conserved(self) -> None:
        """Cash paid and received for fills, plus the cost still open, is the realized P&L."""
        cash_flow = 0
        for payload in self.journal:
            event = ev.decode_event(payload)
            if isinstance(event, ev.OrderFilled):
                cash_flow -= event.side.sign * event.quantity * event.price_paise
        open_cost = sum(p.cost_paise for p in self.state.positions.values()) + sum(
            h.cost_paise for h in self.state.holdings.values()
        )
        assert cash_flow + open_cost == self.state.realized_pnl_paise

    @invariant()
    def structure_is_sane(self) -> None:
        state = self.state
        assert state.seq == len(self.journal)
        for order in state.orders.values():
            assert order.status is OrderStatus.PENDING
            assert 0 <= order.filled_quantity < order.quantity
            assert order.margin_blocked_paise >= 0
        for position_id, position in state.positions.items():
            assert position.position_id == position_id
            assert position.quantity != 0
            assert position.margin_paise >= 0
            assert position.product is not Product.CNC or position.quantity > 0
            key = f"{position.product.value}:{position.instrument_id}"
            assert state.position_ids[key] == position_id
        assert len(state.position_ids) == len(state.positions)
        for holding in state.holdings.values():
            assert holding.quantity > 0
            assert holding.cost_paise >= 0
        assert all(amount > 0 for amount in state.fund_blocks.values())


EVENT_TYPES = {
    "OrderAccepted",
    "OrderRejected",
    "OrderModified",
    "OrderTriggered",
    "OrderCancelled",
    "OrderFilled",
    "PositionRiskSet",
    "FundsCredited",
    "FundsDebited",
    "FundsBlocked",
    "FundsReleased",
    "HoldingsSettled",
    "DepositRequested",
    "DepositDecided",
    "WithdrawalRequested",
    "WithdrawalDecided",
}


def test_account_machine_when_random_commands_then_invariants_hold(
    rules: AccountRules, config: Config, master: InstrumentMaster
) -> None:
    instruments = [instrument for ticker in TICKERS if (instrument := master.get(ticker))]
    assert len(instruments) == len(TICKERS)
    seen: Counter[str] = Counter()

    # Hypothesis accepts any factory here, though its annotation names the class type.
    run_state_machine_as_test(
        lambda: AccountMachine(rules, config, instruments, seen),  # type: ignore[arg-type]
        settings=MACHINE_SETTINGS,
    )

    assert set(seen) >= EVENT_TYPES, EVENT_TYPES - set(seen)
    assert seen["OrderAccepted"] > 100
    assert seen["OrderFilled"] > 50
    assert seen["rejected:INSUFFICIENT_FUNDS"] > 0
    assert seen["rejected:ORDER_NOT_OPEN"] > 0


def test_event_types_when_listed_then_match_the_account_event_union() -> None:
    assert {cls.__name__ for cls in ev.AccountEvent.__args__} == EVENT_TYPES
