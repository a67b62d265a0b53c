"""Structured logs: one JSON object per line with time, level, logger, message, extra fields
and the stack of an exception."""

from __future__ import annotations

import logging
import sys

import orjson

from gateway.observability.logs import JsonFormatter


def test_json_formatter_when_record_has_extra_and_exception_then_one_object() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.getLogger("paperdesk.test").makeRecord(
        "paperdesk.test",
        logging.ERROR,
        __file__,
        1,
        "order %s failed",
        ("o-1",),
        exc_info,
        extra={"account_id": "a-1"},
    )
    line = JsonFormatter().format(record)
    entry = orjson.loads(line)
    assert "\n" not in line
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "paperdesk.test"
    assert entry["message"] == "order o-1 failed"
    assert entry["account_id"] == "a-1"
    assert entry["time"].endswith("+00:00")
    assert "ValueError: boom" in entry["stack"]
