"""Following a running attempt: its events read and reduced, live diffs and rate limits passed on, the
watchdog, approvals withdrawn when their turn is gone, and a runner that vanished recorded as lost."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from cockpit.core.atomic import atomic_write_json, atomic_write_text
from cockpit.core.attempts.app_server_runner import APPROVAL_TRIGGER
from cockpit.core.board.decisions import DecisionError
from cockpit.core.codex.exec_events import CodexEvent, RateLimitsUpdated
from cockpit.core.layout import EXIT_FILE, TURN_DIFF_FILE
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.supervisor.base import Running, _kill_attempt, _pid_alive
from cockpit.core.usage.live import LIVE_RATE_LIMITS_FILE, record_live

PERSIST_EVERY_S = 1.0
RUNNER_LOST_GRACE_S = 2.0


class FollowPhase:
    # ---- following ----------------------------------------------------------------------------
    def poll(self, run: Running) -> None:
        events = run.tailer.read_new()
        now = time.monotonic()  # process timing is real time; the injected clock is for policy
        if events:
            run.last_activity = now
            run.reducer.apply_many(events)
            self._live_updates(run, events)
            asked_before = run.attempt.progress.awaiting_approval
            progress = run.reducer.snapshot()
            progress.parse_errors = run.tailer.parse_errors
            run.attempt.progress = progress
            asking = progress.awaiting_approval != asked_before
            if asking:  # shown on the task's card at once, not at the next periodic save
                run.state.message = (
                    f"waits for approval to {progress.awaiting_approval}"
                    if progress.awaiting_approval
                    else f"attempt {run.attempt.n} running"
                )
            first_thread = progress.thread_id and run.state.thread_id != progress.thread_id
            if first_thread:
                run.state.thread_id = progress.thread_id  # persisted at spawn time, not at exit
            self._note_steps(run)
            if first_thread or asking or now - run.last_persist >= PERSIST_EVERY_S:
                run.last_persist = now
                self._save(run.state)
        exit_path = run.directory / EXIT_FILE
        if exit_path.exists():
            if run.popen is not None:
                run.popen.poll()
            self.finalise(run)
            return
        self._watchdog(run, now)
        self._check_runner(run)

    def _live_updates(self, run: Running, events: list[CodexEvent]) -> None:
        """What mcp-lane turns stream beside their items: the turn's diff so far (``turn.diff`` in the
        attempt directory, for the task view) and the account's credit windows (into the board's
        live rate-limit file, which every credit-window reader follows)."""
        if run.reducer.turn_diff_version != run.diff_written and run.reducer.turn_diff is not None:
            run.diff_written = run.reducer.turn_diff_version
            # derived from events.jsonl (rewritten on re-attach): no fsync on the hot path
            atomic_write_text(run.directory / TURN_DIFF_FILE, run.reducer.turn_diff, durable=False)
        for event in events:
            if type(event) is RateLimitsUpdated:
                observed = event.emitted_at if event.emitted_at is not None else time.time()
                path = self.board.root / LIVE_RATE_LIMITS_FILE
                record_live(path, event.rate_limits, observed, self.board.quarantine)

    def _note_steps(self, run: Running) -> None:
        """A ``RUNNING step n/m`` line whenever the worker's plan advances."""
        todo = run.attempt.progress.todo
        if not todo:
            return
        done = sum(1 for t in todo if t.get("completed"))
        if done == run.todo_done:
            return
        run.todo_done = done
        current = next((t.get("text", "") for t in todo if not t.get("completed")), "finishing")
        self.board.log_event(
            {
                "kind": EventKind.RUNNING,
                "task_id": run.task_id,
                "step": done,
                "steps": len(todo),
                "line": f"RUNNING {run.task_id}: running (step {min(done + 1, len(todo))}/"
                f"{len(todo)}: {str(current)[:80]})",
            }
        )

    def _watchdog(self, run: Running, now: float) -> None:
        quiet = now - run.last_activity
        if quiet >= self.config.watchdog_notify_s and self._awaiting_approval(run):
            run.last_activity = now  # Codex waits on a person's answer: quiet, not stuck
            return
        if quiet >= self.config.watchdog_notify_s and not run.watchdog_notified:
            run.watchdog_notified = True
            run.state.message = f"no new event for {quiet / 60:.0f} min"
            self.board.log_event(
                {
                    "kind": EventKind.WATCHDOG,
                    "task_id": run.task_id,
                    "line": f"RUNNING {run.task_id}: no new event for {quiet:.0f}s",
                }
            )
            self._save(run.state)
        if quiet >= self.config.watchdog_kill_s and not run.watchdog_fired and run.attempt.runner_pid:
            run.watchdog_fired = True
            self.board.log_event(
                {"kind": EventKind.WATCHDOG_KILL, "task_id": run.task_id, "quiet_s": round(quiet)}
            )
            try:
                os.kill(run.attempt.runner_pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def _awaiting_approval(self, run: Running) -> bool:
        """True while an mcp-lane attempt has an approval card pending (the runner answers it)."""
        if run.attempt.runner_pid is None or run.state.lane != "mcp":
            return False
        return any(card.trigger == APPROVAL_TRIGGER for card in self.decisions.pending_for(run.task_id))

    def _check_runner(self, run: Running) -> None:
        """Backstops for a runner that died without writing ``exit.json`` or overran its cap."""
        alive = run.popen.poll() is None if run.popen is not None else _pid_alive(run.attempt.runner_pid)
        now = time.time()  # the runner's cap runs in real time, whatever the policy clock says
        started = run.attempt.started_at.timestamp()
        overdue = now > started + run.attempt.deadline_s + self.config.kill_grace_s + 15.0
        if alive and not overdue:
            return
        if run.runner_gone_at is None and not overdue:
            run.runner_gone_at = now  # the runner may be writing exit.json this very moment
            return
        if not overdue and run.runner_gone_at is not None and now - run.runner_gone_at < RUNNER_LOST_GRACE_S:
            return
        _kill_attempt(run.directory, run.attempt.runner_pid)
        self._withdraw_approvals(run.task_id, "the attempt that asked is gone (its runner stopped)")
        info = ExitInfo(
            lost=not overdue,
            timed_out=overdue,
            started=started,
            ended=now,
            note="runner overran the hard cap; killed by the supervisor"
            if overdue
            else "runner disappeared without recording an exit status",
        )
        atomic_write_json(run.directory / EXIT_FILE, info.model_dump(mode="json"))
        self.finalise(run)

    def _withdraw_approvals(self, task_id: str, note: str) -> None:
        """Codex approval cards answer a live app-server request; once its runner is gone nobody waits."""
        for card in self.decisions.pending_for(task_id):
            if card.trigger == APPROVAL_TRIGGER:
                with contextlib.suppress(DecisionError, OSError):
                    self.decisions.withdraw(card.id, note)
