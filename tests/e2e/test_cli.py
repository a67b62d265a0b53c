"""The ``paperdesk`` command against a real database: create-admin creates (then promotes) an
admin who can log in; import-instruments stores a Kite master that the server then loads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from gateway.cli import _load_master, main
from gateway.identity.passwords import verify_password

KITE_HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
    "lot_size,instrument_type,segment,exchange"
)
KITE_CSV = (
    KITE_HEADER
    + """
738561,2885,RELIANCE,RELIANCE INDUSTRIES,1542.8,,0,0.1,1,EQ,NSE,NSE
12345678,48225,NIFTY26DEC26100CE,NIFTY,350.5,2026-12-29,26100,0.05,65,CE,NFO-OPT,NFO
256265,26000,NIFTY 50,NIFTY 50,26000,,0,0,0,EQ,INDICES,INDICES
"""
)


async def fetch_one(dsn: str, sql: str, *args: object) -> asyncpg.Record | None:
    conn = await asyncpg.connect(dsn)
    try:
        row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
        return row
    finally:
        await conn.close()


def test_create_admin_when_run_twice_then_created_then_promoted(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    assert (
        main(["create-admin", "--email", "Boss@Paperdesk.test", "--password", "long-secret"]) == 0
    )
    assert "created" in capsys.readouterr().out
    row = asyncio.run(
        fetch_one(database, "SELECT * FROM users WHERE email = 'boss@paperdesk.test'")
    )
    assert row is not None and row["role"] == "ADMIN"
    assert verify_password("long-secret", row["password_hash"])
    assert (
        main(["create-admin", "--email", "boss@paperdesk.test", "--password", "long-secret"]) == 0
    )
    assert "promoted" in capsys.readouterr().out
    assert main(["create-admin", "--email", "x@paperdesk.test", "--password", "short"]) == 2


def test_import_instruments_when_kite_csv_then_stored_and_loaded(
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    path = tmp_path / "instruments.csv"
    path.write_text(KITE_CSV)
    assert main(["import-instruments", str(path)]) == 0
    out = capsys.readouterr().out
    assert "imported 2 instruments (kite layout)" in out
    assert "skipped 1" in out  # the index row
    master = asyncio.run(_load_master(database))
    option = master.get("NFO:NIFTY26DEC26100CE")
    assert option is not None and option.lot_size == 65 and option.tick_paise == 5
    assert master.get("NSE:RELIANCE") is not None
    assert main(["import-instruments", str(tmp_path / "missing.csv")]) == 2
