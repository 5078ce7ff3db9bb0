"""Processes as a test sees them through ``/proc``: the live (non-zombie) ones whose command line or
environment holds given bytes, whether one pid is still alive, a poll until a condition holds (for
conditions no callback announces: a process gone, a directory removed), and the clean-up of what a failed
test left running."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something other than None/False, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def _state(pid: int | str) -> bytes | None:
    """The one-letter state of ``pid`` (``b"Z"`` for a zombie), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    """Whether ``pid`` is a live process (a zombie is dead: it only waits for its parent to reap it)."""
    return bool(pid) and _state(pid or 0) not in (None, b"Z")


def live_processes(*, cmdline: Sequence[str] = (), environ: str | None = None) -> list[int]:
    """Pids of live processes whose command line holds every one of ``cmdline`` and whose environment
    holds ``environ`` (when given)."""
    wanted = [part.encode() for part in cmdline]
    needle = environ.encode() if environ is not None else None
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if wanted:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    line = fh.read()
                if not all(part in line for part in wanted):
                    continue
            if needle is not None:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    if needle not in fh.read():
                        continue
        except OSError:
            continue
        if _state(entry) not in (None, b"Z"):
            found.append(int(entry))
    return found


def kill_groups(*pids: int | None) -> None:
    """SIGKILL the process group of each pid still alive (a test's clean-up: what the code under test
    should have stopped must not outlive the test, nor keep its interpreter from exiting)."""
    for pid in pids:
        if pid and alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
