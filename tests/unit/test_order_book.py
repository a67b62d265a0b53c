"""The price-level book holds each key once, fires exactly what the market reaches, in order.

``engine.market.order_book.LevelBook`` is the order book of the market actor: a resting limit or
stop order (or a position's exit level) is a key at a price level in paise, and a tick pops every
key the market price has reached. This module tests the book on its own, without the actors:

* add, re-add (a modify) and remove (a cancel): the key rests once, at its latest level only, and
  a removed or replaced entry never fires again;
* ``pop_at_or_below`` fires levels <= market, ``pop_at_or_above`` levels >= market, a level
  exactly at the market included and one paisa beyond it not; what fired leaves the book;
* priority: keys come out by price level, then by arrival (a re-added key queues behind);
* boundary prices: zero, one paisa and the largest int64 level;
* ``InstrumentBooks`` keeps eight independent books and counts them all;
* with Hypothesis, any sequence of adds, removes and pops matches a plain list model.

Keys are ``(account_id, order_id)`` tuples as the market actor uses them.
"""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market.order_book import InstrumentBooks, LevelBook

A = ("acc-1", "o1")
B = ("acc-1", "o2")
C = ("acc-2", "o1")
D = ("acc-2", "o2")

INT64_MAX = 2**63 - 1


def _book(*entries: tuple[Hashable, int]) -> LevelBook:
    """A book with ``(key, level)`` entries added in the given order."""
    book = LevelBook()
    for key, level in entries:
        book.add(key, level)
    return book


def _pop(book: LevelBook, direction: str, market: int) -> list[Hashable]:
    if direction == "below":
        return book.pop_at_or_below(market)
    return book.pop_at_or_above(market)


def _keys(book: LevelBook, *candidates: Hashable) -> set[Hashable]:
    return {key for key in candidates if key in book}


# -------------------------------------------------------------------------------------------
# add, contains, len


def test_level_book_when_empty_then_nothing_rests_and_nothing_fires() -> None:
    book = LevelBook()

    assert len(book) == 0
    assert A not in book
    assert book.pop_at_or_below(INT64_MAX) == []
    assert book.pop_at_or_above(0) == []
    assert len(book) == 0


def test_level_book_when_keys_added_then_each_is_counted_and_contained() -> None:
    book = _book((A, 100_00), (B, 100_00), (C, 250_50))

    assert len(book) == 3
    assert A in book
    assert B in book
    assert C in book
    assert D not in book
    assert ("acc-1",) not in book


@pytest.mark.parametrize("direction", ["below", "above"])
def test_level_book_when_key_added_again_then_only_its_new_level_rests(direction: str) -> None:
    # A modify re-adds the key: its old level must leave the book.
    book = _book((A, 100_00), (B, 300_00))
    book.add(A, 500_00)

    assert len(book) == 2
    # the old level 100_00 is crossed by neither pop: 300_00 (below) / 400_00 (above) only
    # reach A if A still rested at 100_00
    if direction == "below":
        assert book.pop_at_or_below(300_00) == [B]
        assert book.pop_at_or_below(499_99) == []
        assert book.pop_at_or_below(500_00) == [A]
    else:
        assert book.pop_at_or_above(500_01) == []
        assert book.pop_at_or_above(400_00) == [A]
        assert book.pop_at_or_above(0) == [B]
    assert len(book) == 0
    assert A not in book


def test_level_book_when_key_added_again_below_then_old_higher_level_never_fires() -> None:
    book = _book((A, 500_00))
    book.add(A, 100_00)

    assert book.pop_at_or_above(200_00) == []
    assert len(book) == 1
    assert book.pop_at_or_above(100_00) == [A]
    assert len(book) == 0


# -------------------------------------------------------------------------------------------
# remove (cancel)


@pytest.mark.parametrize("direction", ["below", "above"])
def test_level_book_when_key_removed_then_it_leaves_the_book_and_never_fires(
    direction: str,
) -> None:
    book = _book((A, 100_00), (B, 100_00), (C, 100_00))

    assert book.remove(B) is True

    assert len(book) == 2
    assert B not in book
    assert _keys(book, A, B, C) == {A, C}
    assert _pop(book, direction, 100_00) == [A, C]
    assert len(book) == 0


def test_level_book_when_absent_key_removed_then_false_and_book_unchanged() -> None:
    book = _book((A, 100_00))

    assert book.remove(B) is False
    assert book.remove(A) is True
    assert book.remove(A) is False

    assert len(book) == 0
    assert book.pop_at_or_below(INT64_MAX) == []
    assert book.pop_at_or_above(0) == []


def test_level_book_when_empty_and_key_removed_then_false() -> None:
    assert LevelBook().remove(A) is False


def test_level_book_when_removed_key_added_again_then_it_rests_at_the_new_level() -> None:
    book = _book((A, 100_00))
    book.remove(A)
    book.add(A, 200_00)

    assert len(book) == 1
    assert book.pop_at_or_below(199_99) == []
    assert book.pop_at_or_below(200_00) == [A]


# -------------------------------------------------------------------------------------------
# firing: which levels the market reaches


# levels: A 100.00, B 200.00, C 200.00 (after B), D 300.00
RESTING = ((A, 100_00), (B, 200_00), (C, 200_00), (D, 300_00))


@pytest.mark.parametrize(
    ("market", "fired", "left"),
    [
        (0, [], 4),
        (99_99, [], 4),  # one paisa short of the lowest level
        (100_00, [A], 3),  # exactly at a level fires it
        (199_99, [A], 3),
        (200_00, [A, B, C], 1),  # both keys at 200.00, in arrival order
        (299_99, [A, B, C], 1),
        (300_00, [A, B, C, D], 0),
        (INT64_MAX, [A, B, C, D], 0),
    ],
)
def test_pop_at_or_below_when_market_reaches_levels_then_fires_levels_at_or_below_it(
    market: int, fired: list[Hashable], left: int
) -> None:
    book = _book(*RESTING)

    assert book.pop_at_or_below(market) == fired

    assert len(book) == left
    assert _keys(book, A, B, C, D) == {A, B, C, D} - set(fired)


@pytest.mark.parametrize(
    ("market", "fired", "left"),
    [
        (INT64_MAX, [], 4),
        (300_01, [], 4),  # one paisa beyond the highest level
        (300_00, [D], 3),  # exactly at a level fires it
        (200_01, [D], 3),
        (200_00, [B, C, D], 1),  # both keys at 200.00, in arrival order
        (100_01, [B, C, D], 1),
        (100_00, [A, B, C, D], 0),
        (0, [A, B, C, D], 0),
    ],
)
def test_pop_at_or_above_when_market_reaches_levels_then_fires_levels_at_or_above_it(
    market: int, fired: list[Hashable], left: int
) -> None:
    book = _book(*RESTING)

    assert book.pop_at_or_above(market) == fired

    assert len(book) == left
    assert _keys(book, A, B, C, D) == {A, B, C, D} - set(fired)


@pytest.mark.parametrize(
    ("direction", "level", "market", "fires"),
    [
        # the very first key a book sees, at exactly the market, fires in both directions
        ("below", 100_00, 100_00, True),
        ("above", 100_00, 100_00, True),
        ("below", 100_00, 99_99, False),
        ("above", 100_00, 100_01, False),
        ("below", 1, 1, True),
        ("above", 1, 1, True),
        ("below", 1, 0, False),
        ("above", 1, 2, False),
        ("below", 0, 0, True),
        ("above", 0, 0, True),
        ("below", INT64_MAX, INT64_MAX, True),
        ("above", INT64_MAX, INT64_MAX, True),
        ("below", INT64_MAX, INT64_MAX - 1, False),
        ("above", INT64_MAX - 1, INT64_MAX, False),
    ],
)
def test_level_book_when_single_key_at_boundary_price_then_fires_only_when_reached(
    direction: str, level: int, market: int, fires: bool
) -> None:
    book = _book((A, level))

    assert _pop(book, direction, market) == ([A] if fires else [])

    assert len(book) == (0 if fires else 1)
    assert (A in book) is not fires


@pytest.mark.parametrize("direction", ["below", "above"])
def test_level_book_when_keys_fired_then_they_leave_the_book(direction: str) -> None:
    book = _book((A, 100_00), (B, 100_00))

    assert _pop(book, direction, 100_00) == [A, B]

    assert len(book) == 0
    assert A not in book
    assert B not in book
    assert book.remove(A) is False
    assert _pop(book, direction, 100_00) == []


@pytest.mark.parametrize("direction", ["below", "above"])
def test_level_book_when_fired_key_added_again_then_it_rests_and_fires_again(
    direction: str,
) -> None:
    book = _book((A, 100_00))
    assert _pop(book, direction, 100_00) == [A]

    book.add(A, 100_00)

    assert len(book) == 1
    assert _pop(book, direction, 100_00) == [A]
    assert len(book) == 0


# -------------------------------------------------------------------------------------------
# priority


@pytest.mark.parametrize("direction", ["below", "above"])
def test_level_book_when_levels_equal_then_fired_in_arrival_order(direction: str) -> None:
    book = _book((C, 150_00), (A, 150_00), (D, 150_00), (B, 150_00))

    assert _pop(book, direction, 150_00) == [C, A, D, B]


@pytest.mark.parametrize("direction", ["below", "above"])
def test_level_book_when_key_added_again_at_same_level_then_it_loses_time_priority(
    direction: str,
) -> None:
    # A modify that keeps the price still sends the order to the back of its level.
    book = _book((A, 150_00), (B, 150_00), (C, 150_00))
    book.add(A, 150_00)

    assert len(book) == 3
    assert _pop(book, direction, 150_00) == [B, C, A]


def test_level_book_when_levels_differ_then_fired_by_level_then_arrival() -> None:
    # arrival order differs from level order: the level decides first
    entries = ((D, 300_00), (B, 100_00), (A, 200_00), (C, 100_00))

    assert _book(*entries).pop_at_or_below(300_00) == [B, C, A, D]
    assert _book(*entries).pop_at_or_above(100_00) == [B, C, A, D]


def test_level_book_when_keys_of_other_shapes_then_held_alongside_order_keys() -> None:
    # the exit books key positions as (account, position, kind)
    stop = ("acc-1", "p1", "sl")
    target = ("acc-1", "p1", "target")
    book = _book((stop, 100_00), (A, 100_00), (target, 100_00))

    assert len(book) == 3
    assert book.remove(target) is True
    assert book.pop_at_or_below(100_00) == [stop, A]


# -------------------------------------------------------------------------------------------
# the eight books of an instrument

BOOK_NAMES = (
    "buy_limits",
    "sell_limits",
    "buy_stops",
    "sell_stops",
    "rising_exits",
    "falling_exits",
    "rising_gtts",
    "falling_gtts",
)


def test_instrument_books_when_new_then_eight_empty_books() -> None:
    books = InstrumentBooks()

    assert len(books) == 0
    for name in BOOK_NAMES:
        book = getattr(books, name)
        assert isinstance(book, LevelBook)
        assert len(book) == 0


def test_instrument_books_when_keys_added_then_each_book_keeps_its_own() -> None:
    books = InstrumentBooks()
    # a different count in each book (1..128, in powers of two in the total), so a book that
    # is shared, missing or subtracted shows in the total
    for count, name in enumerate(BOOK_NAMES):
        book = getattr(books, name)
        for n in range(2**count):
            book.add((name, n), 100_00)

    assert len(books) == 255
    for count, name in enumerate(BOOK_NAMES):
        book = getattr(books, name)
        assert len(book) == 2**count
        assert (name, 0) in book
        assert all((other, 0) not in book for other in BOOK_NAMES if other != name)


@pytest.mark.parametrize("name", BOOK_NAMES)
def test_instrument_books_when_one_book_emptied_then_the_total_drops_by_its_size(
    name: str,
) -> None:
    books = InstrumentBooks()
    for other in BOOK_NAMES:
        getattr(books, other).add((other, 0), 100_00)
    getattr(books, name).add((name, 1), 100_00)

    assert len(books) == 9
    assert getattr(books, name).pop_at_or_below(100_00) == [(name, 0), (name, 1)]
    assert len(books) == 7


# -------------------------------------------------------------------------------------------
# against a model


def _reaches(direction: str, market: int, level: int) -> bool:
    return level <= market if direction == "below" else level >= market


operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "below", "above"]),
        st.integers(min_value=0, max_value=5),  # key
        st.integers(min_value=0, max_value=6),  # level or market
    ),
    max_size=40,
)


@settings(max_examples=200)
@given(ops=operations)
def test_level_book_when_random_operations_then_matches_a_list_model(
    ops: list[tuple[str, int, int]],
) -> None:
    """The model is a list of (level, key) in arrival order; a pop takes what is reached,
    sorted by level (stable, so arrival breaks ties)."""
    book = LevelBook()
    model: list[tuple[int, int]] = []
    for op, key, value in ops:
        if op == "add":
            model = [entry for entry in model if entry[1] != key] + [(value, key)]
            book.add(key, value)
        elif op == "remove":
            present = any(entry[1] == key for entry in model)
            model = [entry for entry in model if entry[1] != key]
            assert book.remove(key) is present
        else:
            fired = sorted((e for e in model if _reaches(op, value, e[0])), key=lambda e: e[0])
            model = [entry for entry in model if not _reaches(op, value, entry[0])]
            expected: list[Hashable] = [k for _, k in fired]
            assert _pop(book, op, value) == expected
        assert len(book) == len(model)
        assert {k for k in range(6) if k in book} == {k for _, k in model}


def test_at_or_above_when_market_falls_to_levels_then_highest_first_by_arrival_and_kept() -> None:
    book = LevelBook()
    book.add("first-at-100", 100)  # arrival 0, exactly at the market: crossed
    book.add("z-first-at-102", 102)  # names sort against arrival: arrival decides
    book.add("at-99", 99)  # below the market: not crossed
    book.add("a-second-at-102", 102)
    book.add("second-at-100", 100)
    book.add("at-101", 101)
    crossed = book.at_or_above(100)
    assert crossed == [
        "z-first-at-102",
        "a-second-at-102",
        "at-101",
        "first-at-100",
        "second-at-100",
    ]
    assert len(book) == 6 and all(key in book for key in crossed), "reading removes nothing"
    assert book.at_or_above(103) == []


def test_at_or_below_when_market_rises_to_levels_then_lowest_first_by_arrival_and_kept() -> None:
    book = LevelBook()
    book.add("at-101", 101)  # above the market: not crossed
    book.add("first-at-100", 100)  # exactly at the market: crossed
    book.add("at-98", 98)
    book.add("second-at-100", 100)
    book.add("at-99", 99)
    crossed = book.at_or_below(100)
    assert crossed == ["at-98", "at-99", "first-at-100", "second-at-100"]
    assert len(book) == 5 and all(key in book for key in crossed), "reading removes nothing"
    assert book.at_or_below(97) == []
