"""Finishing an attempt once its runner wrote ``exit.json``: the three signals, the usage delta to the
ledger, notifications, the stuck check, then settlement (each step once, even across a full disk)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from cockpit.core.atomic import disk_full
from cockpit.core.envelope.model import Envelope
from cockpit.core.envelope.prompt import parse_outcome
from cockpit.core.layout import EXIT_FILE, LAST_MESSAGE_FILE
from cockpit.core.policy.budgets import stuck_check, task_size
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.base import Running, _read_text


class FinalisePhase:
    def finalise(self, run: Running) -> None:
        state, attempt = run.state, run.attempt
        run.reducer.apply_many(run.tailer.read_new())
        run.reducer.apply_many(run.tailer.flush())  # a last line Codex left without its newline
        progress = run.reducer.snapshot()
        progress.parse_errors = run.tailer.parse_errors
        attempt.progress = progress
        try:
            info = ExitInfo.model_validate_json((run.directory / EXIT_FILE).read_bytes())
        except (ValueError, OSError) as exc:
            self.board.quarantine(run.directory / EXIT_FILE, f"unreadable exit status: {exc}")
            info = ExitInfo(lost=True, note="exit status unreadable")
        attempt.exit = info
        attempt.ended_at = datetime.fromtimestamp(info.ended, UTC) if info.ended else utc_now()
        last_text = _read_text(run.directory / LAST_MESSAGE_FILE)
        attempt.signals = Signals(
            exit_code=info.code,
            turn_completed=progress.turn_completed and progress.turn_failed is None,
            last_message=bool(last_text.strip()),
        )
        if progress.thread_id:
            state.thread_id = progress.thread_id
        if progress.usage is not None:
            same_thread = state.thread_usage is not None and attempt.resumed_thread == progress.thread_id
            delta = progress.usage.minus(state.thread_usage) if same_thread else progress.usage
            attempt.usage_delta = delta
            state.thread_usage = progress.usage
            state.usage = state.usage.plus(delta)
        attempt.outcome = parse_outcome(last_text) if last_text.strip() else None
        shutil.rmtree(self.board.scratch_dir(state.id, attempt.n), ignore_errors=True)
        # Each step once, even when a full disk cuts this short and the next pass finalises again.
        if "notify" not in run.finalised:
            self._notify(state, attempt)  # the completion line is written before any analysis
            run.finalised.add("notify")
        if "ledger" not in run.finalised:
            self._ledger(state, attempt)
            run.finalised.add("ledger")
        if "settle" not in run.finalised:
            envelope = self.board.read_envelope(state.id)
            self._stuck(state, attempt, envelope)
            try:
                self.settler.settle(state, attempt, envelope)
            except Exception as exc:  # one task's bad settle never stops the supervisor
                if isinstance(exc, OSError) and disk_full(exc):
                    raise  # the loop pauses; this step runs again when space returns
                state.status, state.message = TaskStatus.FAILED, f"could not settle the attempt: {exc}"
                self.board.log_event(
                    {
                        "kind": EventKind.SETTLE_ERROR,
                        "task_id": state.id,
                        "error": str(exc)[:500],
                        "error_type": type(exc).__name__,
                    }
                )
            run.finalised.add("settle")
        self._save(state)
        self.running.pop(state.id, None)

    def _notify(self, state: TaskState, attempt: Attempt) -> None:
        info = attempt.exit or ExitInfo()
        out = attempt.outcome
        if info.cancelled:
            word, text = EventKind.CANCELLED, "cancelled"
        elif attempt.signals.ok and out and out.status in ("FAILED", "BLOCKED"):
            word, text = EventKind(out.status), f"{out.status.lower()} ({out.detail[:160]})"
        elif attempt.signals.ok:
            size = (self.board.attempt_dir(state.id, attempt.n) / LAST_MESSAGE_FILE).stat().st_size
            word, text = EventKind.COMPLETED, f"completed (output: last-message.md, {size} B)"
        else:
            reason = attempt.progress.turn_failed or info.note or f"exit {info.code}, signal {info.signal}"
            word, text = EventKind.FAILED, f"FAILED (error: {reason[:200]})"
        self.board.log_event(
            {
                "kind": word,
                "task_id": state.id,
                "attempt": attempt.n,
                "signals": attempt.signals.model_dump(),
                "line": f"{word} {state.id}: {text}",
            }
        )

    def _stuck(self, state: TaskState, attempt: Attempt, envelope: Envelope | None) -> None:
        """The playbook's token stuck rule, to the notify tier (over 150 % of budget is a gate)."""
        if envelope is None:
            return
        verdict = stuck_check(
            task_size(envelope, self.config.effort),
            envelope.budget.tokens,
            state.usage.input_tokens + state.usage.output_tokens,
            bool(attempt.progress.file_changes),
            self.config.budget,
            task_id=state.id,
        )
        if verdict is not None:
            self.board.log_event(
                {
                    "kind": EventKind.NOTIFY,
                    "topic": "stuck",
                    "task_id": state.id,
                    "line": f"NOTIFY {state.id}: {verdict.message}",
                }
            )

    def _ledger(self, state: TaskState, attempt: Attempt) -> None:
        delta = attempt.usage_delta
        duration = (attempt.ended_at - attempt.started_at).total_seconds() if attempt.ended_at else None
        self.board.append_ledger(
            {
                "task_id": state.id,
                "attempt": attempt.n,
                "family": "codex",
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
