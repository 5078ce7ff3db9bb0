"""The ``cockpit`` command with its supervisor's passes and its UI loop's stalls noted, for
``flood.py --host``.

- Passes: every :meth:`~cockpit.core.supervisor.loop.Supervisor.guarded_step` as (start, duration, whether it
  ran on the main thread, the thread of the UI's event loop).
- Stalls: a task on the UI's event loop sleeps :data:`PROBE_S` over and over and notes (start, how much
  later than asked it woke up): how long the loop could not run anything else (a key, a frame), whatever
  held it: drawing, a supervisor pass on that loop, or waiting for the interpreter lock.

The notes are written as JSON (``{"passes": [...], "stalls": [...]}``) to the file named by
``COCKPIT_STEP_TIMES`` once the command returns (the app has quit). Everything else is the installed
command's ``main``. Usage: ``python timed_cockpit.py [cockpit arguments]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.cli.main import main
from cockpit.core.supervisor.loop import Supervisor
from cockpit.tui.app import CockpitApp

PROBE_S = 0.005

passes: list[tuple[float, float, bool]] = []
stalls: list[tuple[float, float]] = []
probes: set[asyncio.Task[None]] = set()


def timed(step: Callable[[Supervisor], None]) -> Callable[[Supervisor], None]:
    def guarded_step(self: Supervisor) -> None:
        start = time.perf_counter()
        try:
            step(self)
        finally:
            on_main = threading.current_thread() is threading.main_thread()
            passes.append((start, time.perf_counter() - start, on_main))

    return guarded_step


async def probe() -> None:
    while True:
        start = time.perf_counter()
        await asyncio.sleep(PROBE_S)
        stalls.append((start, time.perf_counter() - start - PROBE_S))


def probed(on_mount: Callable[[CockpitApp], None]) -> Callable[[CockpitApp], None]:
    def with_probe(self: CockpitApp) -> None:
        on_mount(self)
        task = asyncio.get_running_loop().create_task(probe())
        probes.add(task)
        task.add_done_callback(probes.discard)

    return with_probe


if __name__ == "__main__":
    Supervisor.guarded_step = timed(Supervisor.guarded_step)  # type: ignore[method-assign]
    CockpitApp.on_mount = probed(CockpitApp.on_mount)  # type: ignore[method-assign]
    code = main(sys.argv[1:])
    out = os.environ.get("COCKPIT_STEP_TIMES")
    if out:
        Path(out).write_text(json.dumps({"passes": list(passes), "stalls": list(stalls)}))
    sys.exit(code)
