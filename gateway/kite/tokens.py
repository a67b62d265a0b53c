"""Kite's instrument tokens resolved to paperdesk's instruments, and Kite's ``exchange:symbol``
keys: the facade's and the ticker's one way to name an instrument."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from engine.domain.instruments import Instrument, InstrumentMaster


class KiteTokens:
    """Each instrument's Kite token, and token → dense index of the master, indexed as the
    master grows (contracts are listed as expiries roll; a listed instrument keeps its index).

    An instrument's token is Kite's scheme over its exchange token
    (``Instrument.instrument_token``), except for the indices named in ``[kite.index_tokens]``:
    Kite numbers those by its own exchange tokens (NIFTY 50 is 256265), which strategies write
    in their code, while paperdesk keeps the exchange's (26000) for the live feed."""

    def __init__(self, master: InstrumentMaster, index_tokens: Mapping[str, int]) -> None:
        self.master = master
        self.index_tokens = dict(index_tokens)  # ticker -> Kite instrument token
        self._by_token: dict[int, int] = {}
        self._indexed = 0

    def token_of(self, instrument: Instrument) -> int:
        """The instrument's Kite instrument token."""
        override = self.index_tokens.get(instrument.ticker) if instrument.is_index else None
        return instrument.instrument_token if override is None else override

    def index_of_token(self, token: int) -> int | None:
        master = self.master
        if self._indexed < len(master):
            for index in range(self._indexed, len(master)):
                # Tokens are unique in the master (tests/unit/test_kite_tokens.py); were two
                # ever the same, the first listed would keep it.
                self._by_token.setdefault(self.token_of(master.at(index)), index)
            self._indexed = len(master)
        return self._by_token.get(token)

    def index_of(self, key: str) -> int | None:
        """An ``EXCHANGE:TRADINGSYMBOL`` key or an instrument token (as text), as Kite's quote
        routes take either."""
        if key.isdigit():
            return self.index_of_token(int(key))
        exchange, _, symbol = key.partition(":")
        return self.master.index_of(f"{exchange.upper()}:{symbol.upper()}") if symbol else None


KITE_TOKENS = web.AppKey("kite_tokens", KiteTokens)
