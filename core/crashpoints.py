"""Named points where a test can make the process die with SIGKILL (``COCKPIT_CRASH_AT=<name>``).

A no-op unless the environment names the point; used to prove that recovery copes with a crash at any
step of a multi-step change (e.g. the journaled merge).
"""

from __future__ import annotations

import os
import signal

ENV = "COCKPIT_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill this process outright (no cleanup, no ``finally``) when ``COCKPIT_CRASH_AT`` is ``name``."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
