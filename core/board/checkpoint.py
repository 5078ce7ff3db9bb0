"""Per-task checkpoints (``tasks/<id>/checkpoint.json``) and the digest a resumed run starts from.

Written at attempt boundaries only — when an attempt starts and when it ends — never per event. A
task that was interrupted (killed, lost, chunked, stopped by the watchdog) resumes its Codex thread
with ``codex exec resume <thread_id>`` and the short digest built here instead of starting over.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from cockpit.core.atomic import atomic_write_json
from cockpit.core.layout import CHECKPOINT_FILE
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import utc_now
from cockpit.core.records.task import TaskState

MAX_ERROR_LOG = 20
MAX_DIGEST_CHARS = 2000


class Checkpoint(BaseModel):
    """The playbook's checkpoint schema, plus the Codex thread to resume."""

    task_id: str
    phase: str
    step: int = 0
    completed: list[str] = Field(default_factory=list)
    next: str = ""
    artifacts: list[str] = Field(default_factory=list)
    pending_tasks: list[str] = Field(default_factory=list)
    thread_id: str | None = None
    cost: dict[str, int] = Field(default_factory=dict)
    cost_estimate_usd: float | None = None
    error_log: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utc_now)


def attempt_line(attempt: Attempt) -> str:
    """One line per finished attempt for ``completed``."""
    verdict = "ok" if attempt.signals.ok else (attempt.error or "failed")
    outcome = (
        f"; {attempt.outcome.status}: {attempt.outcome.detail}"
        if attempt.outcome and attempt.outcome.status
        else ""
    )
    return f"attempt {attempt.n} ({attempt.kind}): {verdict}{outcome}"[:300]


def build_checkpoint(state: TaskState, *, phase: str, next_step: str, artifacts: list[str]) -> Checkpoint:
    finished = [a for a in state.attempts if a.finished]
    return Checkpoint(
        task_id=state.id,
        phase=phase,
        step=len(state.attempts),
        completed=[attempt_line(a) for a in finished],
        next=next_step,
        artifacts=artifacts,
        thread_id=state.thread_id,
        cost={
            "input_tokens": state.usage.input_tokens,
            "cached_input_tokens": state.usage.cached_input_tokens,
            "output_tokens": state.usage.output_tokens,
        },
        error_log=[a.error for a in finished if a.error][-MAX_ERROR_LOG:],
    )


def write_checkpoint(task_dir: Path, checkpoint: Checkpoint) -> None:
    atomic_write_json(task_dir / CHECKPOINT_FILE, checkpoint.model_dump(mode="json"))


def resume_digest(state: TaskState, reason: str) -> str:
    """What the worker did before it was interrupted, for the prompt of the run that continues it."""
    lines = [
        f"Your previous run of this task was interrupted ({reason}). Continue from where it stopped;"
        " do not redo work that is already done."
    ]
    last = state.last_attempt
    if last is not None:
        p = last.progress
        running = f", {p.commands_running} still running when it stopped" if p.commands_running else ""
        lines.append(
            f"So far: {p.commands} commands finished ({p.commands_failed} failed){running}, "
            f"{len(p.file_changes)} files changed."
        )
        if p.file_changes:
            shown = ", ".join(p.file_changes[:10])
            more = f" and {len(p.file_changes) - 10} more" if len(p.file_changes) > 10 else ""
            lines.append(f"Files changed: {shown}{more}.")
        if p.todo:
            done = sum(1 for t in p.todo if t.get("completed"))
            lines.append(f"Plan: {done}/{len(p.todo)} steps done.")
        if p.last_agent_message:
            lines.append("Your last message was: " + p.last_agent_message.strip().splitlines()[0][:300])
    return "\n".join(lines)[:MAX_DIGEST_CHARS]
