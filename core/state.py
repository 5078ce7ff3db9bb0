"""The task state machine as persisted in ``tasks/<id>/state.json``: statuses, attempts, three signals."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cockpit.core.exit_info import ExitInfo
from cockpit.core.failures import Failure
from cockpit.core.prompt import Outcome
from cockpit.core.reducer import AttemptProgress
from cockpit.core.task_basics import (
    ACTIONABLE,
    ACTIVE,
    FINISHED,
    WAITING,
    Signals,
    TaskStatus,
    Usage,
    utc_now,
)
from cockpit.core.text import CleanText

# The status, signals and usage live in task_basics (shared with task summaries); re-exported here.
__all__ = [
    "ACTIONABLE",
    "ACTIVE",
    "FINISHED",
    "WAITING",
    "WORKTREE_LANES",
    "Attempt",
    "DiffStat",
    "Signals",
    "TaskState",
    "TaskStatus",
    "Usage",
    "utc_now",
]

# Lanes whose tasks work on a branch in a git worktree of their own and end in review.
WORKTREE_LANES = frozenset({"worktree", "mcp"})


class Attempt(BaseModel):
    n: int
    kind: Literal["initial", "followup", "retry", "resume"] = "initial"
    resumed_thread: str | None = None
    started_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None
    deadline_s: float
    effort: str | None = None
    model: str | None = None
    runner_pid: int | None = None
    exit: ExitInfo | None = None
    signals: Signals = Field(default_factory=Signals)
    progress: AttemptProgress = Field(default_factory=AttemptProgress)
    usage_delta: Usage | None = None
    outcome: Outcome | None = None
    error: CleanText | None = None  # worker-derived text: cleaned (see cockpit.core.text)
    failure: Failure | None = None
    probe: bool = False

    @property
    def finished(self) -> bool:
        return self.exit is not None


class DiffStat(BaseModel):
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: list[CleanText] = Field(default_factory=list)


class TaskState(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    lane: str
    title: CleanText
    status: TaskStatus = TaskStatus.QUEUED
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    message: CleanText | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    thread_id: str | None = None
    thread_usage: Usage | None = None
    usage: Usage = Field(default_factory=Usage)
    pending_feedback: str | None = None
    base_branch: str | None = None
    base_commit: str | None = None
    branch: str | None = None
    worktree: str | None = None
    head_commit: str | None = None
    diff: DiffStat | None = None
    skipped_nested_repos: list[str] = Field(default_factory=list)  # left out of the commit, e.g. "sub/"
    merge_commit: str | None = None
    not_before: float | None = None
    decision_id: str | None = None
    failures: list[Failure] = Field(default_factory=list)
    approved_escalations: list[str] = Field(default_factory=list)
    denied_escalations: list[str] = Field(default_factory=list)
    continuations: int = 0
    effort: str | None = None
    effort_reason: str | None = None
    budget_approved: bool = False
    resume_reason: str | None = None

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def touch(self) -> None:
        self.updated_at = utc_now()

    def summary(self) -> dict[str, object]:
        """The ``status --json`` row (see :meth:`cockpit.core.task_summary.TaskSummary.row`)."""
        from cockpit.core.task_summary import TaskSummary

        return TaskSummary.of(self).row()
