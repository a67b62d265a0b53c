"""Wire the engine together: worker pool, market actor, account registry and the ticker.

``TradingEngine`` is what the gateway, the benchmarks and the actor tests drive. Requests are
non-blocking: each takes a ``reply`` callable that the account actor (or, in commit mode, the
persistence actor) calls with the :class:`~engine.actors.account_actor.Outcome`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pykka

from engine.actors.account_actor import (
    AccountBehaviour,
    AccountContext,
    ExpiryEvent,
    Inspect,
    Outcome,
    PreviewBasket,
    PreviewOrder,
    Publisher,
    RevalueMargins,
    SessionEvent,
    Submit,
)
from engine.actors.actor_pool import WorkerPool, actor_class_for
from engine.actors.book_ops import resume_ops
from engine.actors.clock import Clock, SystemClock
from engine.actors.ids import random_id
from engine.actors.locator import AccountLocator
from engine.actors.margin_watch import MarginWatch
from engine.actors.market_actor import MarketBehaviour, TickListener
from engine.actors.refusals import RefusedExecutions
from engine.actors.registry import AccountRegistry
from engine.actors.sink import EventSink, InMemorySink
from engine.config import Config, account_rules
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.sessions import CATCH_UP_DAYS, MS_PER_DAY, Boundary, SessionGroup
from engine.market import black76, kernels
from engine.market.depth import MarketDepth
from engine.market.in_use import InUseInstruments
from engine.market.live_path import LivePath
from engine.market.market_data import MarketData, QuoteSource, settlement_value
from engine.market.messages import BookOps, Sync, Tick
from engine.market.risk import RiskBook
from engine.market.simulated_market import SimulatedMarket
from engine.market.tick_path import TickPath
from engine.market.universe import ContractLister
from engine.risk import scenarios

logger = logging.getLogger(__name__)

PASSIVATION_SCAN_INTERVAL_S = 5.0
END_OF_TIME = 2**62  # epoch milliseconds beyond any contract's expiry
MARKET_BATCH_MAX = 4096

ListingListener = Callable[[Sequence[Instrument]], None]


def _publish_nothing(*_: Any) -> None:
    return None


class TradingEngine:
    """The in-memory matching and risk engine, ready to start and stop."""

    def __init__(
        self,
        config: Config,
        master: InstrumentMaster,
        *,
        sink: EventSink | None = None,
        clock: Clock | None = None,
        source: QuoteSource | None = None,
        publish: Publisher | None = None,
        runtime: str | None = None,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        # Its own copy: the simulated exchange lists new contracts into it, and the caller's
        # master (a test's, shared by many engines) stays as it was given.
        self.master = master = InstrumentMaster(master)
        self.sink: EventSink = sink if sink is not None else InMemorySink()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.runtime = runtime or config.accounts.runtime
        self.rules = account_rules(config)
        self.calendar = self.rules.calendar
        self.source: QuoteSource = source or SimulatedMarket(
            config.market.seed, master, config.market, self.calendar
        )
        # The simulation prices every tick itself; a feed's prices converge on its quotes,
        # options moving with their underlying between polls.
        self.path: TickPath = (
            self.source
            if isinstance(self.source, SimulatedMarket)
            else LivePath(master, config.market, self.calendar)
        )
        self.publish: Publisher = publish or _publish_nothing
        self.new_id: Callable[[], str] = new_id or random_id
        self.market = MarketData(
            master,
            config.market,
            config.circuits,
            config.execution.slippage_cap_ticks,
            self.calendar,
        )
        self.tick_listeners: list[TickListener] = [
            MarginWatch(self.rules.risk, self.revalue_margins)
        ]
        # The simulated exchange lists each trade day's contracts itself (engine.market.universe);
        # listeners hear of each listing (the gateway stores the new contracts).
        self.simulated = self.source if isinstance(self.source, SimulatedMarket) else None
        self.lister = (
            ContractLister(config.market, self.calendar)
            if self.simulated is not None and config.market.universe.generate
            else None
        )
        self.listing_listeners: list[ListingListener] = []
        self.in_use = InUseInstruments()
        self.locator = AccountLocator()
        self.risk = RiskBook()  # the market actor marks it; ``risk.latest`` is safe to read
        # The displayed book every order takes from; the market actor takes, anyone reads.
        self.depth = MarketDepth(self.market, config.market.depth, config.market.seed)
        self.refused_executions = RefusedExecutions()
        if self.runtime == "serial":
            # Every actor, the market's too, on one worker thread in the order messages arrive:
            # with a fake clock, seeded ids and the market's seed a run replays exactly.
            self.pool = WorkerPool(1, config.accounts.pool_batch_max, name="serial")
            self.market_pool = self.pool
        else:
            self.pool = WorkerPool(config.accounts.pool_workers, config.accounts.pool_batch_max)
            self.market_pool = WorkerPool(1, MARKET_BATCH_MAX, name="market")
        self.market_ref: pykka.ActorRef[Any] | None = None
        self.registry: AccountRegistry | None = None
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()

    @property
    def ticks_total(self) -> int:
        """Ticks published since start (each tick numbers its snapshot)."""
        return self.market.snapshot.seq

    # -- life cycle -------------------------------------------------------------------------

    def start(self, *, ticking: bool = True) -> None:
        """Compile kernels, start the pool, the market actor and (optionally) the ticker."""
        kernels.warm_up()
        black76.warm_up()
        scenarios.warm_up()
        self.pool.start()
        if self.market_pool is not self.pool:
            self.market_pool.start()
        account_runtime = "pooled" if self.runtime == "serial" else self.runtime
        actor_class = actor_class_for(AccountBehaviour, account_runtime, self.pool)
        accounts = self.config.accounts
        self.registry = AccountRegistry(actor_class, accounts.passivate_after_s, accounts.inbox_max)
        market_class = actor_class_for(MarketBehaviour, "pooled", self.market_pool)
        self.market_ref = market_class.start(
            data=self.market,
            config=self.config.market,
            protection=self.config.execution.market_protection,
            depth=self.depth,
            source=self.source,
            path=self.path,
            clock=self.clock,
            dispatch=self._dispatch,
            listeners=self.tick_listeners,
            in_use=self.in_use,
            risk=self.risk,
            sessions=self.rules.sessions,
            on_session=self._on_session,
            expiries=self.calendar.expiries_crossed(self.master, self.clock.now_ms(), END_OF_TIME),
            on_expiry=self._on_expiry,
            trade_day=self.rules.trade_day,
            on_day_start=self._on_day_start,
        )
        self.registry.bind(
            AccountContext(
                rules=self.rules,
                master=self.master,
                market=self.market,
                market_ref=self.market_ref,
                sink=self.sink,
                clock=self.clock,
                market_fill_delay_ms=self.config.execution.market_fill_delay_ms,
                publish=self.publish,
                locator=self.locator,
                new_id=self.new_id,
                retire_if_idle=self.registry.retire_if_idle,
                refused_executions=self.refused_executions,
            )
        )
        self.tick()
        if ticking:
            self._ticker_stop.clear()
            self._ticker = threading.Thread(
                target=self._tick_loop, name="market-ticker", daemon=True
            )
            self._ticker.start()

    def stop(self) -> None:
        self._ticker_stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        # The market first: it tells accounts (fills, revaluations) until it stops. A market
        # still busy after 5 s (a long inbox) stops once it gets there; the accounts stop
        # anyway, and a stopped registry starts none for what it sends meanwhile.
        market_ref, self.market_ref = self.market_ref, None
        if market_ref is not None:
            try:
                market_ref.stop(timeout=5)
            except pykka.Timeout:
                logger.warning("the market actor did not stop within 5 s: it stops when idle")
        if self.registry is not None:
            self.registry.stop_all()
        self.pool.stop(timeout_s=5)
        if self.market_pool is not self.pool:
            self.market_pool.stop(timeout_s=5)

    def _tick_loop(self) -> None:
        interval_s = self.config.market.jitter_interval_ms / 1000
        scans_every = max(1, int(PASSIVATION_SCAN_INTERVAL_S / interval_s))
        ticks = 0
        while not self._ticker_stop.wait(interval_s):
            market_ref = self.market_ref
            if market_ref is None:
                return
            try:
                market_ref.tell(Tick())
            except pykka.ActorDeadError:
                return
            ticks += 1
            if ticks % scans_every == 0 and self.registry is not None:
                self.registry.passivate_idle()

    def sync_market(self) -> None:
        """Wait until the market actor has handled everything sent to it so far."""
        assert self.market_ref is not None
        self.market_ref.ask(Sync(), block=True, timeout=10)

    def tick(self) -> int:
        """Run one market tick now and wait for it (tests drive time with this)."""
        assert self.market_ref is not None
        return int(self.market_ref.ask(Tick(), block=True, timeout=10))

    # -- instruments in use ----------------------------------------------------------------

    def in_use_indices(self) -> frozenset[int]:
        """Instruments with resting orders, exits, queued market orders, open positions or
        subscribers, as of the market's last reference refresh (safe from any thread)."""
        return self.in_use.current()

    def subscribe(self, indices: Iterable[int]) -> None:
        """Mark instruments subscribed (reference-counted; safe from any thread)."""
        self.in_use.subscribe(indices)

    def unsubscribe(self, indices: Iterable[int]) -> None:
        """Release one subscription per instrument (safe from any thread)."""
        self.in_use.unsubscribe(indices)

    # -- accounts ---------------------------------------------------------------------------

    def _registry(self) -> AccountRegistry:
        assert self.registry is not None, "start() the engine first"
        return self.registry

    def add_account(self, state: AccountState) -> None:
        self._registry().add(state)
        self.locator.add(state)

    def restore_account(self, state: AccountState) -> None:
        """Add a recovered account and put its working orders and exits back in the market."""
        self.add_account(state)
        ops = resume_ops(state, self.master, self.config.execution.market_fill_delay_ms)
        if ops:
            assert self.market_ref is not None
            self.market_ref.tell(BookOps(ops))

    def submit(
        self,
        account_id: str,
        request: cmd.AccountRequest,
        reply: Callable[[Outcome], None] | None = None,
    ) -> None:
        """Send a request to an account; ``reply`` gets the outcome, maybe on another thread.
        Raises :class:`AccountBusyError` (nothing queued) when the account's inbox is full, and
        ``TypeError`` for a command already stamped (the account stamps what it is asked)."""
        if isinstance(request, cmd.Command):
            raise TypeError(f"submit a request, not the stamped {type(request).__name__}")
        self._registry().tell(account_id, Submit(request, reply), bounded=True)

    def preview(
        self, account_id: str, request: cmd.PlaceOrderRequest, reply: Callable[[Any], None]
    ) -> None:
        """Value a new order on an account as placing it would, placing nothing; ``reply``
        receives a :class:`~engine.actors.account_actor.Preview` (or the exception).
        Raises :class:`AccountBusyError` (nothing queued) when the account's inbox is full."""
        self._registry().tell(account_id, PreviewOrder(request, reply), bounded=True)

    def preview_basket(
        self,
        account_id: str,
        requests: tuple[cmd.PlaceOrderRequest, ...],
        reply: Callable[[Any], None],
    ) -> None:
        """Value a basket of new orders on an account, each alone and all together, placing
        nothing; ``reply`` receives a :class:`~engine.actors.account_actor.BasketPreview` (or
        the exception). Raises :class:`AccountBusyError` (nothing queued) when the account's
        inbox is full."""
        self._registry().tell(account_id, PreviewBasket(requests, reply), bounded=True)

    def inspect(
        self, account_id: str, fn: Callable[[AccountState], Any], reply: Callable[[Any], None]
    ) -> None:
        """Run ``fn`` on an account's state in its actor; ``reply`` receives the result.
        Raises :class:`AccountBusyError` (nothing queued) when the account's inbox is full."""
        self._registry().tell(account_id, Inspect(fn, reply), bounded=True)

    def _on_session(self, group: SessionGroup, boundary: Boundary, at_ms: int) -> None:
        """A session boundary passed (hours enforced): every account acts on it in its actor."""
        registry = self._registry()
        event = SessionEvent(group, boundary, at_ms)
        for account_id in registry.account_ids():
            registry.tell(account_id, event)

    def _on_expiry(self, instrument_ids: frozenset[str], at_ms: int) -> None:
        """Contracts reached their expiry instant: every account cancels its orders in them
        and settles its positions in them at their settlement values, read now."""
        registry = self._registry()
        settlement: dict[str, int] = {}
        for instrument_id in instrument_ids:
            instrument = self.master.get(instrument_id)
            value = None if instrument is None else settlement_value(self.market, instrument)
            if value is not None:
                settlement[instrument_id] = value
        event = ExpiryEvent(instrument_ids, at_ms, settlement)
        for account_id in registry.account_ids():
            registry.tell(account_id, event)

    def list_contracts(self, now_ms: int) -> list[Instrument]:
        """List the contracts the trade day of ``now_ms`` adds, strikes centred on the prices
        now, and lay the simulated market out again without what has expired; return them.

        The market actor's at each trade day's first tick (or anyone's before ``start``).
        Listeners hear of new contracts before they are in the master (the gateway stores
        them), so none can be traded before it is stored.
        """
        assert self.lister is not None and self.simulated is not None
        market = self.market
        ltp, reference = market.snapshot.ltp, market.reference

        def price_of(index: int) -> int:
            last = int(ltp[index]) if index < len(ltp) else 0
            return last or int(reference[index])

        listed = self.lister.contracts(self.master, now_ms, price_of)
        if listed:
            for listener in self.listing_listeners:
                try:
                    listener(listed)
                except Exception:
                    logger.exception("listing listener failed")
            market.list_instruments(listed)
            logger.info("listed %d contracts", len(listed))
        self.simulated.relist(self.master, now_ms)
        return listed

    def catch_up_expiries(self) -> None:
        """Act on the contract expiries of the last ``CATCH_UP_DAYS`` (after recovery: orders
        in a contract that expired while the server was down are cancelled; accounts skip what
        they already did)."""
        now = self.clock.now_ms()
        for at_ms, instrument_ids in self.calendar.expiries_crossed(
            self.master, now - CATCH_UP_DAYS * MS_PER_DAY, now
        ):
            self._on_expiry(instrument_ids, at_ms)

    def catch_up_sessions(self) -> None:
        """Act on the session boundaries of the last ``CATCH_UP_DAYS`` (after recovery: a server
        that was down at a square-off or a close must still square off and expire what it would
        have; accounts skip what they already did)."""
        sessions = self.rules.sessions
        if sessions is None:
            return
        now = self.clock.now_ms()
        for group, boundary, at_ms in sessions.boundaries_crossed(
            now - CATCH_UP_DAYS * MS_PER_DAY, now
        ):
            self._on_session(group, boundary, at_ms)

    def _on_day_start(self, now_ms: int) -> list[tuple[int, frozenset[str]]]:
        """A trade day's first tick (the market actor's; the first after start too): list the
        day's contracts, have the accounts revalue their portfolio margins, and return the new
        contracts' expiry instants."""
        listed = [] if self.lister is None else self.list_contracts(now_ms)
        self.revalue_margins()
        return self.calendar.expiries_crossed(listed, now_ms, END_OF_TIME)

    def revalue_margins(self) -> None:
        """Every account holding positions recomputes its portfolio margins at the market now
        and checks its margin (docs/DOMAIN.md §2): at a trade day's first tick (futures settle
        and the expiry-day extra ELM starts then), on the revaluation cadence and after large
        moves (``MarginWatch``), and after recovery."""
        registry = self._registry()
        for account_id in sorted(self.locator.accounts_with_positions()):
            try:
                registry.tell(account_id, RevalueMargins())
            except KeyError:
                logger.warning("revaluation for unknown account %s dropped", account_id)

    def _dispatch(self, account_id: str, request: cmd.AccountRequest) -> None:
        """Deliver a market-originated request (fill, trigger, exit) to its account."""
        try:
            self._registry().tell(account_id, Submit(request))
        except KeyError:
            logger.warning("market command for unknown account %s dropped", account_id)
