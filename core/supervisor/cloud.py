"""The cloud lane's attempts: submitted once, followed by one poll for the whole board, settled when
ready. They take no local worker slot and have a circuit breaker of their own (:data:`CLOUD_PROVIDER`).

This module holds what the two cloud phases share (their records, the calls, the end of an
attempt); :mod:`~cockpit.core.supervisor.cloud_submission` submits and
:mod:`~cockpit.core.supervisor.cloud_follow` follows and settles.

**Submit, crash-only.** The attempt (with its :class:`~cockpit.core.records.cloud.CloudRun`) is written
to ``state.json`` before the submitter starts; the submitter
(:mod:`cockpit.core.attempts.cloud_submit`) marks ``submit-started`` and runs ``codex cloud exec`` with
its stdout going straight to ``exec-stdout.txt``. Whoever dies after that, the task's URL is on disk
as soon as Codex prints it, and the next pass records the id in ``state.json``. A later supervisor that
finds a submission with no URL: if ``submit-started`` is missing, ``exec`` never ran and the attempt is
submitted again; otherwise a task may exist, so it is looked for by its title (the prompt's first line
names the cockpit task) among the tasks no earlier attempt recorded, adopted if found, and the task is
blocked for a person if not. No path submits a second cloud task on its own.

**Follow.** One ``codex cloud list --json`` (paged) serves every submitted task of the board, when the
earliest is due; a task the list does not show is asked with ``status``. Each task's next poll is
:data:`POLL_STEPS` by its age (fast at first, slower for long tasks, up to ``[cloud] poll_max_s``) with
±20 % jitter; failed polls back off exponentially and count against the cloud breaker. ``status``'s
exit code is never read as a state: the ``[STATE]`` tag is. A task pending past
``[cloud] pending_deadline_min`` is surfaced (message and NOTIFY line: Codex Cloud has been seen to
leave tasks pending for ever); at three times the deadline the attempt fails as stalled.

**Settle.** Ready: each best-of-N attempt's diff is fetched into the attempt's directory, then the
settler takes over as for any lane (the lane applies the chosen diff in the task's own worktree). A
task whose status is ``error`` fails with what the cloud said; a failed ``exec`` is classified from
its stderr (:func:`~cockpit.core.policy.cloud_failures.classify_cloud_error`).

The CLI calls of polls and fetches run on a small thread pool (they only read the cloud and write
files the cockpit owns, so a crash at any point just repeats them); their results are taken in on the
supervisor's loop. Every call runs in the board's ``cloud/`` directory, where Codex's ``error.log``
lands (kept under :data:`ERROR_LOG_MAX_BYTES` by rotation).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

from cockpit.core.codex.cloud.commands import (
    CLOUD_ERROR_LOG,
    CloudCommand,
    cloud_child_env,
)
from cockpit.core.codex.cloud.wire import (
    CloudTaskItem,
)
from cockpit.core.records.attempt import Attempt, Failure
from cockpit.core.records.basics import Signals, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.core.vocabulary import CLOUD_LANE

T = TypeVar("T")
CLOUD_PROVIDER: Final = "codex-cloud"
"""The circuit breaker's key for Codex Cloud calls, apart from the local model provider's."""
POLL_STEPS: Final = ((30.0, 1.0), (300.0, 2.5), (1800.0, 7.5))
"""(age below, multiple of ``poll_min_s``): a task is polled at ``poll_min_s`` for its first 30 s,
every 2.5 × that until 5 min, 7.5 × until 30 min, then every ``poll_max_s``."""
JITTER: Final = 0.2
CALL_TIMEOUT_S: Final = 60.0  # one ``codex cloud`` call (list, status, diff)
LIST_PAGES_MAX: Final = 5  # 100 tasks: the board's followed tasks are the newest
SUBMIT_LOST_GRACE_S: Final = 2.0
ERROR_LOG_MAX_BYTES: Final = 1 << 20
STALLED_FACTOR: Final = 3


@dataclass
class CloudCall:
    """What one ``codex cloud`` call gave back."""

    code: int
    stdout: str
    stderr: str


@dataclass
class CloudFollow:
    """A cloud attempt as the supervisor follows it."""

    state: TaskState
    attempt: Attempt
    directory: Path
    popen: subprocess.Popen[bytes] | None = None
    due: float = 0.0  # time.monotonic() of its next poll
    fetch: Future[list[CloudResult] | CloudCall] | None = None
    lookup: Future[CloudCall] | None = None  # finding a lost submission by its title
    gone_at: float | None = None  # when the submitter was first seen gone without its files

    @property
    def run(self) -> CloudRun:
        assert self.attempt.cloud is not None
        return self.attempt.cloud


@dataclass
class _Poll:
    """One board-wide poll: the list pages, then ``status`` for the tasks they did not show."""

    items: dict[str, CloudTaskItem] = field(default_factory=dict)
    error: CloudCall | None = None


def _outcome(future: Future[T], command: str) -> T | CloudCall:
    """A pool job's result, or the error it raised as a failed call (never raised on the loop)."""
    try:
        return future.result()
    except Exception as exc:
        return CloudCall(1, "", f"codex cloud {command} failed in the cockpit: {type(exc).__name__}: {exc}")


def poll_interval(age_s: float, poll_min_s: float, poll_max_s: float) -> float:
    """Seconds to the next poll of a task submitted ``age_s`` ago (before jitter)."""
    for below, factor in POLL_STEPS:
        if age_s < below:
            return min(poll_min_s * factor, poll_max_s)
    return poll_max_s


class CloudBase:
    """State and calls the cloud phases share: the table of followed attempts, the pool, one
    ``codex cloud`` call, and the end of an attempt."""

    def _cloud_setup(self) -> None:
        self.cloud: dict[str, CloudFollow] = {}
        self._cloud_pool: ThreadPoolExecutor | None = None
        self._cloud_poll: Future[_Poll] | None = None
        self._cloud_polled: list[str] = []  # the tasks the poll under way answers for

    @property
    def _cloud_dir(self) -> Path:
        return self._lanes[CLOUD_LANE].prepare(None)  # type: ignore[arg-type]

    def _cloud_env(self) -> dict[str, str]:
        base = {**os.environ, **self.env}
        return cloud_child_env(base, self.config.trusted("cloud.extra_env"))  # type: ignore[arg-type]

    def _pool(self) -> ThreadPoolExecutor:
        if self._cloud_pool is None:
            self._cloud_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cockpit-cloud")
        return self._cloud_pool

    def cloud_shutdown(self) -> None:
        """Let the calls under way finish without waiting for them (they only read and write files)."""
        if self._cloud_pool is not None:
            self._cloud_pool.shutdown(wait=False, cancel_futures=True)
            self._cloud_pool = None

    def _call(self, command: CloudCommand) -> CloudCall:
        """Run one ``codex cloud`` call in the board's ``cloud/`` (on a pool thread). Anything that
        goes wrong on the way (an untrusted ``extra_env``, a directory it cannot make) is that call's
        failure, said in its stderr, never the supervisor's."""
        try:
            return self._run_call(command)
        except Exception as exc:
            return CloudCall(
                1, "", f"codex cloud {command.command} could not run: {type(exc).__name__}: {exc}"
            )

    def _run_call(self, command: CloudCommand) -> CloudCall:
        cwd = self._cloud_dir
        log = cwd / CLOUD_ERROR_LOG
        with contextlib.suppress(OSError):
            if log.stat().st_size > ERROR_LOG_MAX_BYTES:
                os.replace(log, cwd / f"{CLOUD_ERROR_LOG}.1")
        try:
            done = subprocess.run(
                command.argv,
                cwd=cwd,
                env=self._cloud_env(),
                input=command.stdin,
                stdin=None if command.stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=CALL_TIMEOUT_S,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            return CloudCall(1, "", f"error sending request: codex cloud {command.command} timed out")
        except OSError as exc:
            return CloudCall(1, "", f"error sending request: could not run codex cloud: {exc}")
        return CloudCall(done.returncode, done.stdout, done.stderr)

    def _cloud_failed(self, follow: CloudFollow, failure: Failure, info: ExitInfo) -> None:
        state, attempt = follow.state, follow.attempt
        if info.started is None:
            info = info.model_copy(update={"started": attempt.started_at.timestamp(), "ended": time.time()})
        self._cloud_ended(follow, info)
        attempt.signals = Signals(exit_code=info.code, turn_completed=False, last_message=False)
        self._cloud_notify(state, attempt, EventKind.FAILED, f"FAILED (error: {failure.message[:200]})")
        self._ledger(state, attempt)
        self.cloud_settler._failed(state, attempt, failure)
        self._save(state)

    def _cloud_ended(self, follow: CloudFollow, info: ExitInfo) -> None:
        follow.attempt.exit = info
        follow.attempt.ended_at = datetime.fromtimestamp(info.ended, UTC) if info.ended else utc_now()
        self.cloud.pop(follow.state.id, None)

    def _cloud_notify(self, state: TaskState, attempt: Attempt, kind: EventKind, text: str) -> None:
        self.board.log_event(
            {
                "kind": kind,
                "task_id": state.id,
                "attempt": attempt.n,
                "signals": attempt.signals.model_dump(),
                "line": f"{kind} {state.id}: {text}",
            }
        )

    def _cloud_breaker(self, failure: Failure | None) -> None:
        self.cloud_settler._breaker_result(failure)
