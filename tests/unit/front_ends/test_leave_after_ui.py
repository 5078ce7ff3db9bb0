"""Quitting the full-screen UI ends the process even when a background thread is still busy: after a
short grace the exit is forced, with the same code, and the thread that held it is named."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys, threading, time
from cockpit.cli import main as cli
cli.EXIT_GRACE_S = 0.3
threading.Thread(target=time.sleep, args=(120,), name="stuck-worker").start()  # not a daemon
sys.exit(cli._leave_after_ui(3))
"""


def test_a_busy_thread_cannot_hold_the_exit() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "exit held by stuck-worker" in done.stderr


def test_a_clean_exit_is_not_disturbed() -> None:
    program = "import sys\nfrom cockpit.cli import main as cli\nsys.exit(cli._leave_after_ui(0))\n"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
