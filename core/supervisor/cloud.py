"""The cloud lane's attempts: submitted once, followed by one poll for the whole board, settled when
ready. They take no local worker slot and have a circuit breaker of their own (:data:`CLOUD_PROVIDER`).

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
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

from cockpit.core.atomic import atomic_write_json, atomic_write_text, make_private_dirs, private_opener
from cockpit.core.codex.cloud.commands import (
    CLOUD_ERROR_LOG,
    CloudCommand,
    cloud_child_env,
    cloud_diff,
    cloud_exec,
    cloud_list,
    cloud_status,
)
from cockpit.core.codex.cloud.wire import (
    CloudOutputError,
    CloudTaskItem,
    parse_diff_output,
    parse_exec_output,
    parse_list_output,
    parse_status_output,
)
from cockpit.core.crashpoints import crash_point
from cockpit.core.layout import (
    CLOUD_EXEC_OUT_FILE,
    EXIT_FILE,
    PROMPT_FILE,
    RUNNER_LOG_FILE,
    SPEC_FILE,
    STDERR_FILE,
    SUBMIT_STARTED_FILE,
    cloud_diff_file,
)
from cockpit.core.policy.cloud_failures import classify_cloud_error, cloud_task_failure
from cockpit.core.policy.failures import start_failure
from cockpit.core.records.attempt import Attempt, ErrorType, Failure, FailureCode, Outcome
from cockpit.core.records.basics import Signals, TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.base import _pid_alive, _read_text
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


class CloudPhase:
    # ---- state, set up by the supervisor ------------------------------------------------------
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

    # ---- dispatch -----------------------------------------------------------------------------
    def dispatch_cloud(self) -> None:
        """Start the queued cloud tasks that are due, up to ``[cloud] max_running`` followed at once,
        while the cloud's breaker lets them through."""
        ready = [s for s in self._queued() if s.lane == CLOUD_LANE]
        if not ready:
            return
        room = self.config.cloud.max_running - len(self.cloud)
        breaker = self.breakers.get(CLOUD_PROVIDER)
        for state in ready[: max(0, room)]:
            admission = breaker.allow()
            if not admission.allowed:
                when = ""
                if admission.retry_at:
                    when = f" until {datetime.fromtimestamp(admission.retry_at, UTC):%H:%M:%S} UTC"
                self._note(
                    ready, f"waiting: the Codex Cloud circuit breaker is open{when} ({admission.reason})"
                )
                return
            self.breakers.save(breaker)
            self.start_cloud_attempt(state, probe=admission.probe)
            if admission.probe:
                return

    def start_cloud_attempt(self, state: TaskState, *, probe: bool = False) -> bool:
        """Submit the next attempt of ``state`` to Codex Cloud; True when its submitter runs. A task
        that cannot be submitted fails with a structured error event, never the supervisor."""
        try:
            return self._start_cloud_attempt(state, probe=probe)
        except Exception as exc:
            if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
                raise  # a full disk: the loop pauses
            if state.id in self.cloud:
                return True
            self._cloud_start_failed(state, f"{type(exc).__name__}: {exc}", probe=probe)
            return False

    def _cloud_start_failed(self, state: TaskState, why: str, *, probe: bool) -> None:
        self._start_failed(state, why, probe=probe, provider=CLOUD_PROVIDER)

    def _start_cloud_attempt(self, state: TaskState, *, probe: bool) -> bool:
        envelope = self.board.read_envelope(state.id)
        if envelope is None:
            state.status, state.message = (
                TaskStatus.FAILED,
                "envelope missing or unreadable (see quarantine/)",
            )
            self._save(state)
            return False
        env_name = envelope.cloud_env or self.config.cloud.env
        if not env_name:
            self._cloud_start_failed(
                state,
                "cloud_env: the cloud lane needs a Codex Cloud environment (the envelope's cloud_env, "
                "`submit --env`, or `[cloud] env` in config)",
                probe=probe,
            )
            return False
        n = len(state.attempts) + 1
        directory = self.board.attempt_dir(state.id, n)
        make_private_dirs(directory)
        prompt, kind, _ = self._prompt_for(state, envelope)
        branch = envelope.branch or state.base_branch
        command = cloud_exec(self.codex.path, prompt, env=env_name, attempts=envelope.attempts, branch=branch)
        spec = self._submit_spec(command, directory)  # before the attempt exists: a refusal fails the task
        atomic_write_text(directory / PROMPT_FILE, command.stdin or prompt)
        attempt = Attempt(
            n=n,
            kind=kind,
            deadline_s=self.config.cloud.pending_deadline_min * 60 * STALLED_FACTOR,
            probe=probe,
            cloud=CloudRun(env=env_name, best_of=envelope.attempts, branch=branch),
        )
        state.attempts.append(attempt)
        state.pending_feedback = None
        state.resume_reason = None
        state.not_before = None
        state.status = TaskStatus.RUNNING
        state.message = f"attempt {n}: submitting to Codex Cloud ({env_name})"
        self._save(state)  # the attempt is on disk before anything can reach the cloud
        follow = CloudFollow(state, attempt, directory)
        self.cloud[state.id] = follow
        self._spawn_submitter(follow, spec)
        crash_point("cloud:submitter-started")
        self.board.log_event(
            {
                "kind": EventKind.RUNNING,
                "task_id": state.id,
                "attempt": n,
                "lane": state.lane,
                "line": f"RUNNING {state.id}: submitting to Codex Cloud (attempt {n}, {kind})",
            }
        )
        return True

    def _submit_spec(self, command: CloudCommand, directory: Path) -> dict[str, object]:
        """The submitter's spec. It inherits this process's environment, so the spec holds only what
        differs (never the whole environment: that would put every secret in it on disk). Raises
        before anything is written when the cloud's environment cannot be made (an untrusted
        ``extra_env``)."""
        base = dict(os.environ)
        env = self._cloud_env()
        return {
            "argv": list(command.argv),
            "cwd": str(self._cloud_dir),
            "env": {k: v for k, v in env.items() if base.get(k) != v},
            "env_remove": sorted(set(base) - set(env)),
            "prompt_file": str(directory / PROMPT_FILE),
            "attempt_dir": str(directory),
        }

    def _spawn_submitter(self, follow: CloudFollow, spec: dict[str, object] | None = None) -> None:
        directory = follow.directory
        if spec is not None:
            atomic_write_json(directory / SPEC_FILE, spec)
        with open(directory / RUNNER_LOG_FILE, "ab", opener=private_opener) as runner_log:
            popen = subprocess.Popen(
                [
                    sys.executable,
                    "-P",
                    "-m",
                    "cockpit.core.attempts.cloud_submit",
                    str(directory / SPEC_FILE),
                ],
                cwd=str(directory),
                stdin=subprocess.DEVNULL,
                stdout=runner_log,
                stderr=runner_log,
                start_new_session=True,
                close_fds=True,
            )
        follow.popen = popen
        follow.gone_at = None
        follow.attempt.runner_pid = popen.pid
        self._save(follow.state)

    # ---- following ----------------------------------------------------------------------------
    def follow_cloud(self) -> None:
        """Take in what the submitters and the pool have finished; start the poll when one is due."""
        for follow in list(self.cloud.values()):
            if follow.state.status != TaskStatus.RUNNING or self._task(follow.state.id) is not follow.state:
                self.cloud.pop(follow.state.id, None)  # cancelled (or changed by a command): not followed
                continue
            if not follow.run.submitted:
                self._follow_submission(follow)
            elif follow.fetch is not None and follow.fetch.done():
                self._fetched(follow, _outcome(follow.fetch, "diff"))
        self._poll_cloud()

    def _follow_submission(self, follow: CloudFollow) -> None:
        if follow.lookup is not None:
            if follow.lookup.done():
                self._looked_up(follow, _outcome(follow.lookup, "list"))
            return
        directory = follow.directory
        out = _read_text(directory / CLOUD_EXEC_OUT_FILE)
        try:
            ref = parse_exec_output(out) if out.strip() else None
        except CloudOutputError:
            ref = None  # not the URL (yet): the exit status decides
        if ref is not None:
            crash_point("cloud:url-printed")  # on disk in exec-stdout.txt, not yet in state.json
            self._submitted(follow, ref.id, ref.url)
            return
        if (directory / EXIT_FILE).exists():
            if follow.popen is not None:
                follow.popen.poll()
            try:
                info = ExitInfo.model_validate_json((directory / EXIT_FILE).read_bytes())
            except (ValueError, OSError):
                info = ExitInfo(lost=True, note="exit status unreadable")
            stderr = _read_text(directory / STDERR_FILE)
            if info.code == 0:
                stderr = stderr or f"codex cloud exec printed no task URL: {out.strip()[:300]!r}"
            failure = classify_cloud_error(
                "exec", info.code if info.code is not None else 1, stderr or (info.note or "")
            )
            self._cloud_failed(follow, failure, info)
            return
        alive = (
            follow.popen.poll() is None if follow.popen is not None else _pid_alive(follow.attempt.runner_pid)
        )
        if alive:
            return
        now = time.monotonic()
        if follow.gone_at is None:
            follow.gone_at = now  # it may be writing its files this very moment
            return
        if now - follow.gone_at < SUBMIT_LOST_GRACE_S:
            return
        if not (directory / SUBMIT_STARTED_FILE).exists():
            if (directory / SPEC_FILE).exists():
                self._spawn_submitter(follow)  # exec never ran: submitting again cannot duplicate
            else:
                failure = start_failure("the cloud submission was interrupted before its submitter started")
                self._cloud_failed(follow, failure, ExitInfo(lost=True, note="no submitter ran"))
            return
        # exec may have created a task whose URL nobody saw: find it, never submit a second one
        follow.lookup = self._pool().submit(self._call, cloud_list(self.codex.path, limit=20))

    def _looked_up(self, follow: CloudFollow, call: CloudCall) -> None:
        follow.lookup = None
        state = follow.state
        if call.code != 0:
            failure = classify_cloud_error("list", call.code, call.stderr)
            follow.run.last_error = failure.message[:300]
            self._cloud_blocked(
                follow,
                f"its submission was interrupted and the cloud could not be searched "
                f"({failure.code.value}); check `codex cloud list`, then retry or cancel",
            )
            return
        try:
            items = parse_list_output(call.stdout).tasks
        except CloudOutputError as exc:
            self._cloud_blocked(
                follow, f"its submission was interrupted and the cloud's list was unreadable ({exc})"
            )
            return
        known = {a.cloud.task_id for a in state.attempts if a.cloud is not None and a.cloud.task_id}
        mark = re.compile(rf"\b{re.escape(state.id)}\b")
        found = [t for t in items if mark.search(t.title) and t.id not in known]
        if len(found) == 1:
            follow.run.adopted = True
            self._submitted(follow, found[0].id, found[0].url or "")
            return
        said = "no cloud task" if not found else f"{len(found)} cloud tasks"
        self._cloud_blocked(
            follow,
            f"its submission was interrupted and {said} in the newest 20 names this task; check `codex cloud "
            "list`: `cockpit retry` submits again, `cockpit cancel` stops here",
        )

    def _cloud_blocked(self, follow: CloudFollow, why: str) -> None:
        state = follow.state
        state.status = TaskStatus.BLOCKED
        state.message = f"attempt {follow.attempt.n}: {why}"
        follow.attempt.ended_at = utc_now()
        self.board.log_event(
            {"kind": EventKind.BLOCKED, "task_id": state.id, "line": f"BLOCKED {state.id}: {why}"}
        )
        self.cloud.pop(state.id, None)
        self._save(state)

    def _submitted(self, follow: CloudFollow, task_id: str, url: str) -> None:
        run = follow.run
        run.task_id, run.url = task_id, url
        run.status, run.status_at = "pending", utc_now()
        state = follow.state
        state.message = f"attempt {follow.attempt.n}: Codex Cloud task {task_id} pending"
        follow.due = time.monotonic() + self.config.cloud.poll_min_s
        self._save(state)
        self.board.log_event(
            {
                "kind": EventKind.CLOUD_SUBMITTED,
                "task_id": state.id,
                "attempt": follow.attempt.n,
                "cloud_task": task_id,
                "url": url,
                "adopted": run.adopted,
                "line": f"RUNNING {state.id}: Codex Cloud task {task_id}"
                + (" (found after an interrupted submission)" if run.adopted else ""),
            }
        )

    # ---- the board-wide poll ------------------------------------------------------------------
    def _poll_cloud(self) -> None:
        poll = self._cloud_poll
        if poll is not None:
            if poll.done():
                self._cloud_poll = None
                got = _outcome(poll, "list")
                self._polled(got if isinstance(got, _Poll) else _Poll(error=got))
            return
        now = time.monotonic()
        due = [
            f.run.task_id
            for f in self.cloud.values()
            if f.run.submitted and f.fetch is None and f.due <= now and f.run.task_id
        ]
        if due:
            self._cloud_polled = [tid for tid in due if tid]
            self._cloud_poll = self._pool().submit(self._list_all, list(self._cloud_polled))

    def _list_all(self, wanted: list[str]) -> _Poll:
        """The board's poll, on a pool thread: list pages until every wanted task was seen, then
        ``status`` for the ones the list did not show."""
        poll = _Poll()
        missing = set(wanted)
        cursor: str | None = None
        for _ in range(LIST_PAGES_MAX):
            call = self._call(cloud_list(self.codex.path, limit=20, cursor=cursor))
            if call.code != 0:
                poll.error = call
                return poll
            try:
                page = parse_list_output(call.stdout)
            except CloudOutputError as exc:
                poll.error = CloudCall(1, "", f"Decode error for codex cloud list: {exc}")
                return poll
            for item in page.tasks:
                if item.id in missing:
                    poll.items[item.id] = item
                    missing.discard(item.id)
            cursor = page.cursor
            if not missing or not cursor:
                break
        for task_id in sorted(missing):
            call = self._call(cloud_status(self.codex.path, task_id))
            try:
                status = parse_status_output(call.stdout) if call.stdout.strip() else None
            except CloudOutputError:
                status = None
            if status is None:
                if poll.error is None:
                    poll.error = call
                continue
            poll.items[task_id] = CloudTaskItem.model_validate(
                {"id": task_id, "title": status.title, "status": status.status}
            )
        return poll

    def _polled(self, poll: _Poll) -> None:
        now = time.monotonic()
        followed = {f.run.task_id: f for f in self.cloud.values() if f.run.task_id}
        failure = classify_cloud_error("list", poll.error.code, poll.error.stderr) if poll.error else None
        if failure is not None:
            self._cloud_breaker(failure)
        for task_id in self._cloud_polled:
            follow = followed.get(task_id)
            if follow is None:
                continue
            item = poll.items.get(task_id)
            if item is None:
                self._poll_failed(follow, failure, now)
            else:
                self._took_status(follow, item, now)
        if failure is None and poll.items:
            self._cloud_breaker(None)

    def _poll_failed(self, follow: CloudFollow, failure: Failure | None, now: float) -> None:
        run = follow.run
        run.poll_errors += 1
        run.last_error = (failure.message if failure else "the task was not found by list or status")[:300]
        backoff = min(self.config.cloud.poll_min_s * 2**run.poll_errors, self.config.cloud.poll_max_s)
        follow.due = now + backoff * self.rng.uniform(1 - JITTER, 1 + JITTER)
        what = failure.code.value if failure else "not found"
        if failure is not None and failure.error_type == ErrorType.AUTH:
            hint = "; run `codex login` — following resumes when it works"
        else:
            hint = f"; retrying in {backoff:.0f}s"
        message = f"attempt {follow.attempt.n}: Codex Cloud task {run.task_id}: polling failed ({what}){hint}"
        if follow.state.message != message:
            follow.state.message = message
            self._save(follow.state)

    def _took_status(self, follow: CloudFollow, item: CloudTaskItem, now: float) -> None:
        run, state = follow.run, follow.state
        run.polls += 1
        run.polled_at = utc_now()
        run.poll_errors = 0
        run.last_error = None
        if item.url and not run.url:
            run.url = item.url
        changed = item.status != run.status
        if changed:
            run.status, run.status_at = item.status, utc_now()
            self.board.log_event(
                {
                    "kind": EventKind.CLOUD_STATUS,
                    "task_id": state.id,
                    "cloud_task": run.task_id,
                    "status": item.status,
                    "line": f"RUNNING {state.id}: Codex Cloud task {run.task_id} is {item.status}",
                }
            )
        if item.is_ready or item.is_applied:
            total = item.attempt_total or run.best_of
            state.message = f"attempt {follow.attempt.n}: Codex Cloud task ready; fetching {total} diff(s)"
            self._save(state)
            follow.fetch = self._pool().submit(self._fetch_diffs, follow.directory, run.task_id or "", total)
            return
        if item.is_error:
            failure = cloud_task_failure(
                f"Codex Cloud reports task {run.task_id} failed (status error); its message is at {run.url}"
            )
            self._cloud_failed(follow, failure, ExitInfo(code=0, note="the cloud task ended in error"))
            return
        since = (utc_now() - follow.attempt.started_at).total_seconds()
        deadline = self.config.cloud.pending_deadline_min * 60
        if since >= deadline * STALLED_FACTOR:
            failure = Failure(
                error_type=ErrorType.STATE,
                code=FailureCode.STREAM_STALLED,
                message=f"Codex Cloud task {run.task_id} still {run.status} after {since / 60:.0f} min",
                retryable=False,
                trips_breaker=False,
                suggestion=f"open {run.url}; `cockpit retry` submits a new cloud task",
                signature=f"cloud_stalled:{run.status}",
            )
            self._cloud_failed(
                follow, failure, ExitInfo(code=0, timed_out=True, note="pending past the deadline")
            )
            return
        if since >= deadline and not run.overdue:
            run.overdue = True
            line = (
                f"NOTIFY {state.id}: Codex Cloud task {run.task_id} is still {run.status} after "
                f"{since / 60:.0f} min; Codex Cloud can leave a task pending for ever — "
                f"open {run.url}, or cancel"
            )
            self.board.log_event(
                {"kind": EventKind.NOTIFY, "topic": "cloud_pending", "task_id": state.id, "line": line}
            )
        word = f"{run.status} (overdue)" if run.overdue else run.status
        message = f"attempt {follow.attempt.n}: Codex Cloud task {run.task_id} {word}"
        interval = poll_interval(since, self.config.cloud.poll_min_s, self.config.cloud.poll_max_s)
        follow.due = now + interval * self.rng.uniform(1 - JITTER, 1 + JITTER)
        if changed or state.message != message:
            state.message = message
            self._save(state)

    # ---- ready: diffs, then settlement --------------------------------------------------------
    def _fetch_diffs(self, directory: Path, task_id: str, total: int) -> list[CloudResult] | CloudCall:
        """Every attempt's diff into the attempt's directory (on a pool thread); a failed call instead."""
        results: list[CloudResult] = []
        for k in range(1, max(1, total) + 1):
            call = self._call(cloud_diff(self.codex.path, task_id, attempt=k if total > 1 else None))
            if call.code != 0:
                if "No diff available" in call.stderr:
                    results.append(CloudResult(n=k))
                    continue
                if "not available" in call.stderr and results:
                    break  # fewer attempts than the list said
                return call
            diff = parse_diff_output(call.stdout)
            if diff is None:
                results.append(CloudResult(n=k))
                continue
            name = cloud_diff_file(k)
            atomic_write_text(directory / name, diff.patch)
            results.append(
                CloudResult(
                    n=k,
                    files=diff.files,
                    insertions=diff.insertions,
                    deletions=diff.deletions,
                    paths=diff.paths[:200],
                    diff_file=name,
                )
            )
        return results

    def _fetched(self, follow: CloudFollow, got: list[CloudResult] | CloudCall) -> None:
        follow.fetch = None
        if isinstance(got, CloudCall):
            failure = classify_cloud_error("diff", got.code, got.stderr)
            if failure.retryable:
                self._poll_failed(follow, failure, time.monotonic())  # fetched again at the next poll
                follow.run.status = "pending-fetch"
                return
            self._cloud_failed(follow, failure, ExitInfo(code=got.code, note="the diff could not be fetched"))
            return
        run = follow.run
        run.results = got
        attempt, state = follow.attempt, follow.state
        info = ExitInfo(
            code=0, started=attempt.started_at.timestamp(), ended=time.time(), note="Codex Cloud task ready"
        )
        self._cloud_ended(follow, info)
        with_diff = [r for r in got if r.diff_file]
        attempt.signals = Signals(exit_code=0, turn_completed=True, last_message=True)
        attempt.outcome = Outcome(
            status="COMPLETED",
            detail=f"Codex Cloud task {run.task_id}: {len(with_diff)} of {len(got)} attempt(s) with a diff",
        )
        self._cloud_notify(state, attempt, EventKind.COMPLETED, f"completed ({attempt.outcome.detail})")
        self._ledger(state, attempt)
        envelope = self.board.read_envelope(state.id)
        try:
            self.cloud_settler._succeeded(state, attempt, envelope, None)
        except Exception as exc:  # one task's bad settle never stops the supervisor
            if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
                raise
            state.status, state.message = TaskStatus.FAILED, f"could not settle the attempt: {exc}"
            self.board.log_event(
                {"kind": EventKind.SETTLE_ERROR, "task_id": state.id, "error": str(exc)[:500]}
            )
        self._save(state)

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

    # ---- recovery -----------------------------------------------------------------------------
    def recover_cloud(self, states: Iterable[TaskState]) -> None:
        """Follow again the cloud attempts a stopped supervisor followed: submitted ones are polled at
        once; a submission is read from its files (or found, or submitted again) by the next pass."""
        for state in states:
            attempt = state.last_attempt
            if attempt is None or attempt.cloud is None:
                state.status = TaskStatus.QUEUED
                self._save(state)
                continue
            follow = CloudFollow(state, attempt, self.board.attempt_dir(state.id, attempt.n))
            if attempt.cloud.status == "pending-fetch":
                attempt.cloud.status = "ready"
            self.cloud[state.id] = follow
            self.board.log_event(
                {
                    "kind": EventKind.REATTACHED,
                    "task_id": state.id,
                    "attempt": attempt.n,
                    "cloud_task": attempt.cloud.task_id,
                    "runner_alive": _pid_alive(attempt.runner_pid),
                }
            )
