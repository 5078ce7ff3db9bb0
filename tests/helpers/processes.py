"""Processes a test starts and sees: the environment of a child (this one's, without the host's settings
for the program, with a throw-away ``HOME`` and the like), one program run in a process group of its own
with its output collected and the JSON objects it printed, and through ``/proc`` the live (non-zombie)
processes whose command line or environment holds given bytes, whether one pid is still alive, a poll
until a condition holds (for conditions no callback announces: a process gone, a directory removed), and
the clean-up of what a failed test left running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def env_without(without: Sequence[str] = (), **added: str) -> dict[str, str]:
    """This process's environment for a child: without every variable whose name starts with one of
    ``without`` (the host's settings for the program under test), with ``added`` set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(without))}
    env.update(added)
    return env


@dataclass(frozen=True)
class Finished:
    """How one program run ended, and what it printed."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration: float


def run_in_group(
    argv: Sequence[str], env: Mapping[str, str], timeout: float, cwd: Path | None = None
) -> Finished:
    """Run ``argv`` in a process group of its own, stdin closed, stdout and stderr collected. Past
    ``timeout`` the whole group is killed and ``timed_out`` is set."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    return Finished(proc.returncode, stdout, stderr, timed_out, time.monotonic() - started)


def sleeper(*words: str, own_group: bool = False, deaf: bool = False) -> subprocess.Popen[bytes]:
    """A Python process that sleeps five minutes with ``words`` on its command line (to pass for a
    runner of that module or spec), in a process group of its own when ``own_group``. A ``deaf`` one
    ignores SIGTERM, and is returned once it does."""
    code = "import signal, sys, time\n"
    if deaf:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('deaf', flush=True)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code + "time.sleep(300)", *words],
        start_new_session=own_group,
        stdout=subprocess.PIPE if deaf else None,
    )
    if deaf:
        assert proc.stdout is not None and proc.stdout.readline() == b"deaf\n"
    return proc


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` that is a JSON object, in order (anything else is passed over)."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                out.append(parsed)
    return out


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


class Listener:
    """A loopback server that records whether anyone connected (what a sandboxed command must never do)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connected = True
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
