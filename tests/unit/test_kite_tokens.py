"""Kite's instrument tokens: unique over the whole master (the sample and every contract the
universe generates), Kite's own numbers for the indices strategies hard-code, and both ways
of naming an instrument (``EXCHANGE:SYMBOL`` and a token) resolving to it."""

from __future__ import annotations

from engine.config import DEFAULT_INSTRUMENTS_PATH, Config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.market.instrument_import import read_instruments_csv
from engine.market.universe import ContractLister
from gateway.kite.tokens import KiteTokens
from tests.unit.test_universe import ms


def full_master(config: Config) -> InstrumentMaster:
    master = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
    lister = ContractLister(config.market, ExchangeCalendar.from_config(config.sessions))
    for contract in lister.contracts(
        master, ms(2026, 12, 3, 10, 0), lambda index: master.at(index).reference_price_paise
    ):
        master.add(contract)
    return master


def test_tokens_when_whole_generated_master_then_each_instrument_its_own(config: Config) -> None:
    master = full_master(config)
    tokens = KiteTokens(master, config.kite.index_tokens)
    assert len(master) > 1000  # the generated universe is there
    numbers = [tokens.token_of(instrument) for instrument in master]
    assert len(set(numbers)) == len(numbers)
    for index, instrument in enumerate(master):
        assert tokens.index_of_token(tokens.token_of(instrument)) == index


def test_indices_when_kite_numbers_them_then_kites_tokens(config: Config) -> None:
    master = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
    tokens = KiteTokens(master, config.kite.index_tokens)
    for ticker, kite_token in [
        ("NSE:NIFTY 50", 256265),
        ("NSE:NIFTY BANK", 260105),
        ("NSE:NIFTY FIN SERVICE", 257801),
        ("BSE:SENSEX", 265),
    ]:
        instrument = master.get(ticker)
        assert instrument is not None and instrument.is_index
        assert tokens.token_of(instrument) == kite_token
        assert tokens.index_of("256265" if kite_token == 256265 else str(kite_token)) == (
            master.index_of(ticker)
        )
    reliance = master.get("NSE:RELIANCE")
    assert reliance is not None
    assert tokens.token_of(reliance) == 2885 << 8 | 1  # Kite's scheme: 738561
    assert tokens.index_of("nse:reliance") == master.index_of("NSE:RELIANCE")
    assert tokens.index_of("RELIANCE") is None  # Kite's keys name the exchange
    assert tokens.index_of("999999999") is None
