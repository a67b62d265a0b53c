"""Keyset pages for lists ordered newest first by ``(created_at, id)`` (API.md conventions).

A cursor is the last row's ``created_at`` and ``id``; the next page is the rows strictly before
it in that order (SQL: ``($n::timestamptz IS NULL OR (created_at, id) < ($n, $n+1))``). Rows
added meanwhile never shift a page, as an offset would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.decoding import validation_failure


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str]:
    """The (time, id) a cursor names, (None, "") for the first page; 400 if it is not ours."""
    if not cursor:
        return None, ""
    try:
        stamp, _, row_id = cursor.partition("~")
        return datetime.fromisoformat(stamp), row_id
    except ValueError:
        raise validation_failure("$.cursor", "not a cursor this server issued") from None


def page_of(rows: Sequence[Any], limit: int) -> tuple[Sequence[Any], str | None]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``) and the cursor after them."""
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    # UTC with a "Z", so the cursor needs no escaping in a query string ("+" would).
    stamp = last["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return page, f"{stamp}~{last['id']}"
