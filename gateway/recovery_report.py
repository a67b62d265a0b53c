"""The start-up check of journal replay against projections, as health reports it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class RecoveryReport:
    """How the start-up check of journal replay against projections is going."""

    checked: int = 0
    mismatched: list[str] = field(default_factory=list)
    failed: bool = False
    task: asyncio.Task[None] | None = None
