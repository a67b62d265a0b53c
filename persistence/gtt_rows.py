"""The ``gtts`` rows a GTT event changes (migration 0017), in the column order of
``writer.UPSERT_GTTS``: pure Python, called by ``persistence.projection`` with the GTT as it was
before the event and the state after it. Rows carry absolute values (an upsert)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
import orjson

from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.gtt import Gtt, GttLeg, GttStatus, GttType

GTT_EVENTS = (ev.GttPlaced, ev.GttModified, ev.GttDeleted, ev.GttTriggered, ev.GttExpired)


def gtt_row(
    account_id: str,
    gtt: Gtt,
    at: Callable[[int], datetime],
    *,
    status: GttStatus,
    fired: ev.GttTriggered | None = None,
) -> tuple[Any, ...]:
    return (
        gtt.gtt_id,
        account_id,
        gtt.instrument_id,
        gtt.gtt_type.value,
        status.value,
        gtt.last_price_paise,
        orjson.Fragment(msgspec.json.encode(gtt.legs)),
        gtt.version,
        at(gtt.created_ms),
        at(gtt.updated_ms),
        at(gtt.expires_ms),
        None if fired is None else fired.leg,
        None if fired is None else fired.ltp_paise,
        None if fired is None else fired.placed_order_id,
        None if fired is None or not fired.rejection else fired.rejection,
    )


def project_gtt(
    state: AccountState,
    event: ev.AccountEvent,
    before: Gtt | None,
    at: Callable[[int], datetime],
    rows: dict[str, tuple[Any, ...]],
) -> None:
    """Add the row of the GTT ``event`` (just applied to ``state``) placed, changed or ended.
    ``at`` turns milliseconds into the datetimes the row holds."""
    if not isinstance(event, GTT_EVENTS):
        return
    account_id = state.account_id
    active = state.gtts.get(event.gtt_id)
    if active is not None:
        rows[event.gtt_id] = gtt_row(account_id, active, at, status=active.status)
        return
    if before is None:
        return  # an end of a GTT the mirror never held: nothing to write (cannot happen)
    ended = msgspec.structs.replace(before, updated_ms=event.at_ms)
    fired = event if isinstance(event, ev.GttTriggered) else None
    if fired is not None:
        status = GttStatus.REJECTED if fired.rejection else GttStatus.TRIGGERED
    elif isinstance(event, ev.GttExpired):
        status = GttStatus(event.status)
    else:
        status = GttStatus.CANCELLED
    rows[event.gtt_id] = gtt_row(account_id, ended, at, status=status, fired=fired)


def gtt_of_row(row: Any, ms_of: Callable[[datetime], int]) -> Gtt:
    """An ACTIVE ``gtts`` row back as the GTT the account holds (recovery's check)."""
    legs = msgspec.json.decode(row["legs"], type=tuple[GttLeg, ...])
    return Gtt(
        gtt_id=row["id"],
        instrument_id=row["instrument_id"],
        gtt_type=GttType(row["gtt_type"]),
        last_price_paise=row["last_price_paise"],
        legs=legs,
        status=GttStatus(row["status"]),
        created_ms=ms_of(row["created_at"]),
        updated_ms=ms_of(row["updated_at"]),
        expires_ms=ms_of(row["expires_at"]),
        version=row["version"],
    )
