"""The small value types a task's full state and its summary share — its status, the three signals of
an attempt, token usage and the clock — kept in a module that imports nothing but pydantic, so that a
list of tasks loads without the models of events, failures and envelopes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    REVIEW = "review"
    MERGED = "merged"
    REJECTED = "rejected"
    CONFLICT = "conflict"
    CANCELLED = "cancelled"
    AWAITING_DECISION = "awaiting_decision"
    DEAD_LETTER = "dead_letter"
    REVIEWING = "reviewing"  # a cross-family review of the result is under way (reviewer, then judge)


# A task in review by another model family is work in flight the supervisor drives by itself (it starts
# the reviewer, follows it, runs the judge, then sends the task back or on to the human's review), so it
# is active: kept in memory, followed again after a restart, never archived.
ACTIVE = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.REVIEWING})
WAITING = frozenset({TaskStatus.AWAITING_DECISION})
FINISHED = frozenset(set(TaskStatus) - ACTIVE - WAITING)
# What the supervisor acts on by itself, and so keeps in memory in full: tasks to start (queued), to
# follow (running) and to settle once their card is answered (awaiting a decision). Every other task
# changes only when a command or a request names it (review, conflict, blocked, the finished ones) or
# when its dead letter falls due (dead_letter: the letter in ``dead-letters/`` is what the sweep
# follows), and is read from its ``state.json`` then.
ACTIONABLE = ACTIVE | WAITING


class Signals(BaseModel):
    """The three success signals of one attempt, kept apart so a reader sees which one failed."""

    exit_code: int | None = None
    turn_completed: bool = False
    last_message: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.turn_completed and self.last_message


class Usage(BaseModel):
    """Token usage as Codex reports it. ``cached`` is part of ``input``, ``reasoning`` part of ``output``;
    unknown fields are kept (a newer Codex may report more)."""

    model_config = ConfigDict(extra="allow")

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def minus(self, other: Usage | None) -> Usage:
        """Field-wise difference, clamped at 0 (a delta between two cumulative readings)."""
        if other is None:
            return self.model_copy()
        return Usage(
            input_tokens=max(0, self.input_tokens - other.input_tokens),
            cached_input_tokens=max(0, self.cached_input_tokens - other.cached_input_tokens),
            cache_write_input_tokens=max(0, self.cache_write_input_tokens - other.cache_write_input_tokens),
            output_tokens=max(0, self.output_tokens - other.output_tokens),
            reasoning_output_tokens=max(0, self.reasoning_output_tokens - other.reasoning_output_tokens),
        )

    def plus(self, other: Usage | None) -> Usage:
        """Field-wise sum."""
        if other is None:
            return self.model_copy()
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_input_tokens=self.cache_write_input_tokens + other.cache_write_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_output_tokens=self.reasoning_output_tokens + other.reasoning_output_tokens,
        )
