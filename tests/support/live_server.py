"""A real ``paperdesk serve`` in a subprocess, a small HTTP client, and an order-flow driver.

The crash and outage tests run the server exactly as an operator would (``python -m
gateway.cli serve``) against a database chosen by the test through ``DATABASE_URL``, on a free
loopback port, with an overlay that lifts the rate limits and fills MARKET orders at once. The
process is always killed by the context manager, whatever the test does.

``OrderFlow`` drives several client tasks placing LIMIT orders 10 % under the market (they
rest), MARKET orders (they fill at once) and cancels of their own resting orders, and records
every order and every cancel the server acknowledged with 200, plus every other answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from engine.domain.instruments import InstrumentMaster
from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV
from persistence.embedded import DATABASE_URL_ENV, EmbeddedPostgres
from tests.integration.conftest import fetch
from tests.support.sql_checks import assert_ledger_and_funds, verify_all_accounts

ADMIN_EMAIL = "admin@paperdesk.test"
ADMIN_PASSWORD = "kestrel-ledger-42"
USER_PASSWORD = "password-123"
REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
START_ATTEMPTS_MAX = 3  # a free port can be taken between choosing it and binding it
REQUEST_TIMEOUT_S = 20.0

FAST_CONFIG = """
[accounts]
opening_balance = "0"  # accounts open empty: each test funds what it checks

[execution]
market_fill_delay_ms = 0

[market]
jitter_interval_ms = 50

[metrics]
port = 0  # any free port: several servers (and suites) may run on this machine at once

[kite]
port = 0  # likewise; the server prints where (ServerProcess.kite_url)

[rate_limits]
orders_per_minute = 1000000
login_per_15_minutes = 1000
general_per_minute = 1000000
registrations_per_hour = 1000000
registrations_global_per_minute = 1000000
login_emails_per_client_per_15_minutes = 1000000
"""


def with_accounts(config_text: str, line: str) -> str:
    """``config_text`` with ``line`` added to its ``[accounts]`` table (TOML has one per file)."""
    return config_text.replace("[accounts]\n", f"[accounts]\n{line}\n", 1)


INSTRUMENTS = ("NSE:RELIANCE", "NSE:INFY", "NSE:TCS")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def work_directory() -> Iterator[Path]:
    """A scratch directory outside pytest's basetemp (see tests/integration/conftest.py)."""
    root = Path(tempfile.mkdtemp(prefix="paperdesk-srv-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class ServerProcess:
    """One ``paperdesk serve`` subprocess at a time on ``dsn``; restartable.

    With ``dsn=None`` the server runs its own embedded PostgreSQL (no ``DATABASE_URL``) in
    ``pg_data_dir``, which outlives each start; stop it with ``EmbeddedPostgres`` after a kill.
    """

    def __init__(self, dsn: str | None, work_dir: Path, config_text: str = FAST_CONFIG) -> None:
        self.dsn = dsn
        self.work_dir = work_dir
        self.config_path = work_dir / "overlay.toml"
        self.config_path.write_text(config_text)
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.starts = 0
        self.started_in_s = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def pg_data_dir(self) -> Path:
        """The embedded PostgreSQL's data directory (with ``dsn=None``)."""
        return self.work_dir / "var" / "pg"

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"server-{self.starts}.log"

    def kite_url(self) -> str:
        """Where this start's Kite Connect facade listens (the line ``serve`` prints)."""
        found = re.search(r"Kite Connect root at (\S+)", self.log_path.read_text(errors="replace"))
        assert found is not None, self.log_tail()
        return found.group(1)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> str:
        """Start the server and wait until ``/api/health`` answers; return its base URL."""
        assert self.process is None or self.process.poll() is not None, "already running"
        for _ in range(START_ATTEMPTS_MAX):
            if self._start_once(free_port()):
                return self.base
        raise AssertionError(f"server did not start:\n{self.log_tail()}")

    def _start_once(self, port: int) -> bool:
        self.starts += 1
        env = dict(os.environ)
        if self.dsn is None:
            env.pop(DATABASE_URL_ENV, None)
        else:
            env[DATABASE_URL_ENV] = self.dsn
        env[ADMIN_EMAIL_ENV] = ADMIN_EMAIL
        env[ADMIN_PASSWORD_ENV] = ADMIN_PASSWORD
        began = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "serve",
                    "--config",
                    str(self.config_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(self.work_dir / "var"),
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{port}"
        deadline = began + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: most likely the port was taken; try another
            if _health_answers(port):
                self.started_in_s = time.monotonic() - began
                return True
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"server not healthy in {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no goodbye to the database."""
        process = self.process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (aiohttp's graceful exit), SIGKILL if it does not finish in time."""
        process = self.process
        assert process is not None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        assert process.returncode is not None
        return process.returncode


def _health_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
            return status_line.split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


@contextmanager
def server_process(
    dsn: str | None, work_dir: Path, config_text: str = FAST_CONFIG
) -> Iterator[ServerProcess]:
    """A started server; killed on the way out, whatever happened."""
    server = ServerProcess(dsn, work_dir, config_text)
    try:
        server.start()
        yield server
    finally:
        server.kill()


def client_session() -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64))


# -- a server on its own embedded PostgreSQL -------------------------------------------------

# Replies held for a commit time out after 2 s instead of 5 s, so a graceful stop does not
# wait 5 s for a request held when the database died (aiohttp lets handlers finish).
SUPERVISED_CONFIG = with_accounts(FAST_CONFIG, "ask_timeout_ms = 2000")


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid in ``postmaster.pid`` (None when the file is absent)."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """A live process (a killed one not yet reaped is a zombie: dead)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def stop_embedded(data_dir: Path) -> None:
    """Stop the server's PostgreSQL once the server is gone (it outlives a SIGKILL)."""
    if (data_dir / "PG_VERSION").exists():
        embedded = EmbeddedPostgres(data_dir)
        embedded.start()  # attaches, forgetting the killed server's handle
        embedded.stop()


@contextlib.contextmanager
def embedded_server(work: Path, config_text: str = SUPERVISED_CONFIG) -> Iterator[ServerProcess]:
    """A started server on its own (supervised) embedded PostgreSQL; both gone on the way out."""
    server = ServerProcess(None, work, config_text)
    try:
        server.start()
        yield server
    finally:
        server.kill()
        stop_embedded(server.pg_data_dir)


@contextlib.contextmanager
def stored(server: ServerProcess) -> Iterator[str]:
    """The DSN of the stopped server's database, started (or attached to, if it outlived a
    kill) for the checks and stopped after."""
    embedded = EmbeddedPostgres(server.pg_data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


class Client:
    """A JSON client for one user, authenticated with a bearer token."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.headers: dict[str, str] = {}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, self.base + path, json=body, headers=self.headers
        ) as response:
            text = await response.text()
            try:
                payload = await response.json(content_type=None) if text else None
            except ValueError:
                payload = text
            return response.status, payload

    async def login(self, email: str, password: str = USER_PASSWORD) -> None:
        status, body = await self.call(
            "POST", "/api/auth/login", {"email": email, "password": password}
        )
        assert status == 200, body
        self.headers["Authorization"] = f"Bearer {body['token']}"

    async def register(self, email: str) -> str:
        """Register and sign in; return the new trading account id."""
        status, body = await self.call(
            "POST",
            "/api/auth/register",
            {"email": email, "password": USER_PASSWORD, "name": "Trader"},
        )
        assert status == 201, body
        await self.login(email)
        account_id: str = body["tradingAccount"]["id"]
        return account_id

    async def orders(self, account_id: str) -> dict[str, dict[str, Any]]:
        """Every order of the account, through the paginated list route."""
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        for _ in range(100):
            path = f"/api/trading/orders?tradingAccountId={account_id}&limit=500"
            if cursor:
                path += f"&cursor={cursor}"
            status, body = await self.call("GET", path)
            assert status == 200, body
            found.update({o["id"]: o for o in body["items"]})
            cursor = body["nextCursor"]
            if cursor is None:
                return found
        raise AssertionError("too many pages")


async def funded_users(
    session: aiohttp.ClientSession, base: str, count: int, rupees: int, tag: str
) -> list[tuple[Client, str]]:
    """``count`` registered users, each with ``rupees`` credited by the admin."""
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    users: list[tuple[Client, str]] = []
    for n in range(count):
        user = Client(session, base)
        account_id = await user.register(f"{tag}-{n}@paperdesk.test")
        status, body = await admin.call(
            "POST",
            "/api/trading/funds",
            {
                "tradingAccountId": account_id,
                "operation": "CREDIT",
                "amount": rupees,
                "description": "seed",
            },
        )
        assert status == 200, body
        users.append((user, account_id))
    return users


async def resting_prices(client: Client, master: InstrumentMaster) -> dict[str, float]:
    """A LIMIT buy price per instrument 10 % under the market (on the tick grid)."""
    prices: dict[str, float] = {}
    for ticker in INSTRUMENTS:
        instrument = master.get(ticker)
        assert instrument is not None
        key = instrument.instrument_id
        status, body = await client.call("GET", f"/api/quotes?q={key}&mode=ltp")
        assert status == 200, body
        ltp_paise = round(float(body["data"][key]["ltp"]) * 100)
        tick = instrument.tick_paise
        prices[key] = (ltp_paise * 9 // 10 // tick * tick) / 100
    return prices


def order_body(account_id: str, instrument_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "tradingAccountId": account_id,
        "instrumentId": instrument_id,
        "quantity": 1,
        "orderType": "MARKET",
        "orderSide": "BUY",
        "productType": "MIS",
    }
    return body | overrides


@dataclass(slots=True)
class Answer:
    """One answered request of the flow (times in event-loop seconds)."""

    kind: str  # LIMIT, MARKET or CANCEL
    sent_s: float
    done_s: float
    status: int
    code: str | None
    message: str | None
    order_id: str | None


@dataclass
class OrderFlow:
    """Concurrent order traffic; every acknowledgement is recorded as it arrives."""

    prices: dict[str, float]
    seed: int = 7
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lost_server: bool = False  # connection errors are expected (the server was killed)
    acked_orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (acct, kind)
    acked_cancels: set[str] = field(default_factory=set)
    answers: list[Answer] = field(default_factory=list)
    in_flight: int = 0
    connection_errors: int = 0  # requests with no HTTP answer (cut off by the kill)
    runs: int = 0  # each run draws new random streams (and so new clientOrderIds)
    # Orders (each with a clientOrderId) answered 503, by clientOrderId -> (code, body), and
    # orders cut off with no answer: what a client would retry, and what must not exist when
    # the answer was "not carried out".
    refused_orders: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    cut_off_orders: list[dict[str, Any]] = field(default_factory=list)

    async def run(self, users: list[tuple[Client, str]], workers_per_user: int) -> None:
        """Run the workers until ``stop`` is set (or, with ``lost_server``, the server dies)."""
        self.runs += 1
        tasks = [
            asyncio.create_task(
                self._worker(client, account_id, random.Random(f"{self.seed}-{self.runs}-{n}-{w}"))
            )
            for n, (client, account_id) in enumerate(users)
            for w in range(workers_per_user)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def running(
        self, users: list[tuple[Client, str]], workers_per_user: int
    ) -> AsyncIterator[asyncio.Task[None]]:
        """The flow as a task, cancelled on the way out if it is still running."""
        task = asyncio.create_task(self.run(users, workers_per_user))
        try:
            yield task
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _worker(self, client: Client, account_id: str, rng: random.Random) -> None:
        resting: list[str] = []
        instruments = list(self.prices)
        while not self.stop.is_set():
            roll = rng.random()
            instrument_id = rng.choice(instruments)
            if roll < 0.25 and resting:
                order_id = resting.pop(rng.randrange(len(resting)))
                request = ("DELETE", "/api/trading/orders", {"orderId": order_id}, "CANCEL")
            elif roll < 0.6:
                body = order_body(
                    account_id,
                    instrument_id,
                    orderType="LIMIT",
                    price=self.prices[instrument_id],
                    quantity=rng.randint(1, 5),
                    clientOrderId=f"flow-{rng.getrandbits(64):x}",
                )
                request = ("POST", "/api/trading/orders", body, "LIMIT")
            else:
                side = rng.choice(("BUY", "SELL"))
                body = order_body(
                    account_id,
                    instrument_id,
                    orderSide=side,
                    clientOrderId=f"flow-{rng.getrandbits(64):x}",
                )
                request = ("POST", "/api/trading/orders", body, "MARKET")
            answer = await self._send(client, *request)
            if answer is None:
                return
            if answer.status == 200 and answer.kind == "LIMIT" and answer.order_id:
                resting.append(answer.order_id)
            if answer.status not in (200, 503):
                await asyncio.sleep(0.02)  # keep an unexpected error from spinning
            elif answer.status == 503:
                await asyncio.sleep(0.005)

    async def _send(
        self, client: Client, method: str, path: str, body: dict[str, Any], kind: str
    ) -> Answer | None:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        self.in_flight += 1
        try:
            status, payload = await client.call(method, path, body)
        except (aiohttp.ClientError, TimeoutError):
            self.connection_errors += 1
            if kind != "CANCEL":
                self.cut_off_orders.append(body)
            if self.lost_server:
                return None
            raise
        finally:
            self.in_flight -= 1
        order = payload.get("order") if isinstance(payload, dict) else None
        error = payload.get("error") if isinstance(payload, dict) else None
        if status == 503 and kind != "CANCEL":
            code = error.get("code") if isinstance(error, dict) else None
            self.refused_orders[body["clientOrderId"]] = (code, body)
        order_id = order["id"] if status == 200 and order else None
        if status == 200 and kind == "CANCEL":
            assert order and order["status"] == "CANCELLED", payload
            self.acked_cancels.add(order["id"])
        elif status == 200 and order_id:
            assert order is not None and order["status"] == "PENDING", payload
            self.acked_orders[order_id] = (order["tradingAccountId"], kind)
        answer = Answer(
            kind=kind,
            sent_s=sent,
            done_s=loop.time(),
            status=status,
            code=error.get("code") if isinstance(error, dict) else None,
            message=error.get("message") if isinstance(error, dict) else None,
            order_id=order_id,
        )
        self.answers.append(answer)
        return answer


async def wait_for(check: Any, timeout_s: float, what: str, interval_s: float = 0.05) -> float:
    """Poll the coroutine function ``check`` until it returns true; return the seconds taken."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    while not await check():
        if loop.time() - began > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(interval_s)
    return loop.time() - began


# -- what must hold in the database after a crash or an outage --------------------------------

ORDER_STATES = {
    "LIMIT": {"PENDING", "CANCELLED", "EXECUTED"},
    "MARKET": {"PENDING", "EXECUTED"},
}


def assert_database_consistent(
    dsn: str, acked_orders: dict[str, tuple[str, str]], acked_cancels: set[str]
) -> dict[str, int]:
    """Every acknowledged order and cancel is stored; ledger, funds and journal agree.

    Returns the order count per status, for the report.
    """
    rows = {
        r["id"]: r
        for r in fetch(
            dsn,
            "SELECT id, trading_account_id, order_type, status FROM orders WHERE id = ANY($1)",
            list(acked_orders),
        )
    }
    missing = sorted(set(acked_orders) - set(rows))
    assert not missing, f"{len(missing)} acknowledged orders lost, e.g. {missing[:5]}"
    for order_id, (account_id, kind) in acked_orders.items():
        row = rows[order_id]
        assert row["trading_account_id"] == account_id, dict(row)
        assert row["order_type"] == kind, dict(row)
        assert row["status"] in ORDER_STATES[kind], dict(row)
    for order_id in acked_cancels:
        assert rows[order_id]["status"] == "CANCELLED", dict(rows[order_id])
    accounts = assert_ledger_and_funds(dsn)
    negative = fetch(
        dsn,
        "SELECT id, balance_paise, blocked_paise FROM trading_accounts"
        " WHERE balance_paise - blocked_paise < 0",
    )
    assert not negative, [dict(r) for r in negative]
    verified = verify_all_accounts(dsn)
    assert len(verified) == accounts
    assert all(verified.values()), verified
    return {
        r["status"]: r["n"]
        for r in fetch(dsn, "SELECT status, count(*) AS n FROM orders GROUP BY status")
    }


def assert_funds_stored(dsn: str, funds_by_account: dict[str, dict[str, Any]]) -> None:
    """The engine's funds (``GET /api/trading/funds``, taken at rest) equal the stored ones."""
    stored = {r["id"]: r for r in fetch(dsn, "SELECT * FROM trading_accounts")}
    for account_id, funds in funds_by_account.items():
        row = stored[account_id]
        assert round(funds["balance"] * 100) == row["balance_paise"], (funds, dict(row))
        assert round(funds["blockedMargin"] * 100) == row["blocked_paise"], (funds, dict(row))
        assert round(funds["realizedPnl"] * 100) == row["realized_pnl_paise"], (funds, dict(row))
        assert round(funds["totalCharges"] * 100) == row["charges_paise"], (funds, dict(row))


async def pending_market_orders(clients: list[Client]) -> int:
    """MARKET orders still PENDING over these users' accounts (their first account each)."""
    count = 0
    for client in clients:
        status, body = await client.call("GET", "/api/trading/orders?status=PENDING&limit=500")
        assert status == 200, body
        count += sum(1 for o in body["items"] if o["orderType"] == "MARKET")
    return count
