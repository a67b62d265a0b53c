"""Invariants checked explicitly, so they hold under ``python -O`` too.

``python -O`` strips every ``assert``. An invariant whose breach would corrupt money or the
journal is therefore checked with an ``if`` and raises :class:`InvariantError`. A breach is a
bug, never a business rejection: rejections are values (docs/STYLE.md 3).
"""

from __future__ import annotations


class InvariantError(Exception):
    """An invariant the code relies on does not hold (a bug, not a rejection)."""
