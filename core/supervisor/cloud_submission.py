"""Submitting cloud attempts, crash-only: dispatch within ``[cloud] max_running`` and the cloud's own
breaker, the attempt on disk before the detached submitter runs ``codex cloud exec``, the task's URL read
from ``exec-stdout.txt``, a lost submission found by its title or blocked for a person, and re-following
after a restart (see :mod:`cockpit.core.supervisor.cloud`)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.atomic import atomic_write_json, atomic_write_text, make_private_dirs
from cockpit.core.codex.cloud.commands import (
    CloudCommand,
    cloud_exec,
    cloud_list,
)
from cockpit.core.codex.cloud.wire import (
    CloudOutputError,
    parse_exec_output,
    parse_list_output,
)
from cockpit.core.crashpoints import crash_point
from cockpit.core.layout import (
    CLOUD_EXEC_OUT_FILE,
    EXIT_FILE,
    PROMPT_FILE,
    SPEC_FILE,
    STDERR_FILE,
    SUBMIT_STARTED_FILE,
)
from cockpit.core.policy.cloud_failures import classify_cloud_error
from cockpit.core.policy.failures import start_failure
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.cloud import CloudRun
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.base import _pid_alive, _read_text, spawn_runner
from cockpit.core.supervisor.cloud import (
    CLOUD_PROVIDER,
    STALLED_FACTOR,
    SUBMIT_LOST_GRACE_S,
    CloudBase,
    CloudCall,
    CloudFollow,
    _outcome,
)
from cockpit.core.vocabulary import CLOUD_LANE


class CloudSubmissionPhase(CloudBase):
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
        popen = spawn_runner("cockpit.core.attempts.cloud_submit", directory)
        follow.popen = popen
        follow.gone_at = None
        follow.attempt.runner_pid = popen.pid
        self._save(follow.state)

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
