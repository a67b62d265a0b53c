"""Shared fixtures for the pure account domain: configuration, master, quotes, clock, accounts.

Everything here is deterministic: the clock is a fixed instant inside NSE trading hours on
2026-11-24 (IST), quotes are built from a last traded price with bid and ask one tick around it
and the circuit band ``engine.domain.rules.circuit_band`` gives around the previous close.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import pytest
from hypothesis import Phase, settings

from engine.config import DEFAULT_INSTRUMENTS_PATH, Config, account_rules, load_config
from engine.domain import commands as cmd
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide
from engine.domain.account.state import (
    AccountState,
    Decision,
    funds_identity_holds,
    state_fingerprint,
)
from engine.domain.enums import OrderType, Product, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.portfolio import UnderlyingMarket
from engine.domain.quote import Quote
from engine.domain.rules import AccountRules, circuit_band
from engine.domain.sessions import SessionRules
from engine.market.instrument_import import read_instruments_csv
from tests.support.margin_markets import stamped

# Hypothesis: CI (the default) runs every property test with the same examples each time, so a
# failure is a change of the code, not of luck; `make fuzz` runs the same tests with many more,
# random examples (the state machines scale their example counts by FUZZ_SCALE); `make
# mutation` runs the CI examples without shrinking.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, print_blob=True)
# Every phase but shrinking: the examples are the CI profile's (Hypothesis draws differently
# without its reuse and target phases), and a mutant that fails is not shrunk.
settings.register_profile(
    "mutation",
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(HYPOTHESIS_PROFILE)
FUZZ_SCALE = 25 if HYPOTHESIS_PROFILE == "fuzz" else 1

# 2026-11-24 10:30:00 IST (05:00:00 UTC): a Tuesday, inside the 09:15-15:30 session.
NOW_MS = 1_795_496_400_000
DAY_MS = 86_400_000

QuoteFor = Callable[..., Quote]
Execute = Callable[[AccountState, cmd.AccountCommand], Decision]


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def rules(config: Config) -> AccountRules:
    return account_rules(config)


@pytest.fixture(scope="session")
def hours_sessions(config: Config) -> SessionRules:
    """The exchange sessions with hours enforced (configs/ leave them off by default)."""
    sessions = SessionRules.from_config(dataclasses.replace(config.sessions, enforce_hours=True))
    assert sessions is not None
    return sessions


@pytest.fixture(scope="session")
def hours_rules(rules: AccountRules, hours_sessions: SessionRules) -> AccountRules:
    """The account rules with hours enforced."""
    return dataclasses.replace(rules, sessions=hours_sessions)


@pytest.fixture(scope="session")
def master() -> InstrumentMaster:
    return InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))


@pytest.fixture
def now_ms() -> int:
    return NOW_MS


def _instrument(master: InstrumentMaster, ticker: str) -> Instrument:
    instrument = master.get(ticker)
    assert instrument is not None, ticker
    return instrument


@pytest.fixture(scope="session")
def reliance(master: InstrumentMaster) -> Instrument:
    """NSE equity, tick ₹0.10, previous close ₹1542.80."""
    return _instrument(master, "NSE:RELIANCE")


@pytest.fixture(scope="session")
def wipro(master: InstrumentMaster) -> Instrument:
    """NSE equity, tick ₹0.01, previous close ₹244.87."""
    return _instrument(master, "NSE:WIPRO")


@pytest.fixture(scope="session")
def tcs(master: InstrumentMaster) -> Instrument:
    return _instrument(master, "NSE:TCS")


@pytest.fixture(scope="session")
def nifty_fut(master: InstrumentMaster) -> Instrument:
    """NIFTY Dec 2026 future: index, lot 65, tick ₹0.10, freeze 1800, close ₹26138.60."""
    return _instrument(master, "NFO:NIFTY26DECFUT")


@pytest.fixture(scope="session")
def nifty_call(master: InstrumentMaster) -> Instrument:
    """NIFTY Dec 2026 26000 CE: lot 65, tick ₹0.05, freeze 1800, close ₹441.45."""
    return _instrument(master, "NFO:NIFTY26DEC26000CE")


@pytest.fixture(scope="session")
def crude_fut(master: InstrumentMaster) -> Instrument:
    """MCX crude oil Dec 2026 future: commodity, lot 100, tick ₹1, close ₹5312."""
    return _instrument(master, "MCX:CRUDEOIL26DECFUT")


def make_quote(
    config: Config, instrument: Instrument, ltp_paise: int, *, reference_paise: int | None = None
) -> Quote:
    """A quote at ``ltp_paise`` with bid/ask one tick around and the circuit band in force."""
    reference = instrument.reference_price_paise if reference_paise is None else reference_paise
    low, high = circuit_band(config.circuits, instrument, reference)
    tick = instrument.tick_paise
    return Quote(
        ltp_paise=ltp_paise,
        bid_paise=ltp_paise - tick,
        ask_paise=ltp_paise + tick,
        circuit_low_paise=low,
        circuit_high_paise=high,
        timestamp_ms=NOW_MS,
    )


@pytest.fixture(scope="session")
def quote_for(config: Config) -> QuoteFor:
    """``quote_for(instrument, ltp_paise)`` -> Quote (band around the previous close)."""

    def build(instrument: Instrument, ltp_paise: int, **kwargs: int) -> Quote:
        return make_quote(config, instrument, ltp_paise, **kwargs)

    return build


def run_command(state: AccountState, command: cmd.AccountCommand, rules: AccountRules) -> Decision:
    """Stamp a derivative's command with its market if it has none (as the actor would:
    ``tests.support.margin_markets``), decide, check that deciding did not touch the state,
    apply, check the funds identity."""
    command = stamped(state, command, rules)
    before = state_fingerprint(state)
    decision = decide(state, command, rules)
    assert state_fingerprint(state) == before, "decide mutated the state"
    apply_all(state, decision.events)
    assert funds_identity_holds(state), state
    return decision


@pytest.fixture
def execute(rules: AccountRules) -> Execute:
    """``execute(state, command)``: decide + apply with the purity and identity checks."""

    def run(state: AccountState, command: cmd.AccountCommand) -> Decision:
        return run_command(state, command, rules)

    return run


@pytest.fixture
def funded_account(rules: AccountRules) -> Callable[..., AccountState]:
    """``funded_account(amount_paise, account_id="acc-1")``: a fresh account after a deposit."""

    def build(amount_paise: int = 10_000_000_00, account_id: str = "acc-1") -> AccountState:
        state = AccountState(account_id)
        if amount_paise:
            credit = cmd.CreditFunds(
                now_ms=NOW_MS, amount_paise=amount_paise, kind="DEPOSIT", reference="opening"
            )
            decision = run_command(state, credit, rules)
            assert decision.rejection is None
        return state

    return build


def place(
    instrument: Instrument,
    *,
    order_id: str = "o1",
    side: Side = Side.BUY,
    product: Product = Product.MIS,
    order_type: OrderType = OrderType.LIMIT,
    quantity: int = 1,
    price_paise: int = 0,
    trigger_paise: int = 0,
    quote: Quote | None = None,
    client_order_id: str | None = None,
    validity: Validity = Validity.DAY,
    now_ms: int = NOW_MS,
    market: UnderlyingMarket | None = None,
    tag: str | None = None,
) -> cmd.PlaceOrder:
    """A PlaceOrder with defaults for everything a test does not care about."""
    return cmd.PlaceOrder(
        now_ms=now_ms,
        order_id=order_id,
        client_order_id=client_order_id,
        tag=tag,
        instrument=instrument,
        side=side,
        product=product,
        order_type=order_type,
        validity=validity,
        quantity=quantity,
        price_paise=price_paise,
        trigger_paise=trigger_paise,
        quote=quote,
        market=market,
    )


@pytest.fixture(scope="session")
def place_order() -> Callable[..., cmd.PlaceOrder]:
    """``place_order(instrument, **terms)``: a PlaceOrder with test defaults."""
    return place


def fill(
    instrument: Instrument,
    order_id: str,
    quantity: int,
    price_paise: int,
    *,
    now_ms: int = NOW_MS,
    market: UnderlyingMarket | None = None,
    at_market: bool = False,
    order_version: int = 0,
) -> cmd.FillOrder:
    """A fill from a limit book, or with ``at_market`` from the market queue."""
    return cmd.FillOrder(
        now_ms=now_ms,
        order_id=order_id,
        instrument=instrument,
        quantity=quantity,
        price_paise=price_paise,
        market=market,
        at_market=at_market,
        order_version=order_version,
    )


@pytest.fixture(scope="session")
def fill_order() -> Callable[..., cmd.FillOrder]:
    """``fill_order(instrument, order_id, quantity, price_paise)``: a FillOrder."""
    return fill


@pytest.fixture
def trade(execute: Execute, quote_for: QuoteFor) -> Callable[..., tuple[Decision, Decision]]:
    """``trade(state, instrument, side, quantity, price_paise, product=MIS)``: place a LIMIT
    at ``price_paise`` and fill it there in full; return (place decision, fill decision)."""
    counter = iter(range(1, 1_000_000))

    def run(
        state: AccountState,
        instrument: Instrument,
        side: Side,
        quantity: int,
        price_paise: int,
        *,
        product: Product = Product.MIS,
        now_ms: int = NOW_MS,
        market: UnderlyingMarket | None = None,
    ) -> tuple[Decision, Decision]:
        order_id = f"t{next(counter)}"
        placed = execute(
            state,
            place(
                instrument,
                order_id=order_id,
                side=side,
                product=product,
                quantity=quantity,
                price_paise=price_paise,
                quote=quote_for(instrument, price_paise),
                now_ms=now_ms,
                market=market,
            ),
        )
        assert placed.rejection is None, placed
        filled = execute(
            state,
            fill(
                instrument,
                order_id,
                quantity,
                price_paise,
                now_ms=now_ms,
                market=market,
            ),
        )
        assert filled.rejection is None, filled
        return placed, filled

    return run
