"""The risk book marks every open position at the last traded price and publishes the marks.

``unrealized = quantity × ltp − signed cost`` per position (long, short; an unpriced instrument
marks at 0), summed for the venue and per account; ``latest`` is swapped whole by each mark, so
a reader on another thread sees one mark or the next, never half of one.
"""

from __future__ import annotations

import numpy as np

from engine.market.risk import RiskBook, RiskMarks


def test_mark_when_long_and_short_positions_then_marks_by_hand() -> None:
    book = RiskBook(capacity=2)  # grows past its capacity
    book.upsert("a", "p1", 0, 10, 10 * 100_00)  # long 10 bought at ₹100
    book.upsert("a", "p2", 1, -5, -5 * 200_00)  # short 5 sold at ₹200
    book.upsert("b", "p3", 0, 2, 2 * 90_00)  # long 2 bought at ₹90
    ltp = np.array([101_00, 210_00, 0], dtype=np.int64)

    total = book.mark(ltp, at_ms=1_000)

    # a: +10.00 on p1, −50.00 on p2 = −40.00; b: +22.00
    assert total == 10_00 - 50_00 + 22_00
    assert book.latest == RiskMarks(1_000, 3, -18_00, 1)
    assert list(book.unrealized_by_group) == [-40_00, 22_00]


def test_mark_when_position_closed_or_unpriced_then_not_counted() -> None:
    book = RiskBook()
    book.upsert("a", "p1", 0, 10, 10 * 100_00)
    book.upsert("a", "p2", 2, 3, 3 * 50_00)  # its instrument has no price yet
    book.upsert("a", "p1", 0, 0, 0)  # closed

    book.mark(np.array([99_00, 0, 0], dtype=np.int64), at_ms=2_000)

    assert book.latest == RiskMarks(2_000, 1, 0, 0)
    assert book.instrument_indices() == {2}


def test_latest_when_marked_again_then_a_new_mark_replaces_the_old_whole() -> None:
    book = RiskBook()
    book.upsert("a", "p1", 0, -1, -100_00)
    first = book.latest
    book.mark(np.array([90_00], dtype=np.int64), at_ms=1)
    seen = book.latest
    book.mark(np.array([110_00], dtype=np.int64), at_ms=2)

    assert first == RiskMarks(0, 0, 0, 0)
    assert seen == RiskMarks(1, 1, 10_00, 0)
    assert book.latest == RiskMarks(2, 1, -10_00, 1)
