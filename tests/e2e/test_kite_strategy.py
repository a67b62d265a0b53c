"""docs/KITE.md's strategy, as written there, run against the real server with only its root
(and credentials) from the environment: the documentation's promise, kept by a test."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import aiohttp

from engine.domain.instruments import InstrumentMaster
from gateway.kite.listener import KITE_LISTENER
from tests.e2e.conftest import APPS, e2e_config, running_server
from tests.e2e.test_kite_connect import create_app
from tests.e2e.test_trading_journey import funded_user

KITE_DOC = Path(__file__).resolve().parents[2] / "docs" / "KITE.md"


def documented_strategy() -> str:
    section = KITE_DOC.read_text().split("## A strategy, unchanged but for its root", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "docs/KITE.md lost its strategy"
    return found.group(1)


def test_documented_strategy_when_run_against_paperdesk_then_it_trades_and_reports(
    master: InstrumentMaster, database: str, tmp_path: Path
) -> None:
    script = tmp_path / "strategy.py"
    script.write_text(documented_strategy())

    async def main() -> None:
        async with (
            running_server(database, e2e_config(), master) as base,
            aiohttp.ClientSession() as session,
        ):
            kite_url = APPS[base][KITE_LISTENER].url
            assert kite_url is not None
            user, account_id = await funded_user(session, base, "strategy@paperdesk.test", 50_000)
            api_key, _ = await create_app(user, account_id)
            _, apps, _ = await user.call("GET", "/api/console/apps")
            _, token, _ = await user.call(
                "POST", f"/api/console/apps/{apps['apps'][0]['id']}/token"
            )
            env = os.environ | {
                "KITE_ROOT": kite_url,
                "KITE_API_KEY": api_key,
                "KITE_ACCESS_TOKEN": token["accessToken"],
                "KITE_ROUNDS": "6",
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(script),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err.decode()
            lines = out.decode().splitlines()
            assert lines[-1].startswith("margin left ")
            for line in lines[:-1]:  # an order it placed, if its signal said so, filled
                side, _, status = line.split()
                assert side == "BUY" and status == "COMPLETE"

    asyncio.run(main())
