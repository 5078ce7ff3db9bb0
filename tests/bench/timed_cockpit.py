"""The ``cockpit`` command with its supervisor's passes timed, for ``flood.py --host``.

Every :meth:`~cockpit.core.supervisor.Supervisor.guarded_step` is noted as (start, duration, whether it
ran on the main thread, the thread of the UI's event loop), and the notes are written as JSON to the
file named by ``COCKPIT_STEP_TIMES`` once the command returns (the app has quit). Everything else is
the installed command's ``main``. Usage: ``python timed_cockpit.py [cockpit arguments]``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.cli.main import main
from cockpit.core.supervisor import Supervisor

notes: list[tuple[float, float, bool]] = []


def timed(step: Callable[[Supervisor], None]) -> Callable[[Supervisor], None]:
    def guarded_step(self: Supervisor) -> None:
        start = time.perf_counter()
        try:
            step(self)
        finally:
            on_main = threading.current_thread() is threading.main_thread()
            notes.append((start, time.perf_counter() - start, on_main))

    return guarded_step


if __name__ == "__main__":
    Supervisor.guarded_step = timed(Supervisor.guarded_step)  # type: ignore[method-assign]
    code = main(sys.argv[1:])
    out = os.environ.get("COCKPIT_STEP_TIMES")
    if out:
        Path(out).write_text(json.dumps(list(notes)))
    sys.exit(code)
