"""The account registry: one actor per trading account, started on demand, passivated when idle.

States live here, not in the actors, so passivating an idle account only stops its actor; the
next message starts a fresh actor on the same state. Every tell goes through one lock, which is
what makes passivation safe: an actor retires (inside its own turn, under the lock) only when
its inbox is empty, and once it is out of the map nothing can be told to it again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pykka

from engine.actors.account_actor import AccountBehaviour, AccountContext, Passivate
from engine.domain.account.state import AccountState


def _inbox_size(actor: Any) -> int:
    """Messages waiting in an actor's (or an actor ref's) inbox."""
    inbox = actor.actor_inbox
    size = getattr(inbox, "qsize", None)  # queue.Queue for thread-per-actor
    return int(size()) if size is not None else len(inbox)


class AccountBusyError(Exception):
    """An account's actor has ``inbox_max`` requests waiting: the new one was not queued."""


class UnknownAccountError(KeyError):
    """A message for an account the registry does not hold."""


class AccountRegistry:
    """Maps account ids to states and live actor refs."""

    def __init__(
        self, actor_class: type[pykka.Actor], passivate_after_s: float, inbox_max: int
    ) -> None:
        self._actor_class = actor_class
        self._passivate_after_s = passivate_after_s
        self._inbox_max = inbox_max
        self._lock = threading.Lock()
        self._states: dict[str, AccountState] = {}
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._last_used: dict[str, float] = {}
        self._context: AccountContext | None = None
        self._stopped = False  # after stop_all: no actor starts again
        self.started_total = 0
        self.passivated_total = 0

    def bind(self, context: AccountContext) -> None:
        self._context = context

    @property
    def context(self) -> AccountContext | None:
        """What every account actor is started with (None until bound)."""
        return self._context

    def __contains__(self, account_id: str) -> bool:
        return account_id in self._states

    def __len__(self) -> int:
        return len(self._states)

    @property
    def actors_alive(self) -> int:
        return len(self._refs)

    def add(self, state: AccountState) -> None:
        """Register an account (new, or recovered from the journal)."""
        with self._lock:
            self._states.setdefault(state.account_id, state)

    def account_ids(self) -> list[str]:
        with self._lock:
            return list(self._states)

    def tell(self, account_id: str, message: Any, *, bounded: bool = False) -> None:
        """Deliver ``message`` to the account's actor, starting it if needed.

        ``bounded`` (a request from outside): refuse it with :class:`AccountBusyError` when
        ``inbox_max`` messages already wait. What the market and the sessions send is never
        refused: a fill dropped would lose what the market did. Once :meth:`stop_all` ran,
        nothing is delivered: an actor started then would outlive the engine (on the
        thread-per-actor runtime, a thread the process waits for at exit), and what the market
        did but no account applied is what recovery re-rests from the journal."""
        with self._lock:
            if self._stopped:
                return
            ref = self._refs.get(account_id)
            if ref is None or not ref.is_alive():
                # A handler bug stops only its own actor; the account restarts on its state.
                ref = self._start(account_id)
            elif bounded and _inbox_size(ref) >= self._inbox_max:
                raise AccountBusyError(account_id)
            self._last_used[account_id] = time.monotonic()
            ref.tell(message)

    def _start(self, account_id: str) -> pykka.ActorRef[Any]:
        state = self._states.get(account_id)
        if state is None:
            raise UnknownAccountError(account_id)
        assert self._context is not None, "bind() a context before telling accounts"
        ref = self._actor_class.start(state, self._context)
        self._refs[account_id] = ref
        self.started_total += 1
        return ref

    def passivate_idle(self) -> int:
        """Ask every actor idle for longer than the threshold to retire; return how many."""
        cutoff = time.monotonic() - self._passivate_after_s
        with self._lock:
            idle = [
                (account_id, self._refs[account_id])
                for account_id, used in self._last_used.items()
                if used < cutoff and account_id in self._refs
            ]
        for _, ref in idle:
            # An actor that retired or failed meanwhile has nothing left to passivate.
            with contextlib.suppress(pykka.ActorDeadError):
                ref.tell(Passivate())
        return len(idle)

    def retire_if_idle(self, account_id: str, actor: AccountBehaviour) -> bool:
        """Called by an actor in its own turn: leave the map if nothing more is queued."""
        with self._lock:
            ref = self._refs.get(account_id)
            if ref is None or ref.actor_urn != getattr(actor, "actor_urn", None):
                return False
            if (
                _inbox_size(actor)
                or time.monotonic() - self._last_used[account_id] < self._passivate_after_s
            ):
                return False
            del self._refs[account_id]
            del self._last_used[account_id]
            self.passivated_total += 1
            return True

    def stop_all(self) -> None:
        with self._lock:
            self._stopped = True
            refs = list(self._refs.values())
            self._refs.clear()
            self._last_used.clear()
        for ref in refs:
            ref.stop(block=False)
