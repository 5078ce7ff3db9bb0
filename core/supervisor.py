"""The supervisor: the one process that dispatches work for a blackboard.

It holds the blackboard lock, accepts drops from the inbox, starts attempts (each a detached runner
owning one Codex process) within the worker cap, follows every running attempt's ``events.jsonl``
through the tailer and reducer, enforces the hard cap as a backstop to the runner's own, and finalises
attempts from ``exit.json`` and the files: three signals, usage deltas to the ledger, outcome, lane
settlement. On start it re-attaches to runners that outlived a previous supervisor.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.core.atomic import atomic_write_json, atomic_write_text
from cockpit.core.blackboard import Blackboard, BlackboardError, InboxItem
from cockpit.core.codex_binary import CodexBinary, find_codex
from cockpit.core.codex_command import plan_for
from cockpit.core.commands import CommandError, apply_command
from cockpit.core.envelope import Envelope
from cockpit.core.git_ops import GitOpError
from cockpit.core.lanes import LANES, UNBUILT, Lane
from cockpit.core.prompt import parse_outcome, render_followup_prompt, render_prompt
from cockpit.core.reducer import AttemptReducer
from cockpit.core.state import Attempt, ExitInfo, Signals, TaskState, TaskStatus, utc_now
from cockpit.core.tailer import EventTailer

PERSIST_EVERY_S = 1.0
RUNNER_LOST_GRACE_S = 2.0


@dataclass
class Running:
    """A live attempt as the supervisor follows it."""

    state: TaskState
    attempt: Attempt
    directory: Path
    tailer: EventTailer
    reducer: AttemptReducer = field(default_factory=AttemptReducer)
    popen: subprocess.Popen[bytes] | None = None
    last_persist: float = 0.0
    runner_gone_at: float | None = None

    @property
    def task_id(self) -> str:
        return self.state.id


class Supervisor:
    def __init__(
        self,
        board: Blackboard,
        *,
        codex: CodexBinary | None = None,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[TaskState], None] | None = None,
    ) -> None:
        self.board = board
        self.config = board.config()
        self.codex = codex or find_codex(self.config.codex_bin, board.repo)
        self.env = env or {}
        self.clock = clock
        self.on_change = on_change
        self.running: dict[str, Running] = {}
        self.max_seen_running = 0
        self._lanes: dict[str, Lane] = {name: cls(board) for name, cls in LANES.items()}
        self._stop = asyncio.Event()

    # ---- life cycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, until_idle: bool = False) -> None:
        """Supervise until stopped (or, with ``until_idle``, until nothing is queued or running)."""
        self.board.init()
        with self.board.lock():
            self.board.log_event({"kind": "supervisor_started", "pid": os.getpid()})
            self.recover()
            try:
                while not self._stop.is_set():
                    self.step()
                    if until_idle and self.idle():
                        break
                    try:
                        await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_interval_s)
                    except TimeoutError:
                        pass
            finally:
                self.board.log_event(
                    {"kind": "supervisor_stopped", "pid": os.getpid(), "running": sorted(self.running)}
                )

    def step(self) -> None:
        """One pass: inbox, running attempts, dispatch. Synchronous and cheap; the loop paces it."""
        self.accept_inbox()
        for run in list(self.running.values()):
            self.poll(run)
        self.dispatch()

    def idle(self) -> bool:
        if self.running or self.board.inbox():
            return False
        return not any(self._dispatchable(s) for s in self._queued())

    # ---- inbox --------------------------------------------------------------------------------
    def accept_inbox(self) -> None:
        for item in self.board.inbox():
            try:
                if item.kind == "submit":
                    self._accept_submission(item)
                else:
                    self._run_command(item)
            finally:
                item.path.unlink(missing_ok=True)

    def _accept_submission(self, item: InboxItem) -> None:
        data = item.data
        task_id = str(data.get("task_id", ""))
        try:
            envelope = Envelope.model_validate(data.get("envelope"))
        except ValidationError as exc:
            err = exc.errors()[0]
            reason = f"envelope invalid at {'.'.join(map(str, err['loc']))}: {err['msg']}"
            self.board.quarantine(item.path, reason)
            return
        if not task_id or task_id in self.board.task_ids():
            self.board.quarantine(item.path, f"submission has a missing or duplicate task id {task_id!r}")
            return
        self.board.write_envelope(task_id, envelope)
        state = TaskState(
            id=task_id,
            lane=envelope.lane,
            title=envelope.title or envelope.goal[:80],
            base_commit=data.get("base_commit"),
            base_branch=data.get("base_branch"),
        )
        if envelope.lane in UNBUILT:
            state.message = UNBUILT[envelope.lane]
        self._save(state)
        self.board.log_event({"kind": "accepted", "task_id": task_id, "lane": envelope.lane})

    def _run_command(self, item: InboxItem) -> None:
        data = item.data
        request_id = data.get("request_id")
        try:
            task_id = self.board.resolve_task(str(data.get("task_id", "")))
            run = self.running.get(task_id)
            state = run.state if run else self.board.read_state(task_id)
            if state is None:
                raise BlackboardError(f"task {task_id} has no readable state")
            message = apply_command(self.board, item.kind, state, data)
            self._save(state)
            reply: dict[str, Any] = {"ok": True, "message": message}
        except (CommandError, BlackboardError, GitOpError) as exc:
            reply = {"ok": False, "error": str(exc)}
        if request_id:
            self.board.reply(str(request_id), reply)

    # ---- dispatch -----------------------------------------------------------------------------
    def _queued(self) -> list[TaskState]:
        return [s for s in self.board.states() if s.status == TaskStatus.QUEUED and s.id not in self.running]

    def _dispatchable(self, state: TaskState) -> bool:
        return state.lane in self._lanes

    def dispatch(self) -> None:
        free = self.config.max_workers - len(self.running)
        if free <= 0:
            return
        busy_exclusive = {r.state.lane for r in self.running.values() if self._lanes[r.state.lane].exclusive}
        for state in self._queued():
            if free <= 0:
                break
            if not self._dispatchable(state):
                continue
            lane = self._lanes[state.lane]
            if lane.exclusive and state.lane in busy_exclusive:
                continue
            if self.start_attempt(state, lane):
                free -= 1
                if lane.exclusive:
                    busy_exclusive.add(state.lane)

    def start_attempt(self, state: TaskState, lane: Lane) -> bool:
        envelope = self.board.read_envelope(state.id)
        if envelope is None:
            state.status = TaskStatus.FAILED
            state.message = "envelope missing or unreadable (see quarantine/)"
            self._save(state)
            return False
        try:
            workdir = lane.prepare(state)
        except (GitOpError, RuntimeError) as exc:
            state.status = TaskStatus.FAILED
            state.message = f"could not prepare the {lane.name} lane: {exc}"
            self._save(state)
            return False
        n = len(state.attempts) + 1
        directory = self.board.attempt_dir(state.id, n)
        directory.mkdir(parents=True, exist_ok=True)
        feedback = state.pending_feedback
        resume = state.thread_id if feedback and state.thread_id else None
        if feedback:
            previous = (
                state.last_attempt.outcome.detail
                if state.last_attempt and state.last_attempt.outcome
                else None
            )
            prompt = (
                render_followup_prompt(envelope, state.id, feedback, previous)
                if resume
                else render_prompt(envelope, state.id)
                + "\n\nFeedback on an earlier attempt:\n"
                + feedback[:4000]
            )
        else:
            prompt = render_prompt(envelope, state.id)
        atomic_write_text(directory / "prompt.md", prompt)
        last_message = directory / "last-message.md"
        plan = plan_for(
            envelope,
            codex=self.codex.path,
            workdir=workdir,
            last_message=last_message,
            prompt=prompt,
            resume_thread=resume,
        )
        deadline = min(
            self.config.run_timeout_s, float(envelope.budget.wall_time_s or self.config.run_timeout_s)
        )
        spec = {
            "argv": plan.argv(),
            "cwd": str(workdir),
            "attempt_dir": str(directory),
            "deadline_s": deadline,
            "grace_s": self.config.kill_grace_s,
            "env": {**self.env, "COCKPIT_TASK_ID": state.id, "COCKPIT_ATTEMPT_DIR": str(directory)},
        }
        atomic_write_json(directory / "spec.json", spec)
        runner_log = open(directory / "runner.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            popen = subprocess.Popen(
                [sys.executable, "-m", "cockpit.core.runner", str(directory / "spec.json")],
                cwd=str(workdir),
                stdin=subprocess.DEVNULL,
                stdout=runner_log,
                stderr=runner_log,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            runner_log.close()
        attempt = Attempt(
            n=n,
            kind="followup" if feedback else "initial",
            resumed_thread=resume,
            deadline_s=deadline,
            effort=plan.effort,
            model=plan.model,
            runner_pid=popen.pid,
        )
        state.attempts.append(attempt)
        state.pending_feedback = None
        state.status = TaskStatus.RUNNING
        state.message = f"attempt {n} running" + (f" (resuming thread {resume})" if resume else "")
        self._save(state)
        self.running[state.id] = Running(
            state, attempt, directory, EventTailer(directory / "events.jsonl"), popen=popen
        )
        self.max_seen_running = max(self.max_seen_running, len(self.running))
        self.board.log_event(
            {
                "kind": "RUNNING",
                "task_id": state.id,
                "attempt": n,
                "lane": state.lane,
                "line": f"RUNNING {state.id}: running (attempt {n})",
            }
        )
        return True

    # ---- following ----------------------------------------------------------------------------
    def poll(self, run: Running) -> None:
        events = run.tailer.read_new()
        if events:
            run.reducer.apply_many(events)
            progress = run.reducer.snapshot()
            progress.parse_errors = run.tailer.parse_errors
            run.attempt.progress = progress
            first_thread = progress.thread_id and run.state.thread_id != progress.thread_id
            if first_thread:
                run.state.thread_id = progress.thread_id  # persisted at spawn time, not at exit
            now = self.clock()
            if first_thread or now - run.last_persist >= PERSIST_EVERY_S:
                run.last_persist = now
                self._save(run.state)
        exit_path = run.directory / "exit.json"
        if exit_path.exists():
            if run.popen is not None:
                run.popen.poll()
            self.finalise(run)
            return
        self._check_runner(run)

    def _check_runner(self, run: Running) -> None:
        """Backstops for a runner that died without writing ``exit.json`` or overran its cap."""
        alive = run.popen.poll() is None if run.popen is not None else _pid_alive(run.attempt.runner_pid)
        now = self.clock()
        started = run.attempt.started_at.timestamp()
        overdue = now > started + run.attempt.deadline_s + self.config.kill_grace_s + 15.0
        if alive and not overdue:
            return
        if run.runner_gone_at is None and not overdue:
            run.runner_gone_at = now  # the runner may be writing exit.json this very moment
            return
        if not overdue and now - run.runner_gone_at < RUNNER_LOST_GRACE_S:
            return
        _kill_attempt(run.directory, run.attempt.runner_pid)
        info = ExitInfo(
            lost=not overdue,
            timed_out=overdue,
            started=started,
            ended=now,
            note="runner overran the hard cap; killed by the supervisor"
            if overdue
            else "runner disappeared without recording an exit status",
        )
        atomic_write_json(run.directory / "exit.json", info.model_dump(mode="json"))
        self.finalise(run)

    def finalise(self, run: Running) -> None:
        state, attempt = run.state, run.attempt
        run.reducer.apply_many(run.tailer.read_new())
        run.reducer.apply_many(run.tailer.flush())  # a last line Codex left without its newline
        progress = run.reducer.snapshot()
        progress.parse_errors = run.tailer.parse_errors
        attempt.progress = progress
        try:
            info = ExitInfo.model_validate_json((run.directory / "exit.json").read_bytes())
        except (ValueError, OSError) as exc:
            self.board.quarantine(run.directory / "exit.json", f"unreadable exit status: {exc}")
            info = ExitInfo(lost=True, note="exit status unreadable")
        attempt.exit = info
        attempt.ended_at = datetime.fromtimestamp(info.ended, UTC) if info.ended else utc_now()
        last_text = _read_text(run.directory / "last-message.md")
        attempt.signals = Signals(
            exit_code=info.code,
            turn_completed=progress.turn_completed and progress.turn_failed is None,
            last_message=bool(last_text.strip()),
        )
        if progress.thread_id:
            state.thread_id = progress.thread_id
        if progress.usage is not None:
            same_thread = state.thread_usage is not None and attempt.resumed_thread == progress.thread_id
            delta = (
                progress.usage.minus(state.thread_usage)
                if same_thread and state.thread_usage
                else progress.usage
            )
            attempt.usage_delta = delta
            state.thread_usage = progress.usage
            state.usage = state.usage.plus(delta)
        attempt.outcome = parse_outcome(last_text) if last_text.strip() else None
        state.status, state.message, attempt.error = self._judge(state, attempt)
        self._save(state)
        self.running.pop(state.id, None)
        self._record(state, attempt)

    def _judge(self, state: TaskState, attempt: Attempt) -> tuple[TaskStatus, str, str | None]:
        info = attempt.exit or ExitInfo()
        progress = attempt.progress
        if info.cancelled:
            return TaskStatus.CANCELLED, "cancelled; the turn was interrupted", None
        if attempt.signals.ok:
            outcome = attempt.outcome
            if outcome and outcome.status == "FAILED":
                return (
                    TaskStatus.FAILED,
                    f"worker reported FAILED: {outcome.detail}",
                    f"FAILED: {outcome.detail}",
                )
            if outcome and outcome.status == "BLOCKED":
                return (
                    TaskStatus.BLOCKED,
                    f"worker reported BLOCKED: {outcome.detail}",
                    f"BLOCKED: {outcome.detail}",
                )
            try:
                status, msg = self._lanes[state.lane].settle_success(state, attempt.n)
            except GitOpError as exc:
                return TaskStatus.FAILED, f"could not record the result: {exc}", str(exc)
            if outcome is None or outcome.status is None:
                msg += " (no COMPLETED: line in the final message)"
            return status, msg, None
        if info.timed_out:
            error = info.note or "hard wall-clock cap reached"
        elif info.lost:
            error = info.note or "the worker was lost"
        elif progress.turn_failed:
            error = f"turn failed: {progress.turn_failed}"
        elif info.signal:
            error = f"codex killed by signal {info.signal}"
        elif info.code not in (0, None):
            error = f"codex exited with code {info.code}"
        elif not progress.turn_completed:
            error = "no turn.completed event"
        else:
            error = "the final message file is empty"
        return TaskStatus.FAILED, error, error

    def _record(self, state: TaskState, attempt: Attempt) -> None:
        delta = attempt.usage_delta
        duration = (attempt.ended_at - attempt.started_at).total_seconds() if attempt.ended_at else None
        self.board.append_ledger(
            {
                "task_id": state.id,
                "attempt": attempt.n,
                "lane": state.lane,
                "effort": attempt.effort or "default",
                "model": attempt.model,
                "thread_id": state.thread_id,
                "resumed": attempt.resumed_thread is not None,
                "input_tokens": delta.input_tokens if delta else 0,
                "cached_input_tokens": delta.cached_input_tokens if delta else 0,
                "output_tokens": delta.output_tokens if delta else 0,
                "reasoning_output_tokens": delta.reasoning_output_tokens if delta else 0,
                "usage_reported": delta is not None,
                "duration_s": round(duration, 3) if duration is not None else None,
                "ok": attempt.signals.ok,
            }
        )
        word = {
            TaskStatus.FAILED: "FAILED",
            TaskStatus.BLOCKED: "BLOCKED",
            TaskStatus.CANCELLED: "CANCELLED",
        }.get(state.status, "COMPLETED")
        self.board.log_event(
            {
                "kind": word,
                "task_id": state.id,
                "attempt": attempt.n,
                "status": state.status.value,
                "signals": attempt.signals.model_dump(),
                "line": f"{word} {state.id}: {state.message}",
            }
        )

    # ---- recovery -----------------------------------------------------------------------------
    def recover(self) -> None:
        """Re-attach to attempts that were running when the last supervisor stopped or died."""
        for state in self.board.states():
            if state.status != TaskStatus.RUNNING or state.id in self.running:
                continue
            attempt = state.last_attempt
            if attempt is None:
                state.status = TaskStatus.QUEUED
                self._save(state)
                continue
            directory = self.board.attempt_dir(state.id, attempt.n)
            run = Running(state, attempt, directory, EventTailer(directory / "events.jsonl"))
            self.running[state.id] = run
            self.board.log_event(
                {
                    "kind": "reattached",
                    "task_id": state.id,
                    "attempt": attempt.n,
                    "runner_alive": _pid_alive(attempt.runner_pid),
                }
            )
            self.poll(run)

    # ---- persistence --------------------------------------------------------------------------
    def _save(self, state: TaskState) -> None:
        self.board.write_state(state)
        if self.on_change is not None:
            self.on_change(state)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _pid_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live (non-zombie) attempt runner; a recycled pid does not count."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except (OSError, IndexError):
        return False
    return state != b"Z" and b"cockpit.core.runner" in cmdline


def _kill_attempt(directory: Path, runner_pid: int | None) -> None:
    """Kill a runner's and its Codex's process groups (used only when the runner failed its job)."""
    import json

    groups = set()
    if runner_pid:
        groups.add(runner_pid)
    try:
        info = json.loads((directory / "pid.json").read_text())
        groups.add(int(info["codex_pgid"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
