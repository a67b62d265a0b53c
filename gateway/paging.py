"""Keyset pages for lists ordered newest first by a time and ``id`` (docs/API.md conventions):
``(created_at, id)`` for most, ``(executed_at, id)`` for trades.

A cursor is the last row's time and ``id``; the next page is the rows strictly before it in that
order (the page queries of ``persistence.read_models``: ``($n::timestamptz IS NULL OR
(created_at, id) < ($n, $n+1))``). Rows added meanwhile never shift a page, as an offset would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.errors import validation_failure

# Exactly what page_of writes: anything looser (an offset, no zone, a six-digit year) could name
# a time PostgreSQL or asyncpg cannot represent and fail as a 500 instead of a 400.
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_CURSOR = re.compile(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)~(?P<id>[^\x00]+)", re.ASCII
)
_NOT_OURS = "not a cursor this server issued"


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str]:
    """The (time, id) a cursor names, (None, "") for the first page; 400 if it is not ours."""
    if not cursor:
        return None, ""
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise validation_failure("$.cursor", _NOT_OURS)
    try:
        stamp = datetime.strptime(match["stamp"], CURSOR_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # the right shape but no such day or time (02-30, 25:00)
        raise validation_failure("$.cursor", _NOT_OURS) from None
    return stamp, match["id"]


def page_of(
    rows: Sequence[Any], limit: int, time_column: str = "created_at"
) -> tuple[Sequence[Any], str | None]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``, ordered by ``time_column``
    and ``id``) and the cursor after them."""
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    # UTC with a "Z", so the cursor needs no escaping in a query string ("+" would).
    stamp = last[time_column].astimezone(UTC).strftime(CURSOR_FORMAT)
    return page, f"{stamp}~{last['id']}"
