"""Where the engine's new ids come from (orders, exits, resets, blocks, requests).

``random_id`` is the server's: a random UUID. ``seeded_ids`` gives a reproducible sequence of
UUIDs from a seed: with the ``serial`` runtime, a fake clock and the market's own seed, an engine
run replays event for event (the engine tests use it to reproduce a failure from its seed).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable


def random_id() -> str:
    return str(uuid.uuid4())


def seeded_ids(seed: int) -> Callable[[], str]:
    """A source of version-4 UUIDs drawn from ``random.Random(seed)`` (thread-safe)."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def new_id() -> str:
        with lock:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return new_id
