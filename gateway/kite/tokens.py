"""Kite's instrument tokens resolved to paperdesk's instruments, and Kite's ``exchange:symbol``
keys: the facade's and the ticker's one way to name an instrument."""

from __future__ import annotations

from aiohttp import web

from engine.domain.instruments import InstrumentMaster


class KiteTokens:
    """Token → dense index of the master, indexed as the master grows (contracts are listed as
    expiries roll; a listed instrument keeps its index)."""

    def __init__(self, master: InstrumentMaster) -> None:
        self.master = master
        self._by_token: dict[int, int] = {}
        self._indexed = 0

    def index_of_token(self, token: int) -> int | None:
        master = self.master
        if self._indexed < len(master):
            for index in range(self._indexed, len(master)):
                # Tokens are unique in the master (tests/unit/test_kite_tokens.py); were two
                # ever the same, the first listed would keep it.
                self._by_token.setdefault(master.at(index).instrument_token, index)
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
