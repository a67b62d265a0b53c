"""Batching and the request rate limit, over a generated 1,500-instrument Vortex master.

Proves that a master imported from a generated Vortex ``master.csv`` (no reference prices) gets
its references from the poller; that 1,500 subscribed instruments go out as exactly two requests
(1,000 + 500 ids, every id once) no closer than one second apart, the next round keeping the same
pace; and that the poll loop started by ``run`` keeps polling until cancelled.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from engine.domain.instruments import InstrumentMaster
from engine.market.instrument_import import read_master_file
from tests.support.vortex_fake import Harness, harness, quote_payload

pytestmark = pytest.mark.timeout(30)

INSTRUMENTS = 1500
VORTEX_HEADER = (
    "token,exchange,symbol,instrument_name,series,expiry_date,option_type,strike_price,tick,"
    "lot_size,eligibility,security_desc,asm_gsm_stage,last_trading_date,isin_code,ticker,"
    "has_cas_session"
)


def generated_master(path: Path) -> InstrumentMaster:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        handle.write(VORTEX_HEADER + "\n")
        for n in range(INSTRUMENTS):
            token = 10_000 + n
            symbol = f"GEN{n:04d}"
            row = [token, "NSE_EQ", symbol, "EQUITIES", "EQ", "", "", "", "5", "1", "1"]
            row += [f"GENERATED {n}", "", "", "", f"NSE:{symbol}", "false"]
            writer.writerow(row)
    return InstrumentMaster(read_master_file(path))


def test_poll_when_1500_in_use_then_two_batches_at_most_one_request_per_second(
    tmp_path: Path,
) -> None:
    master = generated_master(tmp_path / "master.csv")
    assert len(master) == INSTRUMENTS

    async def scenario(h: Harness) -> None:
        for n in range(INSTRUMENTS):
            h.fake.quotes[f"NSE_EQ-{10_000 + n}"] = quote_payload(f"{100 + n}.05")
        h.engine.subscribe(range(INSTRUMENTS))
        result = await h.poller.poll_once()
        assert not result.failures
        assert [len(s.ids) for s in h.fake.seen] == [1000, 500]
        sent = [i for s in h.fake.seen for i in s.ids]
        assert len(set(sent)) == INSTRUMENTS
        assert h.fake.seen[1].at_s - h.fake.seen[0].at_s >= 0.95
        assert result.pushed == INSTRUMENTS

        h.engine.tick()
        reference = h.engine.market.reference
        assert int(reference[0]) == 100_05
        assert int(reference[INSTRUMENTS - 1]) == (100 + INSTRUMENTS - 1) * 100 + 5
        assert int(h.engine.market.snapshot.ltp[INSTRUMENTS - 1]) > 0

        await h.poller.poll_once()
        gaps = [b.at_s - a.at_s for a, b in zip(h.fake.seen, h.fake.seen[1:], strict=False)]
        assert len(gaps) == 3
        assert min(gaps) >= 0.95

    async def main() -> None:
        async with harness(master, requests_per_second_max=1) as h:
            await scenario(h)

    asyncio.run(main())


def test_run_when_started_then_polls_every_interval_until_cancelled(
    master: InstrumentMaster,
) -> None:
    async def main() -> None:
        async with harness(master, poll_interval_ms=50) as h:
            h.fake.quotes["NSE_EQ-2885"] = quote_payload("1600.00")
            task = asyncio.create_task(h.poller.run())
            await asyncio.sleep(0.4)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            rounds = len(h.fake.seen)
            assert 3 <= rounds <= 10
            await asyncio.sleep(0.15)
            assert len(h.fake.seen) == rounds  # stopped
            assert h.source.rounds_total == rounds

    asyncio.run(main())
