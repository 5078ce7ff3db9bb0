"""Awaiting conditions in Pilot tests: let the app run until a condition holds, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot


async def until(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 90.0, what: str = "condition"
) -> None:
    """Let the app process messages until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        await pilot.pause(0.05)
