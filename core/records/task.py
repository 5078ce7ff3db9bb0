"""The task state machine as persisted in ``tasks/<id>/state.json``: statuses, attempts, three signals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cockpit.core.records.attempt import Attempt, DiffStat, Failure
from cockpit.core.records.basics import TaskStatus, Usage, utc_now
from cockpit.core.records.review import ReviewState
from cockpit.core.text import CleanText

__all__ = ["TaskState"]


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
    review: ReviewState | None = None  # cross-family review rounds (worktree, mcp and cloud lanes)

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def touch(self) -> None:
        self.updated_at = utc_now()
