"""Invariants checked explicitly, so they hold under ``python -O`` too.

``python -O`` strips every ``assert``. An invariant whose breach would corrupt money or the
journal is therefore checked with an ``if`` and raises :class:`InvariantError`. A breach is a
bug, never a business rejection: rejections are values (docs/STYLE.md 3).
"""

from __future__ import annotations

from engine.domain.account.state import AccountState, blocked_from_parts


class InvariantError(Exception):
    """An invariant the code relies on does not hold (a bug, not a rejection)."""


def funds_identity(state: AccountState) -> None:
    """Raise :class:`InvariantError` unless ``state`` satisfies the funds identity.

    The identity (docs/DOMAIN.md §2, ``engine.domain.account.state``) is
    ``balance = deposits - withdrawals + realized P&L - charges`` and
    ``blocked = Σ open-order blocks + Σ position margin + Σ holding cost + Σ fund blocks``
    (``available = balance - blocked`` is derived, so it holds with them). The check walks
    the account's orders, positions, holdings and fund blocks once.
    """
    balance = (
        state.deposits_paise
        - state.withdrawals_paise
        + state.realized_pnl_paise
        - state.charges_paise
    )
    blocked = blocked_from_parts(state)
    if state.balance_paise != balance or state.blocked_paise != blocked:
        raise InvariantError(
            f"account {state.account_id} at seq {state.seq}: funds identity broken:"
            f" balance {state.balance_paise} (its parts say {balance}),"
            f" blocked {state.blocked_paise} (its parts say {blocked})"
        )
