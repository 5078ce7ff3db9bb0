"""Big boards without a disk: task summaries made in memory and a board view stand-in that hands them
to the cockpit as snapshots (with the ids changed since the previous one), for tests and benchmarks of
the lanes. A task the test opens (task view, diff) still needs its files written to the blackboard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.policy.retry import GATE_AFTER_FAILED_ATTEMPTS
from cockpit.core.records.basics import Signals, TaskStatus
from cockpit.core.usage.windows import UsageWindows
from cockpit.core.views.board import BoardSnapshot, TaskCounts, TaskTally
from cockpit.core.views.lane_rows import LaneFilter, needs_rank

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
"""The stand-in board's "now" (tasks are dated before it)."""


def summary(
    task_id: str,
    status: TaskStatus = TaskStatus.SUCCEEDED,
    *,
    lane: str = "worktree",
    created: float = -60.0,
    updated: float | None = None,
    title: str | None = None,
    **fields: object,
) -> TaskSummary:
    """A task summary dated in minutes from :data:`T0` (``updated`` defaults to ``created``)."""
    return TaskSummary(
        id=task_id,
        lane=lane,
        title=title if title is not None else f"Task {task_id}",
        status=status,
        created_at=T0 + timedelta(minutes=created),
        updated_at=T0 + timedelta(minutes=created if updated is None else updated),
        **{"attempt_limit": GATE_AFTER_FAILED_ATTEMPTS, **fields},  # type: ignore[arg-type]
    )


def history(n: int, *, lane: str = "worktree", failed_every: int = 130) -> list[TaskSummary]:
    """``n`` finished tasks, one a minute going back from two days before :data:`T0` (so none is a fresh
    failure), every ``failed_every``-th failed; the newest is ``<lane>-h00000``."""
    tasks = []
    for i in range(n):
        at = -2 * 24 * 60 - i
        status = TaskStatus.FAILED if i % failed_every == failed_every - 1 else TaskStatus.SUCCEEDED
        ok = Signals(exit_code=0, turn_completed=True, last_message=True)
        tasks.append(
            summary(
                f"{lane}-h{i:05d}",
                status,
                lane=lane,
                created=at - 5,
                updated=at,
                title=f"History item {i}",
                attempts=1,
                signals=ok if status == TaskStatus.SUCCEEDED else Signals(exit_code=1),
                started_at=T0 + timedelta(minutes=at - 4),
                ended_at=T0 + timedelta(minutes=at),
            )
        )
    return tasks


def snapshot(
    tasks: Mapping[str, TaskSummary],
    *,
    version: int = 1,
    changed: Iterable[str] = (),
    taken_at: float | None = None,
    counts: TaskCounts | None = None,
) -> BoardSnapshot:
    """A snapshot of ``tasks``; ``counts`` are counted from them unless given (kept by a tally)."""
    if counts is None:
        counts = TaskCounts.count(tasks.values())
    return BoardSnapshot(
        tasks=tasks,
        changed=frozenset(changed),
        counts=counts,
        running=counts.status(TaskStatus.RUNNING),
        max_workers=3,
        decisions=(),
        reviews=counts.status(TaskStatus.REVIEW),
        breakers={},
        windows=UsageWindows(),
        supervisor_pid=None,
        taken_at=T0.timestamp() if taken_at is None else taken_at,
        version=version,
    )


class StubView:
    """Stands in for :class:`~cockpit.core.views.board.BoardView`: ``put``/``remove`` change the board, each
    :meth:`snapshot` hands out a new mapping with the ids changed since the previous one, and counts
    kept change by change (as the view keeps them)."""

    def __init__(self, tasks: Iterable[TaskSummary] = (), clock: Callable[[], float] | None = None) -> None:
        self.tasks: dict[str, TaskSummary] = {t.id: t for t in tasks}
        self.tally = TaskTally()
        for task in self.tasks.values():
            self.tally.move(None, task)
        self.clock = clock or (lambda: T0.timestamp())
        self._changed: set[str] = set(self.tasks)
        self.version = 1
        self.snapshots = 0

    def put(self, *tasks: TaskSummary) -> None:
        for task in tasks:
            self.tally.move(self.tasks.get(task.id), task)
            self.tasks[task.id] = task
            self._changed.add(task.id)

    def remove(self, task_id: str) -> None:
        self.tally.move(self.tasks.pop(task_id, None), None)
        self._changed.add(task_id)

    def snapshot(self) -> BoardSnapshot:
        self.snapshots += 1
        if self._changed:
            self.version += 1
        changed, self._changed = self._changed, set()
        return snapshot(
            dict(self.tasks),
            version=self.version,
            changed=changed,
            taken_at=self.clock(),
            counts=self.tally.counts,
        )


def lane_recount(
    tasks: Iterable[TaskSummary], lane: str, flt: LaneFilter, now: datetime
) -> tuple[str, dict[TaskStatus, int]]:
    """What a lane's title and fold line must say, counted from scratch: ``(title, {status: finished
    tasks that pass the filter})``."""
    in_lane = [t for t in tasks if t.lane == lane]
    shown = [t for t in in_lane if flt.matches(t)] if flt.active else in_lane
    folded = Counter(t.status for t in shown if needs_rank(t, now) is None)
    title = f"{lane} · {len(shown):,} of {len(in_lane):,}" if flt.active else f"{lane} · {len(in_lane):,}"
    return title, dict(folded)
