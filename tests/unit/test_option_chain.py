"""The option chains' lookup, built once from the instrument master (engine/market/option_chain.py).

Proves, on the default master, that every underlying of a derivative or an index spot is found
with its spot and futures, that each expiry's strikes come in ascending order with every CE/PE
pair of the master exactly once, and that a chain names the future of its own expiry; and, on a
master with more expiries, that expiries are ordered, a strike listed on one side only keeps
the other empty, the default chain and the nearest future are the first not yet expired at the
F&O close of their expiry day (the last once all have), and the nearest strike breaks a tie
downwards.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from engine.config import Config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import InstrumentType
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.market_layout import NO_INDEX
from engine.market.option_chain import OptionChains

IST = 330  # minutes east of UTC
DEC = date(2026, 12, 29)
NOV = date(2026, 11, 26)
JAN = date(2027, 1, 26)


def chains_of(config: Config, master: InstrumentMaster) -> OptionChains:
    return OptionChains(master, ExchangeCalendar.from_config(config.sessions))


def index_of(master: InstrumentMaster, ticker: str) -> int:
    index = master.index_of(ticker)
    assert index is not None, ticker
    return index


def test_default_master_when_built_then_each_underlying_has_its_spot_futures_and_chains(
    config: Config, master: InstrumentMaster
) -> None:
    chains = chains_of(config, master)
    assert [u.name for u in chains] == [
        "BANKNIFTY",
        "CRUDEOIL",
        "FINNIFTY",
        "GOLD",
        "NIFTY",
        "SENSEX",
    ]
    nifty = chains.get("NIFTY")
    assert nifty is not None
    assert nifty.spot == index_of(master, "NSE:NIFTY 50")
    assert [f.index for f in nifty.futures] == [index_of(master, "NFO:NIFTY26DECFUT")]
    assert nifty.expiries == (DEC,)
    chain = nifty.chains[0]
    assert chain.future == index_of(master, "NFO:NIFTY26DECFUT")
    strikes = [row.strike_paise for row in chain.rows]
    assert strikes == list(range(2_550_000, 2_650_001, 10_000))
    for row in chain.rows:
        call, put = master.at(row.call), master.at(row.put)
        assert (call.instrument_type, put.instrument_type) == (InstrumentType.CE, InstrumentType.PE)
        assert call.strike_paise == put.strike_paise == row.strike_paise
    sensex, crude = chains.get("SENSEX"), chains.get("CRUDEOIL")
    assert sensex is not None and crude is not None
    assert sensex.chains == () and sensex.spot == index_of(master, "BSE:SENSEX")
    assert crude.spot == index_of(master, "MCX:CRUDEOIL")
    assert crude.reference(0) == crude.spot
    assert chains.get("RELIANCE") is None  # a stock with no derivatives listed


def test_default_master_when_chains_built_then_every_option_pair_appears_exactly_once(
    config: Config, master: InstrumentMaster
) -> None:
    chains = chains_of(config, master)
    listed = [n for underlying in chains for chain in underlying.chains for n in chain.indices()]
    options = [n for n, i in enumerate(master) if i.is_option]
    assert sorted(listed) == options
    for underlying in chains:
        for chain in underlying.chains:
            for row in chain.rows:
                assert NO_INDEX not in (row.call, row.put)


@pytest.mark.parametrize(
    ("ticker", "underlying"),
    [
        ("NSE:NIFTY 50", "NIFTY"),
        ("NFO:NIFTY26DECFUT", "NIFTY"),
        ("NFO:BANKNIFTY26DEC59000PE", "BANKNIFTY"),
        ("MCX:CRUDEOIL26DECFUT", "CRUDEOIL"),
        ("NSE:RELIANCE", None),
    ],
)
def test_of_when_instrument_given_then_underlying_of_derivatives_and_index_spots_only(
    config: Config, master: InstrumentMaster, ticker: str, underlying: str | None
) -> None:
    instrument = master.get(ticker)
    assert instrument is not None
    found = chains_of(config, master).of(instrument)
    assert (found.name if found else None) == underlying


def _listed(
    template: Instrument, expiry: date, strike_rupees: int, kind: InstrumentType
) -> Instrument:
    token = 900_000 + strike_rupees * 10 + expiry.month * 3 + (kind is InstrumentType.PE)
    return dataclasses.replace(
        template,
        instrument_id=f"NSE_FO|{token}",
        token=token,
        symbol=f"NIFTY{expiry:%y%b}{strike_rupees}{kind.value}".upper(),
        instrument_type=kind,
        expiry=expiry,
        strike_paise=strike_rupees * 100 if kind is not InstrumentType.FUT else 0,
    )


@pytest.fixture
def wider(master: InstrumentMaster) -> InstrumentMaster:
    """The default master plus NIFTY options on two more expiries (January's with a strike
    listed as a call only) and a November future."""
    call = master.get("NFO:NIFTY26DEC26000CE")
    future = master.get("NFO:NIFTY26DECFUT")
    assert call is not None and future is not None
    added = [
        _listed(call, JAN, 26500, InstrumentType.CE),
        _listed(call, JAN, 26000, InstrumentType.CE),
        _listed(call, JAN, 26000, InstrumentType.PE),
        _listed(call, JAN, 27000, InstrumentType.CE),  # no put at 27,000
        _listed(call, NOV, 26000, InstrumentType.PE),
        _listed(call, NOV, 26000, InstrumentType.CE),
        _listed(future, NOV, 0, InstrumentType.FUT),
    ]
    return InstrumentMaster([*master, *added])


def test_more_expiries_when_built_then_ordered_with_one_sided_strikes_kept(
    config: Config, wider: InstrumentMaster
) -> None:
    nifty = chains_of(config, wider).get("NIFTY")
    assert nifty is not None
    assert nifty.expiries == (NOV, DEC, JAN)
    january = nifty.chain(JAN)
    assert january is not None
    assert [row.strike_paise for row in january.rows] == [2_600_000, 2_650_000, 2_700_000]
    assert january.rows[-1].put == NO_INDEX
    assert wider.at(january.rows[-1].call).symbol == "NIFTY27JAN27000CE"
    assert january.future == NO_INDEX  # no January future listed
    november = nifty.chain(NOV)
    assert november is not None and wider.at(november.future).expiry == NOV
    assert nifty.chain(date(2026, 12, 31)) is None
    assert [f.expiry for f in nifty.futures] == [NOV, DEC]


def test_default_chain_when_time_passes_then_first_not_yet_expired_else_the_last(
    config: Config, wider: InstrumentMaster
) -> None:
    nifty = chains_of(config, wider).get("NIFTY")
    assert nifty is not None
    november_future = wider.at(nifty.futures[0].index)
    november_close = ExchangeCalendar.from_config(config.sessions).expiry_instant_ms(
        november_future
    )
    chain = nifty.chain(NOV)
    assert chain is not None and chain.expiry_ms == november_close
    # 2026-11-26 15:40 IST: the F&O close in force from 2026-08-03
    assert november_close == 1_795_687_800_000
    timeline = [
        (november_close - 1, NOV, NOV),
        (november_close, DEC, DEC),  # expired at its close
        (nifty.chains[1].expiry_ms, JAN, DEC),  # no future after December: the last
        (nifty.chains[2].expiry_ms + 1, JAN, DEC),  # everything expired: the last
    ]
    for now_ms, chain_expiry, future_expiry in timeline:
        default = nifty.default_chain(now_ms)
        assert default is not None and default.expiry == chain_expiry, now_ms
        assert wider.at(nifty.nearest_future(now_ms)).expiry == future_expiry, now_ms


@pytest.mark.parametrize(
    ("price_rupees", "strike_rupees"),
    [
        (26_049.99, 26_000),
        (26_050, 26_000),
        (26_050.01, 26_100),
        (20_000, 25_500),
        (30_000, 26_500),
    ],
)
def test_nearest_strike_when_price_given_then_closest_and_the_lower_of_a_tie(
    config: Config, master: InstrumentMaster, price_rupees: float, strike_rupees: int
) -> None:
    nifty = chains_of(config, master).get("NIFTY")
    assert nifty is not None
    assert nifty.chains[0].nearest_strike(price_rupees * 100) == strike_rupees * 100
