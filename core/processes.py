"""Processes as the cockpit handles them: children that die with it (the ``preexec_fn`` that asks the
kernel for SIGKILL on parent death), process groups signalled, and a pid told apart from a recycled one.

:func:`die_with_parent` is used for Codex's app-server and for the cockpit's own git commands, so a
killed supervisor never leaves one running behind the next one's back. :func:`runs` is how a pid read
from the board is checked before it is signalled or counted as alive: by what its command line says.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1


@functools.cache
def load_libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Runs in the child before exec: ask for SIGKILL when the parent dies, and die at once if it
    already has."""
    libc = load_libc()

    def setup() -> None:
        if libc is not None:
            with contextlib.suppress(Exception):
                libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


def kill_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone (or not ours) is left alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def runs(pid: int | None, *parts: bytes) -> bool:
    """Whether ``pid`` is a live (non-zombie) process whose command line holds one of ``parts`` (any
    process when none is given); a pid the kernel gave to another program since is not (Linux ``/proc``)."""
    if not pid or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except (OSError, IndexError):
        return False
    return state != b"Z" and (not parts or any(part in cmdline for part in parts))
