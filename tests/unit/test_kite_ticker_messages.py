"""What the KiteTicker hub does with each client message, table by table, without a socket:
subscribe starts (and resets) tokens in ``quote``, mode changes only subscribed tokens,
unsubscribe forgets them, the engine's instruments in use follow, and every malformed message,
unknown token or token past ``ticker_instruments_max`` is answered with Kite's error message
while the rest of the message still applies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from engine.actors.trading_engine import TradingEngine
from engine.config import Config, load_config
from engine.domain.instruments import InstrumentMaster
from gateway.kite.access import KiteAccess
from gateway.kite.ticker import TickerClient, TickerHub
from gateway.kite.ticker_packets import Mode
from gateway.kite.tokens import KiteTokens

ACCESS = KiteAccess("USER-1", "ACC-1", "APP-1", "key", datetime(2100, 1, 1, tzinfo=UTC))


async def refuse_all(api_key: str, access_token: str) -> KiteAccess | None:
    return None


@pytest.fixture
def engine(config: Config, master: InstrumentMaster) -> TradingEngine:
    return TradingEngine(config, master)  # never started: its master and in-use set suffice


def hub_of(engine: TradingEngine, config: Config, instruments_max: int = 3000) -> TickerHub:
    limits = replace(config.kite, ticker_instruments_max=instruments_max)
    return TickerHub(
        engine.market,
        engine.depth,
        engine.in_use,
        limits,
        tokens=KiteTokens(engine.market.master, config.kite.index_tokens),
        authenticate=refuse_all,
        send_queue_max=8,
    )


def new_client() -> TickerClient:
    return TickerClient(None, ACCESS, queue_max=8, heartbeat_s=1)  # type: ignore[arg-type]


def token(master: InstrumentMaster, ticker: str) -> int:
    found = master.get(ticker)
    assert found is not None
    return KiteTokens(master, load_config().kite.index_tokens).token_of(found)


def send(hub: TickerHub, client: TickerClient, message: Any) -> str | None:
    text = message if isinstance(message, str) else orjson.dumps(message).decode()
    reply = hub.handle_message(client, text)
    return None if reply is None else orjson.loads(reply)["data"]


def test_subscribe_then_quote_mode_and_instruments_in_use(
    engine: TradingEngine, config: Config, master: InstrumentMaster
) -> None:
    hub, client = hub_of(engine, config), new_client()
    reliance, tcs = token(master, "NSE:RELIANCE"), token(master, "NSE:TCS")
    assert send(hub, client, {"a": "subscribe", "v": [reliance, tcs, reliance]}) is None
    assert client.modes == {reliance: Mode.QUOTE, tcs: Mode.QUOTE}
    assert engine.in_use_indices() == {
        master.index_of("NSE:RELIANCE"),
        master.index_of("NSE:TCS"),
    }


def test_mode_then_only_subscribed_tokens_change_and_subscribe_resets_to_quote(
    engine: TradingEngine, config: Config, master: InstrumentMaster
) -> None:
    hub, client = hub_of(engine, config), new_client()
    reliance, tcs = token(master, "NSE:RELIANCE"), token(master, "NSE:TCS")
    send(hub, client, {"a": "subscribe", "v": [reliance]})
    assert send(hub, client, {"a": "mode", "v": ["full", [reliance, tcs]]}) is None
    assert client.modes == {reliance: Mode.FULL}  # mode does not subscribe
    send(hub, client, {"a": "mode", "v": ["ltp", [reliance]]})
    assert client.modes == {reliance: Mode.LTP}
    send(hub, client, {"a": "subscribe", "v": [reliance]})
    assert client.modes == {reliance: Mode.QUOTE}  # as the client records a subscribe


def test_unsubscribe_then_forgotten_and_released_once(
    engine: TradingEngine, config: Config, master: InstrumentMaster
) -> None:
    hub, first, second = hub_of(engine, config), new_client(), new_client()
    reliance = token(master, "NSE:RELIANCE")
    send(hub, first, {"a": "subscribe", "v": [reliance]})
    send(hub, second, {"a": "subscribe", "v": [reliance]})
    assert send(hub, first, {"a": "unsubscribe", "v": [reliance, reliance, 42]}) is None
    assert first.modes == first.indices == {}
    assert engine.in_use_indices() == {master.index_of("NSE:RELIANCE")}  # second still has it
    send(hub, second, {"a": "unsubscribe", "v": [reliance]})
    assert engine.in_use_indices() == frozenset()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("{not json", "Invalid message: not JSON."),
        ("[1, 2]", 'Invalid message: "a" must be subscribe, unsubscribe or mode.'),
        ({"v": [1]}, 'Invalid message: "a" must be subscribe, unsubscribe or mode.'),
        ({"a": "subscribe"}, "Invalid message: tokens must be a list of integers."),
        ({"a": "subscribe", "v": 738561}, "Invalid message: tokens must be a list of integers."),
        (
            {"a": "subscribe", "v": ["738561"]},
            "Invalid message: tokens must be a list of integers.",
        ),
        ({"a": "subscribe", "v": [True]}, "Invalid message: tokens must be a list of integers."),
        ({"a": "subscribe", "v": [-1]}, "Invalid message: tokens must be a list of integers."),
        ({"a": "subscribe", "v": [2**32]}, "Invalid message: tokens must be a list of integers."),
        ({"a": "mode", "v": ["full"]}, 'Invalid mode message: expected "v": [mode, [tokens]].'),
        ({"a": "mode", "v": "full"}, 'Invalid mode message: expected "v": [mode, [tokens]].'),
        ({"a": "mode", "v": ["deep", [1]]}, "Invalid mode 'deep': expected ltp, quote or full."),
        ({"a": "mode", "v": ["full", 1]}, "Invalid message: tokens must be a list of integers."),
    ],
)
def test_malformed_message_then_error_and_nothing_changes(
    engine: TradingEngine, config: Config, message: Any, error: str
) -> None:
    hub, client = hub_of(engine, config), new_client()
    assert send(hub, client, message) == error
    assert client.modes == {}


def test_tokens_past_the_cap_or_unknown_then_named_and_the_rest_subscribed(
    engine: TradingEngine, config: Config, master: InstrumentMaster
) -> None:
    hub, client = hub_of(engine, config, instruments_max=2), new_client()
    reliance, tcs, infy = (token(master, f"NSE:{name}") for name in ("RELIANCE", "TCS", "INFY"))
    error = send(hub, client, {"a": "subscribe", "v": [7, reliance, tcs, infy]})
    assert error == (
        f"At most 2 instruments per connection; not subscribed: {infy}."
        " Unknown instrument tokens, not subscribed: 7."
    )
    assert set(client.modes) == {reliance, tcs}
    assert send(hub, client, {"a": "subscribe", "v": [reliance]}) is None  # already in


def test_many_tokens_left_out_then_the_error_names_twenty(
    engine: TradingEngine, config: Config
) -> None:
    hub, client = hub_of(engine, config), new_client()
    error = send(hub, client, {"a": "subscribe", "v": list(range(1, 26))})
    assert error is not None
    assert error.endswith(", 20 and 5 more.")


def test_every_listed_instrument_then_found_by_its_kite_token(
    engine: TradingEngine, config: Config, master: InstrumentMaster
) -> None:
    hub = hub_of(engine, config)
    for index, listed in enumerate(master):  # tokens are unique (tests/unit/test_kite_tokens.py)
        assert hub.index_of_token(hub.tokens.token_of(listed)) == index
