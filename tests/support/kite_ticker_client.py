"""The unmodified ``kiteconnect.KiteTicker`` client in a process of its own, for the KiteTicker
tests (tests/e2e/test_kite_ticker.py): Twisted's reactor cannot be restarted within a process,
so each connection the tests make runs this script.

    python tests/support/kite_ticker_client.py ROOT API_KEY ACCESS_TOKEN

It prints what the client's callbacks receive as JSON lines on stdout (``{"event": "connect"}``,
``ticks``, ``order``, ``heartbeat``, ``error``, ``close``, ``reconnect``, ``noreconnect``) and
takes commands as JSON lines on stdin: ``{"do": "subscribe" | "unsubscribe", "tokens": [...]}``,
``{"do": "mode", "mode": "full", "tokens": [...]}``, ``{"do": "send", "text": "..."}`` (a raw
text message) and ``{"do": "stop"}``.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from kiteconnect import KiteTicker
from twisted.internet import reactor


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


def main() -> None:
    root, api_key, access_token = sys.argv[1:4]
    ticker = KiteTicker(api_key, access_token, root=root, reconnect_max_delay=5)

    ticker.on_connect = lambda ws, response: emit("connect")
    ticker.on_ticks = lambda ws, ticks: emit("ticks", ticks=ticks)
    ticker.on_order_update = lambda ws, data: emit("order", data=data)
    ticker.on_error = lambda ws, code, reason: emit("error", code=code, reason=str(reason))
    stopping = False

    def halt() -> None:
        if reactor.running:
            reactor.stop()

    def on_close(ws: Any, code: int | None, reason: Any) -> None:
        emit("close", code=code, reason=str(reason))
        if stopping:
            halt()

    ticker.on_close = on_close
    ticker.on_reconnect = lambda ws, attempt: emit("reconnect", attempt=attempt)
    ticker.on_noreconnect = lambda ws: emit("noreconnect")

    def on_message(ws: Any, payload: bytes, is_binary: bool) -> None:
        if is_binary and len(payload) == 1:
            emit("heartbeat")

    ticker.on_message = on_message

    def command(line: str) -> None:
        order = json.loads(line)
        action = order["do"]
        if action == "subscribe":
            ticker.subscribe(order["tokens"])
        elif action == "unsubscribe":
            ticker.unsubscribe(order["tokens"])
        elif action == "mode":
            ticker.set_mode(order["mode"], order["tokens"])
        elif action == "send":
            ticker.ws.sendMessage(order["text"].encode())
        elif action == "stop":
            stop()

    def stop() -> None:
        # A clean close (the server sees the client leave), then the reactor stops.
        nonlocal stopping
        stopping = True
        if ticker.is_connected():
            ticker.close(1000, "done")
            reactor.callLater(2, halt)
        else:
            ticker.stop_retry()
            halt()

    def read_commands() -> None:
        for line in sys.stdin:
            if line.strip():
                reactor.callFromThread(command, line)
        reactor.callFromThread(stop)  # stdin closed: the test is done with this client

    threading.Thread(target=read_commands, daemon=True).start()
    ticker.connect()  # runs the reactor until stopped


if __name__ == "__main__":
    main()
