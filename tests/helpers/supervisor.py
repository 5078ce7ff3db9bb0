"""Test helpers: a real Supervisor on a background thread, waits driven by its change callback, a task's
state as on disk, and a scan of /proc for Codex processes that belong to a test (found by the attempt
marker in their env)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from tests.helpers.processes import live_processes


class ShiftedClock:
    """Real time plus an offset the test moves forward (cooldowns, deadlines, sweeps) without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class SupervisorThread:
    """Runs ``Supervisor.run`` in its own thread and event loop so tests can block on conditions."""

    def __init__(
        self,
        board: Blackboard,
        env: dict[str, str],
        *,
        until_idle: bool = False,
        clock: Callable[[], float] = time.time,
        reviewer_env: dict[str, str] | None = None,
    ) -> None:
        self.board = board
        self._cond = threading.Condition()
        self.changes = 0
        self.supervisor = Supervisor(
            board, env=env, on_change=self._changed, clock=clock, reviewer_env=reviewer_env
        )
        self._until_idle = until_idle
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _changed(self, _state: TaskState) -> None:
        with self._cond:
            self.changes += 1
            self._cond.notify_all()

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self.supervisor.run(until_idle=self._until_idle))
        except BaseException as exc:  # surfaced to the test by join()
            self.error = exc
        finally:
            self._loop.close()
            with self._cond:
                self._cond.notify_all()

    def start(self) -> SupervisorThread:
        self._thread.start()
        return self

    def __enter__(self) -> SupervisorThread:
        """``with SupervisorThread(...) as sup:`` starts it, and stops it however the block ends."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
        """Wait until ``predicate()`` holds, re-checking on every state change (and at least every 0.2 s
        for conditions outside the blackboard, such as processes)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate():
                    return True
                if self.error is not None or (not self._thread.is_alive() and self._thread.ident):
                    return predicate()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))

    def wait_status(self, task_id: str, *statuses: str, timeout: float = 60.0) -> TaskState:
        def done() -> bool:
            state = self.board.read_state(task_id)
            return state is not None and state.status.value in statuses

        assert self.wait_for(done, timeout), (
            f"{task_id} never reached {statuses}: {self.board.read_state(task_id)}"
        )
        state = self.board.read_state(task_id)
        assert state is not None
        return state

    def stop(self, timeout: float = 30.0) -> None:
        self.supervisor.stop()  # safe from this thread, and after its loop has closed
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error

    def join(self, timeout: float = 120.0) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "supervisor did not finish"
        if self.error is not None:
            raise self.error


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment mentions ``marker`` (e.g. a tmp path)."""
    return live_processes(environ=marker)


def state_of(board: Blackboard, task_id: str) -> TaskState:
    """The task's state as on disk (it must be readable)."""
    state = board.read_state(task_id)
    assert state is not None, f"{task_id} has no readable state"
    return state


def codex_processes(marker: str) -> list[int]:
    """Live Codex worker processes started for attempts under ``marker``: processes of the Codex
    executable whose parent is an attempt runner (Codex's own sandbox helpers, which re-run the same
    executable, are its children and are not counted)."""
    out = []
    for pid in processes_with_marker(f"COCKPIT_ATTEMPT_DIR={marker}"):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            with open(f"/proc/{pid}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{ppid}/cmdline", "rb") as fh:
                parent = fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if Path(exe).name == "codex" and b"cockpit.core.attempts.exec_runner" in parent:
            out.append(pid)
    return out


def any_processes(marker: str) -> list[int]:
    """Every live process (runner, Codex, sandbox helpers, commands) started for attempts under ``marker``."""
    return processes_with_marker(f"COCKPIT_ATTEMPT_DIR={marker}")
