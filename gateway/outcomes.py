"""An engine ``Outcome`` the gateway cannot answer from: the request was not carried out, or it
was and its journaling is not confirmed (503 either way).

A handler submits a command through the bridge, calls :func:`check_outcome`, then answers the
outcome's rejection (``gateway.errors.rejected``) or its events.
"""

from __future__ import annotations

from engine.actors.account_actor import Outcome
from gateway.errors import ApiError, outcome_unknown, unavailable


def check_outcome(outcome: Outcome) -> None:
    """503 when the engine did not carry the request out: ``UNAVAILABLE`` when nothing was
    applied (a retry is safe), ``OUTCOME_UNKNOWN`` when it was applied and not journaled."""
    if outcome.unavailable:
        raise ApiError(outcome_unknown() if outcome.events else unavailable())
