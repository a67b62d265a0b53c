"""Crash points for fault-injection tests, armed only through the environment.

``PAPERDESK_CRASH_AT=<point>`` makes the server die at once (``os._exit``, as a kill -9
would: no cleanup, no reply) when a request reaches that point. Each fund flow names the
instant after its outcome is committed and before it is answered (``<flow>:committed``) and
the instant before it is submitted (``<flow>:submitting``), so a test can kill the server
exactly at each boundary and check that a restart and a retry end where they should. Unset
(always, outside those tests), a crash point is one dictionary lookup.
"""

from __future__ import annotations

import logging
import os

CRASH_AT_ENV = "PAPERDESK_CRASH_AT"
CRASH_EXIT_CODE = 137  # what a SIGKILL'd process reports

logger = logging.getLogger(__name__)


def crash_point(name: str) -> None:
    """Die here if the environment armed this point."""
    if os.environ.get(CRASH_AT_ENV) == name:
        logger.critical("crash point %s reached: exiting as killed", name)
        os._exit(CRASH_EXIT_CODE)
