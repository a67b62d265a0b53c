"""Kite's instrument tokens resolved to paperdesk's instruments, and Kite's ``exchange:symbol``
keys: the facade's and the ticker's one way to name an instrument."""

from __future__ import annotations

from aiohttp import web

from engine.domain.instruments import InstrumentMaster


class KiteTokens:
    """Token → dense index, rebuilt when the master has grown (contracts are listed as
    expiries roll)."""

    def __init__(self, master: InstrumentMaster) -> None:
        self.master = master
        self._by_token: dict[int, int] = {}
        self._indexed = 0

    def index_of_token(self, token: int) -> int | None:
        if self._indexed != len(self.master):
            self._by_token = {
                instrument.instrument_token: index for index, instrument in enumerate(self.master)
            }
            self._indexed = len(self.master)
        return self._by_token.get(token)

    def index_of(self, key: str) -> int | None:
        """An ``EXCHANGE:TRADINGSYMBOL`` key or an instrument token (as text), as Kite's quote
        routes take either."""
        if key.isdigit():
            return self.index_of_token(int(key))
        exchange, _, symbol = key.partition(":")
        return self.master.index_of(f"{exchange.upper()}:{symbol.upper()}") if symbol else None


KITE_TOKENS = web.AppKey("kite_tokens", KiteTokens)
