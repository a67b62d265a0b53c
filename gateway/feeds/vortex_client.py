"""Rupeezy Vortex REST quotes client: ``GET {base}/data/quotes?q=<id>&q=<id>&mode=...``.

One request at a time, at most ``requests_per_second_max`` of them (retries included, each spaced
from the end of the one before), each with a timeout; timeouts, connection errors and 5xx are
retried with exponential backoff, a 429 waits for its ``Retry-After``. Prices are parsed as
:class:`~decimal.Decimal` straight from the JSON text, so rupees become paise exactly.
Instrument ids map both ways between our master and the two Vortex forms, ``NSE_EQ-22``
(exchange-token) and ``NSE:RELIANCE`` (ticker).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import aiohttp

from engine.config import VortexConfig
from engine.domain.enums import Exchange
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.money import PAISE_PER_RUPEE
from engine.domain.quote import DepthLevel
from engine.market.pushed_quotes import PushedQuote

API_KEY_ENV = "VORTEX_API_KEY"
ACCESS_TOKEN_ENV = "VORTEX_ACCESS_TOKEN"

# Our exchange -> the Vortex exchange code of the exchange-token form.
VORTEX_EXCHANGE = {
    Exchange.NSE: "NSE_EQ",
    Exchange.BSE: "BSE_EQ",
    Exchange.NFO: "NSE_FO",
    Exchange.BFO: "BSE_FO",
    Exchange.MCX: "MCX_FO",
    Exchange.CDS: "NSE_CD",
}
# Vortex tickers name the exchange, not the segment: NSE:NIFTY26DECFUT, BSE:SENSEX26DECFUT.
TICKER_EXCHANGE = {
    Exchange.NSE: "NSE",
    Exchange.BSE: "BSE",
    Exchange.NFO: "NSE",
    Exchange.BFO: "BSE",
    Exchange.MCX: "MCX",
    Exchange.CDS: "NSE",
}


class VortexError(Exception):
    """A quotes request failed for good; ``reason`` labels the failure metric."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _RetryableError(Exception):
    def __init__(self, reason: str, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.wait_s = wait_s


class VortexIds:
    """Map our instruments to Vortex ids and back, in both id forms."""

    def __init__(self, master: InstrumentMaster) -> None:
        self.master = master
        self._by_id: dict[str, int] = {}
        for index, instrument in enumerate(master):
            self._by_id[self.exchange_token(instrument)] = index
            self._by_id[self.ticker(instrument)] = index

    @staticmethod
    def exchange_token(instrument: Instrument) -> str:
        return f"{VORTEX_EXCHANGE[instrument.exchange]}-{instrument.token}"

    @staticmethod
    def ticker(instrument: Instrument) -> str:
        return f"{TICKER_EXCHANGE[instrument.exchange]}:{instrument.symbol}"

    def id_for(self, index: int, form: str) -> str:
        instrument = self.master.at(index)
        return self.ticker(instrument) if form == "ticker" else self.exchange_token(instrument)

    def index_of(self, vortex_id: str) -> int | None:
        """Resolve either id form to our dense index (``None`` if not in the master)."""
        return self._by_id.get(vortex_id)


def rupees_to_paise_exact(value: Any) -> int:
    """Rupees (a JSON number parsed as Decimal, or a string) to paise, half-up at the paisa.

    Exchange prices are whole paise; the rounding only guards against a feed sending more
    decimals, and it is decimal arithmetic, never binary float.
    """
    amount = _decimal(value) * PAISE_PER_RUPEE
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def paise_exact(value: Any) -> int:
    """A figure the feed already gives in paise (``dpr_high`` / ``dpr_low``)."""
    return int(_decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise ValueError(f"not a number: {value!r}")
    try:
        result = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"not a number: {value!r}") from error
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def quote_from_payload(index: int, payload: Mapping[str, Any]) -> PushedQuote:
    """Convert one Vortex quote object to paise; raise ``ValueError`` if it is unusable."""
    ltp = rupees_to_paise_exact(payload["last_trade_price"])
    if ltp <= 0:
        raise ValueError(f"non-positive last_trade_price {payload['last_trade_price']!r}")
    close = payload.get("close_price")
    high = payload.get("dpr_high")
    low = payload.get("dpr_low")
    depth = payload.get("depth")
    bids, asks = (_levels(depth.get("buy")), _levels(depth.get("sell"))) if depth else ((), ())
    return PushedQuote(
        index=index,
        ltp_paise=ltp,
        previous_close_paise=max(rupees_to_paise_exact(close), 0) if close is not None else 0,
        circuit_low_paise=max(paise_exact(low), 0) if low is not None else 0,
        circuit_high_paise=max(paise_exact(high), 0) if high is not None else 0,
        bids=bids,
        asks=asks,
    )


def _levels(levels: Any) -> tuple[DepthLevel, ...]:
    """One side of a ``full``-mode quote's depth, best first, without its empty levels; none
    when it is malformed (the quote's price is still usable)."""
    if not isinstance(levels, list):
        return ()
    try:
        parsed = [
            DepthLevel(
                rupees_to_paise_exact(level["price"]),
                int(level["quantity"]),
                int(level.get("orders") or 0),
            )
            for level in levels
        ]
    except (AttributeError, KeyError, TypeError, ValueError):
        return ()
    return tuple(level for level in parsed if level.price_paise > 0 and level.quantity > 0)


def _retry_after_s(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff
    return max(seconds, 0.0)


class VortexClient:
    """Fetch quotes over one ``aiohttp.ClientSession`` (owned by the caller)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: VortexConfig,
        *,
        api_key: str,
        access_token: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.config = config
        self.url = f"{config.base_url}/data/quotes"
        self.headers = {
            "Authorization": f"Bearer {access_token}",
            "x-api-key": api_key,
            "Accept": "application/json",
        }
        self._sleep = sleep
        self._monotonic = monotonic
        self._interval_s = 1.0 / config.requests_per_second_max
        self._next_request_at = 0.0
        self._lock = asyncio.Lock()
        self.requests_total = 0

    async def fetch_quotes(self, ids: Sequence[str]) -> dict[str, Any]:
        """Return the reply's ``data`` (id as sent -> quote object), retrying transient faults.

        Ids the API has no quote for are simply absent. Raises :class:`VortexError` once the
        retries are spent or on a fault retrying cannot fix (bad credentials, malformed body).
        """
        if not 0 < len(ids) <= self.config.batch_max:
            raise ValueError(f"{len(ids)} ids: expected 1..{self.config.batch_max}")
        params = [("q", vortex_id) for vortex_id in ids]
        params.append(("mode", self.config.mode))
        attempt = 0
        while True:
            try:
                return await self._request(params)
            except _RetryableError as fault:
                if attempt >= self.config.retries_max:
                    raise VortexError(fault.reason, fault.message) from None
                wait_s = fault.wait_s
                if wait_s is None:
                    wait_s = self.config.backoff_ms / 1000 * 2**attempt
                self._defer(wait_s)
                attempt += 1

    def _defer(self, wait_s: float) -> None:
        """Hold every later request back by ``wait_s`` (a 429 or a backoff)."""
        self._next_request_at = max(self._next_request_at, self._monotonic() + wait_s)

    async def _throttle(self) -> None:
        delay = self._next_request_at - self._monotonic()
        if delay > 0:
            await self._sleep(delay)

    def _space_next(self) -> None:
        """Hold the next request back by one interval from now, when this one has ended.

        The server saw this request at some moment before its reply (or our giving up)
        arrived, so spacing from here keeps the gap between the server's arrivals at least one
        interval, whatever the network or the server's queue did to this request."""
        self._next_request_at = max(self._next_request_at, self._monotonic() + self._interval_s)

    async def _request(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_ms / 1000)
        async with self._lock:
            await self._throttle()
            self.requests_total += 1
            try:
                async with self.session.get(
                    self.url, params=params, headers=self.headers, timeout=timeout
                ) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    body = await response.read()
            except TimeoutError:
                raise _RetryableError(
                    "timeout", f"no reply within {self.config.timeout_ms} ms"
                ) from None
            except aiohttp.ClientError as error:
                raise _RetryableError("connection", f"{type(error).__name__}: {error}") from None
            finally:
                self._space_next()
        return self._decode(status, retry_after, body)

    def _decode(self, status: int, retry_after: str | None, body: bytes) -> dict[str, Any]:
        if status == 429:
            wait_s = _retry_after_s(retry_after)
            if wait_s is not None:
                wait_s = min(wait_s, self.config.retry_after_max_ms / 1000)
            raise _RetryableError("rate_limited", "HTTP 429 Too Many Requests", wait_s)
        if status >= 500:
            raise _RetryableError("server_error", f"HTTP {status}")
        if status in (401, 403):
            raise VortexError("auth", f"HTTP {status}: check VORTEX_API_KEY / VORTEX_ACCESS_TOKEN")
        if status != 200:
            raise VortexError("http_error", f"HTTP {status}")
        try:
            reply = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as error:
            raise VortexError("malformed", f"reply is not JSON: {error}") from None
        if not isinstance(reply, dict):
            raise VortexError("malformed", "reply is not a JSON object")
        status_text = reply.get("status")
        if isinstance(status_text, str) and status_text.lower() != "success":
            raise VortexError("api_error", f"status {status_text!r}: {reply.get('message')}")
        data = reply.get("data")
        if not isinstance(data, dict):
            raise VortexError("malformed", "reply has no 'data' object")
        return data


def batches(ids: Iterable[str], size: int) -> list[list[str]]:
    """Split ids into consecutive batches of at most ``size``."""
    ordered = list(ids)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]
