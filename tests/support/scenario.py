"""A scripted account session that produces every account event type, through the real
``engine.domain.account`` ``decide`` and ``apply``, as the event batches an account actor
would submit; its futures' and options' commands stamped with their underlying's market as the
actor would (``tests.support.margin_markets``)."""

from __future__ import annotations

import typing
from dataclasses import replace

from engine.actors.sink import EventBatch
from engine.config import Config
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide
from engine.domain.account.state import AccountState, funds_identity_holds
from engine.domain.enums import FundKind, OrderType, PriceSource, Product, Rejection, Side
from engine.domain.gtt import GttLeg, GttStatus, GttType
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.portfolio import position_legs
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, fill, make_quote, place
from tests.integration.conftest import fetch
from tests.support.margin_markets import market_of, stamped
from tests.support.stock_fno import reliance_future

# Every event the session journals: all there are but a reset's (its own tests cover those),
# and ExpiryMarginBlocked, which only journals written before portfolio margin hold (the
# expiry-day extra ELM is now part of a portfolio's revaluation, PortfolioMarginRevalued).
ALL_EVENT_TYPES = {cls.__name__ for cls in typing.get_args(ev.AccountEvent)} - {
    "WithdrawalCancelled",
    "AccountReset",
    "ExpiryMarginBlocked",
}
# Who decides the session's requests: a user row the database must hold (``add_decider``).
DECIDER = "scenario-admin"


def add_decider(dsn: str) -> None:
    """Create the user the session's decisions name (decided_by references users)."""
    fetch(
        dsn,
        "INSERT INTO users (id, email, name, password_hash, role)"
        " VALUES ($1, 'decider@paperdesk.test', 'Decider', 'x', 'ADMIN')"
        " ON CONFLICT DO NOTHING",
        DECIDER,
    )


class Session:
    """Runs commands on one account and records each decision's events as a batch."""

    def __init__(self, account_id: str, config: Config, rules: AccountRules) -> None:
        self.state = AccountState(account_id)
        self.config = config
        self.rules = rules
        self.batches: list[EventBatch] = []
        self.now_ms = NOW_MS
        self.known: list[Instrument] = []  # contracts the sample master does not list

    def run(self, command: cmd.AccountCommand) -> tuple[ev.AccountEvent, ...]:
        command = stamped(self.state, command, self.rules, known=self.known)
        decision = decide(self.state, command, self.rules)
        if decision.events:
            first_seq = self.state.seq + 1
            apply_all(self.state, decision.events)
            assert funds_identity_holds(self.state)
            self.batches.append(EventBatch(self.state.account_id, first_seq, decision.events))
        return decision.events

    def tick(self) -> int:
        self.now_ms += 1_000
        return self.now_ms

    def place(self, instrument: Instrument, order_id: str, ltp_paise: int, **terms: object) -> None:
        quote = make_quote(self.config, instrument, ltp_paise)
        self.run(place(instrument, order_id=order_id, quote=quote, now_ms=self.tick(), **terms))  # type: ignore[arg-type]

    def fill(self, instrument: Instrument, order_id: str, quantity: int, price_paise: int) -> None:
        """Fill as the market would: for the order's current version, from its limit book or
        (an order that does not rest at a limit) from the market queue."""
        order = self.state.orders[order_id]
        events = self.run(
            fill(
                instrument,
                order_id,
                quantity,
                price_paise,
                now_ms=self.tick(),
                order_version=order.version,
                at_market=not order.rests_at_limit,
            )
        )
        assert events and isinstance(events[0], ev.OrderFilled), events


def every_event_session(
    account_id: str, config: Config, rules: AccountRules, master: InstrumentMaster
) -> Session:
    """Deposit, trade, modify, trigger, cancel, reject, close, revalue a portfolio on an expiry
    day, settle a future, call margin and meet the call, expire (in cash and by delivery),
    settle, block and withdraw.

    GTTs: placed, modified, fired (its order accepted; another's refused), deleted, expired
    and disabled.

    Ends with a working LIMIT order, an open MIS position with a stop-loss and part of it
    converted to CNC, CNC holdings with
    a DP charge booked, one fund block still held and an active two-leg GTT, so every
    projection has live rows.
    """
    reliance = master.get("NSE:RELIANCE")
    tcs = master.get("NSE:TCS")
    infy = master.get("NSE:INFY")
    assert reliance is not None and tcs is not None and infy is not None
    s = Session(account_id, config, rules)
    s.run(cmd.CreditFunds(now_ms=s.tick(), amount_paise=50_000_000, kind="DEPOSIT", reference="d1"))
    # A LIMIT buy, modified, filled in two parts: FundsCredited, Accepted, Modified, Filled×2.
    s.place(reliance, "buy-1", 154_280, quantity=10, price_paise=154_000, client_order_id="c-1")
    s.run(
        cmd.ModifyOrder(
            now_ms=s.tick(),
            order_id="buy-1",
            instrument=reliance,
            quote=make_quote(config, reliance, 154_280),
            price_paise=154_200,
        )
    )
    s.fill(reliance, "buy-1", 4, 154_200)
    s.fill(reliance, "buy-1", 6, 154_100)
    position_id = s.state.position_ids["MIS:" + reliance.instrument_id]
    s.run(
        cmd.SetRiskLevels(
            now_ms=s.tick(),
            position_id=position_id,
            tick_paise=reliance.tick_paise,
            stop_loss_paise=150_000,
            target_paise=160_000,
        )
    )
    # Close it at a profit through a MARKET exit order.
    s.run(
        cmd.ClosePosition(
            now_ms=s.tick(),
            position_id=position_id,
            exit_order_id="exit-1",
            instrument=reliance,
            price_paise=155_000,
        )
    )
    assert not s.state.positions
    # Options held to their expiry and settled there: one in the money (STT on exercise, no
    # trade charges), one worthless.
    for strike, settlement in ((26_000, 15_000), (26_500, 0)):
        call = master.get(f"NFO:NIFTY26DEC{strike}CE")
        assert call is not None
        order_id = f"opt-{strike}"
        s.place(call, order_id, 20_000, product=Product.NRML, quantity=65, price_paise=20_000)
        s.fill(call, order_id, 65, 20_000)
        (held,) = s.state.positions
        s.run(
            cmd.ExpirePosition(
                held,
                settlement,
                now_ms=s.tick(),
                exit_order_id=f"expiry-{strike}",
                instrument=call,
            )
        )
    assert not s.state.positions
    # A short index option held into its expiry day (its expiry moved to the scenario's next
    # day): the day's start revalues its portfolio, which adds the extra ELM on it, then it
    # expires worthless.
    put = master.get("NFO:NIFTY26DEC25500PE")
    assert put is not None
    s.place(
        put,
        "short-put",
        15_725,
        side=Side.SELL,
        product=Product.NRML,
        quantity=65,
        price_paise=15_725,
    )
    s.fill(put, "short-put", 65, 15_725)
    s.now_ms += DAY_MS
    expiring = replace(put, expiry=rules.trade_date(s.now_ms))
    before = s.state.portfolio_margin["NIFTY"]
    now_ms = s.tick()
    market = market_of(rules, (expiring,), now_ms=now_ms)
    (revalued,) = s.run(cmd.RevalueMargin(now_ms=now_ms, markets=(market,)))
    assert isinstance(revalued, ev.PortfolioMarginRevalued)
    assert s.state.portfolio_margin["NIFTY"] > before
    # Its extra ELM: 2 % of 65 × ₹26,138.60 (the sample December future) = ₹33,980.18.
    legs = tuple(position_legs(s.state.positions.values(), market).values())
    margin = rules.portfolio.margin(legs, market, rules.trade_date(now_ms))
    assert margin.additional_paise == 3_398_018
    (short_put,) = s.state.positions
    s.run(
        cmd.ExpirePosition(
            short_put, 0, now_ms=s.tick(), exit_order_id="expiry-put", instrument=expiring
        )
    )
    assert not s.state.positions
    # A short stock future held to its expiry settles by delivery; with no RELIANCE held, the
    # 500 shares owed are closed out with the penalty (SharesDelivered).
    future = reliance_future()
    s.known.append(future)
    s.place(
        future,
        "fut-1",
        155_000,
        side=Side.SELL,
        product=Product.NRML,
        quantity=500,
        price_paise=155_000,
    )
    s.fill(future, "fut-1", 500, 155_000)
    (held,) = s.state.positions
    # Held into the next day: settled at the day before's close of ₹1,545 (₹2,500 gained,
    # FuturesSettled), its expiry's settlement price below. With all its cash blocked by an
    # admin, a ₹7,500 loss at ₹1,560 calls margin at the next revaluation (MarginCalled, above
    # the liquidation level); the block released, the next one meets the call (MarginCallMet).
    s.now_ms += DAY_MS
    (settled,) = s.run(cmd.SettleFutures(now_ms=s.tick(), closes=((held, 154_500),)))
    assert isinstance(settled, ev.FuturesSettled)
    s.run(
        cmd.BlockFunds(
            now_ms=s.tick(),
            block_id="blk-call",
            amount_paise=s.state.available_paise,
            kind=FundKind.ADMIN,
        )
    )
    mark = cmd.PositionMark(held, future, 156_000, 156_000, PriceSource.LIVE)
    for step in ("called", "met"):
        now_ms = s.tick()
        revalue = cmd.RevalueMargin(
            now_ms=now_ms, markets=(market_of(rules, (future,), now_ms=now_ms),), marks=(mark,)
        )
        outcome = s.run(revalue)
        expected = ev.MarginCalled if step == "called" else ev.MarginCallMet
        assert isinstance(outcome[-1], expected), outcome
        if step == "called":
            s.run(cmd.ReleaseFunds(now_ms=s.tick(), block_id="blk-call"))
    s.run(
        cmd.ExpirePosition(
            held,
            154_500,
            now_ms=s.tick(),
            exit_order_id="expiry-fut",
            instrument=future,
            deliverable=reliance,
        )
    )
    assert not s.state.positions and not s.state.holdings
    # Rejected: far more than the funds cover.
    s.place(reliance, "big-1", 154_280, quantity=5_000, price_paise=154_000)
    # SL-M short sell: triggered, then cancelled.
    s.place(
        infy,
        "slm-1",
        154_830,
        side=Side.SELL,
        order_type=OrderType.SL_M,
        quantity=5,
        trigger_paise=150_000,
    )
    s.run(cmd.TriggerOrder(now_ms=s.tick(), order_id="slm-1"))
    s.run(cmd.CancelOrder(now_ms=s.tick(), order_id="slm-1"))
    # CNC: buy, settle to holdings, sell part from holdings (DP charge).
    s.place(tcs, "cnc-1", 314_850, product=Product.CNC, quantity=5, price_paise=314_800)
    s.fill(tcs, "cnc-1", 5, 314_800)
    s.run(cmd.SettleHoldings(now_ms=s.tick()))
    s.place(
        tcs,
        "cnc-2",
        314_850,
        product=Product.CNC,
        side=Side.SELL,
        quantity=2,
        price_paise=315_000,
    )
    s.fill(tcs, "cnc-2", 2, 315_000)
    # Funds: block and release; a keyed adjustment; requests and their decisions.
    s.run(cmd.BlockFunds(now_ms=s.tick(), block_id="blk-1", amount_paise=100_000, kind="ADMIN"))
    s.run(cmd.ReleaseFunds(now_ms=s.tick(), block_id="blk-1"))
    s.run(
        cmd.CreditFunds(
            now_ms=s.tick(),
            amount_paise=30_000,
            kind="ADJUSTMENT",
            reference="key-1",
            operation_key="key-1",
            operator_id=DECIDER,
        )
    )
    s.run(
        cmd.DebitFunds(now_ms=s.tick(), amount_paise=10_000, kind="ADJUSTMENT", reference="plain")
    )
    for n, approve in enumerate((True, False)):
        s.run(
            cmd.RequestDeposit(
                now_ms=s.tick(),
                deposit_id=f"dep-{n}",
                amount_paise=40_000,
                bank_account_id=None,
                reference=f"utr-{n}",
            )
        )
        s.run(
            cmd.DecideDeposit(
                now_ms=s.tick(),
                deposit_id=f"dep-{n}",
                approve=approve,
                admin_user_id=DECIDER,
                remarks="checked",
            )
        )
        s.run(
            cmd.RequestWithdrawal(
                now_ms=s.tick(),
                withdrawal_id=f"wd-{n}",
                amount_paise=250_000,
                bank_account_id=None,
            )
        )
        s.run(
            cmd.DecideWithdrawal(
                now_ms=s.tick(),
                withdrawal_id=f"wd-{n}",
                approve=approve,
                admin_user_id=DECIDER,
                remarks="",
            )
        )
    # Still pending at the end: one deposit and one withdrawal.
    s.run(
        cmd.RequestDeposit(
            now_ms=s.tick(),
            deposit_id="dep-open",
            amount_paise=5_000,
            bank_account_id=None,
            reference="",
        )
    )
    s.run(
        cmd.RequestWithdrawal(
            now_ms=s.tick(), withdrawal_id="wd-open", amount_paise=6_000, bank_account_id=None
        )
    )
    s.run(cmd.BlockFunds(now_ms=s.tick(), block_id="blk-2", amount_paise=70_000, kind="ADMIN"))
    gtt_session(s, reliance, tcs, infy)
    # Live rows at the end: a working order and an open position with a stop-loss.
    s.place(reliance, "rest-1", 154_280, quantity=3, price_paise=150_000, client_order_id="c-2")
    s.place(infy, "buy-2", 154_830, quantity=7, price_paise=154_800)
    s.fill(infy, "buy-2", 7, 154_800)
    infy_position = s.state.position_ids["MIS:" + infy.instrument_id]
    s.run(
        cmd.SetRiskLevels(
            now_ms=s.tick(),
            position_id=infy_position,
            tick_paise=infy.tick_paise,
            stop_loss_paise=150_000,
            target_paise=None,
        )
    )
    # Part of it converted for delivery: two live positions, MIS and CNC.
    s.run(
        cmd.ConvertPosition(
            now_ms=s.tick(),
            position_id=infy_position,
            product=Product.CNC,
            quantity=3,
            instrument=infy,
        )
    )
    seen = {type(e).__name__ for b in s.batches for e in b.events}
    assert seen == ALL_EVENT_TYPES, ALL_EVENT_TYPES - seen
    return s


def _gtt(
    s: Session,
    instrument: Instrument,
    gtt_id: str,
    ltp_paise: int,
    *legs: GttLeg,
) -> None:
    kind = GttType.TWO_LEG if len(legs) == 2 else GttType.SINGLE
    placed = s.run(
        cmd.PlaceGtt(
            gtt_id=gtt_id,
            instrument=instrument,
            gtt_type=kind,
            legs=legs,
            now_ms=s.tick(),
            ltp_paise=ltp_paise,
        )
    )
    assert placed and isinstance(placed[0], ev.GttPlaced), placed


def _fire(s: Session, instrument: Instrument, gtt_id: str, leg: int, ltp_paise: int) -> None:
    gtt = s.state.gtts[gtt_id]
    fired = s.run(
        cmd.TriggerGtt(
            gtt_id=gtt_id,
            leg=leg,
            ltp_paise=ltp_paise,
            gtt_version=gtt.version,
            now_ms=s.tick(),
            order_id=f"{gtt_id}-order",
            instrument=instrument,
            quote=make_quote(s.config, instrument, ltp_paise),
        )
    )
    assert fired and isinstance(fired[0], ev.GttTriggered), fired


def gtt_session(s: Session, reliance: Instrument, tcs: Instrument, infy: Instrument) -> None:
    """Every GTT event: a single GTT placed, modified and fired, its order accepted (then
    cancelled); a two-leg one fired into a refusal (more shares than held: REJECTED); one
    deleted, one expired at its expiry, one disabled; a two-leg one left active."""
    limit = OrderType.LIMIT
    buy = GttLeg(150_000, Side.BUY, 1, limit, 150_000, Product.CNC)
    _gtt(s, reliance, "gtt-1", 154_280, buy)
    s.run(
        cmd.ModifyGtt(
            gtt_id="gtt-1",
            gtt_type=GttType.SINGLE,
            legs=(GttLeg(151_000, Side.BUY, 2, limit, 151_000, Product.CNC),),
            now_ms=s.tick(),
            instrument=reliance,
            ltp_paise=154_280,
        )
    )
    _fire(s, reliance, "gtt-1", 0, 151_000)
    assert "gtt-1-order" in s.state.orders
    s.run(cmd.CancelOrder(now_ms=s.tick(), order_id="gtt-1-order"))
    oco = (
        GttLeg(300_000, Side.SELL, 1_000, limit, 300_000, Product.CNC),
        GttLeg(330_000, Side.SELL, 1_000, limit, 330_000, Product.CNC),
    )
    _gtt(s, tcs, "gtt-2", 314_850, *oco)
    _fire(s, tcs, "gtt-2", 0, 300_000)
    refused = s.batches[-1].events[-1]
    assert isinstance(refused, ev.OrderRejected), refused
    assert refused.reason is Rejection.INSUFFICIENT_HOLDINGS
    _gtt(s, reliance, "gtt-3", 154_280, buy)
    s.run(cmd.DeleteGtt(now_ms=s.tick(), gtt_id="gtt-3"))
    for gtt_id, status in (("gtt-4", GttStatus.EXPIRED), ("gtt-5", GttStatus.DISABLED)):
        _gtt(s, reliance, gtt_id, 154_280, buy)
        # the market reports an expiry at the GTT's expiry instant (a year on); a contract's
        # expiry disables one any time
        at_ms = s.state.gtts[gtt_id].expires_ms if status is GttStatus.EXPIRED else s.tick()
        ended = s.run(cmd.EndGtt(now_ms=at_ms, gtt_id=gtt_id, status=status.value, gtt_version=0))
        assert ended and isinstance(ended[0], ev.GttExpired), ended
    protect = (
        GttLeg(150_000, Side.SELL, 7, limit, 150_000, Product.CNC),
        GttLeg(160_000, Side.SELL, 7, limit, 160_000, Product.CNC),
    )
    _gtt(s, infy, "gtt-live", 154_830, *protect)
