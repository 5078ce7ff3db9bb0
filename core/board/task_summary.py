"""A task's summary: the few fields every list of tasks shows (a lane card, a ``status`` row, the
header's counts), small enough to keep tens of thousands in memory and to read without the task's full
state. Built from a :class:`~cockpit.core.records.task.TaskState` by its one writer; worker-derived
text in it is already cleaned (it comes from cleaned state fields). Reading summaries imports no more
than :mod:`cockpit.core.records.basics`: the full state's models are imported by
:meth:`TaskSummary.of` alone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from cockpit.core.records.basics import Signals, TaskStatus, Usage

if TYPE_CHECKING:
    from cockpit.core.records.task import TaskState


class CloudBrief(BaseModel):
    """A cloud-lane task's Codex Cloud task as lists show it: its id and URL once ``codex cloud exec``
    printed them (None while submitting), its status as last polled (``submitting``, then the
    CLI's: ``pending``, ``ready``, ``error``, ...), and the run in a few words for a card."""

    model_config = ConfigDict(frozen=True)

    task_id: str | None = None
    url: str | None = None
    status: str
    note: str = ""  # the run in a few words, for a card (``CloudRun.note``)


class ReviewBrief(BaseModel):
    """A task's cross-family review as lists show it: the round under way or last decided, the soft cap
    it counts towards (None: unknown), and the review's status (``reviewing``, ``challenged``,
    ``converged``, ``failed``, ``skipped``)."""

    model_config = ConfigDict(frozen=True)

    round: int = 0
    soft_cap: int | None = None
    status: str

    @property
    def words(self) -> str:
        """``review 2/3 challenged``, ``review skipped``."""
        if not self.round:
            return f"review {self.status}"
        of = f"/{self.soft_cap}" if self.soft_cap else ""
        return f"review {self.round}{of} {self.status}"


class TaskSummary(BaseModel):
    """One task as lists show it. ``attempt_limit`` is the attempts allowed before a gate (never fewer
    than made); ``started_at``/``ended_at`` bound the last attempt (``ended_at`` None while it runs)."""

    model_config = ConfigDict(frozen=True)

    id: str
    lane: str
    title: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    message: str | None = None
    attempts: int = 0
    attempt_limit: int
    signals: Signals = Signals()
    usage: Usage = Usage()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    awaiting_approval: str | None = None
    thread_id: str | None = None
    branch: str | None = None
    decision_id: str | None = None  # the pending decision card of a task awaiting a decision
    cloud: CloudBrief | None = None  # the last attempt's Codex Cloud task (cloud lane)
    review: ReviewBrief | None = None  # the cross-family review (None: not reviewed)

    @classmethod
    def of(cls, state: TaskState) -> TaskSummary:
        from cockpit.core.records.attempt import DEFAULT_ATTEMPT_LIMIT

        last = state.last_attempt
        failure = last.failure if last else None
        # The retry policy stores its limit on the failure it classifies (older records lack it).
        limit = failure.max_attempts if failure and failure.max_attempts else DEFAULT_ATTEMPT_LIMIT
        asking = last.progress.awaiting_approval if last and state.status == TaskStatus.RUNNING else None
        run = last.cloud if last else None
        cloud = (
            CloudBrief(task_id=run.task_id, url=run.url, status=run.status, note=run.note) if run else None
        )
        review = state.review
        brief = (
            ReviewBrief(round=len(review.rounds), soft_cap=review.soft_cap, status=review.status)
            if review is not None
            else None
        )
        return cls(
            id=state.id,
            lane=state.lane,
            title=state.title,
            status=state.status,
            created_at=state.created_at,
            updated_at=state.updated_at,
            message=state.message,
            attempts=len(state.attempts),
            attempt_limit=max(limit, len(state.attempts)),
            signals=last.signals if last else Signals(),
            usage=state.usage,
            started_at=last.started_at if last else None,
            ended_at=last.ended_at if last else None,
            awaiting_approval=asking,
            thread_id=state.thread_id,
            branch=state.branch,
            decision_id=state.decision_id,
            cloud=cloud,
            review=brief,
        )

    @property
    def tokens(self) -> int:
        return self.usage.input_tokens + self.usage.output_tokens
