"""A read-only view of the blackboard for front ends: task states reloaded only when their file
changed, plus the counts a header shows (workers, pending decisions, reviews, breakers, the credit
window) and the newest Codex sessions run by hand (listed in the mcp lane). UI-free; the TUI's bridge
polls it and hands snapshots to widgets."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cockpit.core.blackboard import Blackboard
from cockpit.core.breaker import BreakerStore
from cockpit.core.decisions import DecisionCard, DecisionStore
from cockpit.core.external_sessions import ExternalSession, ExternalSessionReader
from cockpit.core.live_rate_limits import LIVE_RATE_LIMITS_FILE
from cockpit.core.state import TaskStatus, utc_now
from cockpit.core.task_summary import TaskSummary
from cockpit.core.usage_windows import RolloutWatcher, UsageWindows, codex_homes_from

LANE_ORDER = ("local", "worktree", "cloud", "mcp")
EXTERNAL_LANE = "mcp"  # the lane pane that lists hand-run Codex sessions


@dataclass(frozen=True)
class BoardSnapshot:
    """Everything the main screen draws, at one moment. ``tasks`` maps every live task's id to its
    summary (the mapping is never mutated once handed out); ``changed`` names the ids added, changed or
    removed since the previous snapshot of the same view (all of them after a full rescan)."""

    tasks: Mapping[str, TaskSummary]
    running: int
    max_workers: int
    decisions: tuple[DecisionCard, ...]
    reviews: int
    breakers: dict[str, str]
    windows: UsageWindows
    supervisor_pid: int | None
    taken_at: float
    version: int
    external: tuple[ExternalSession, ...] = ()  # newest first, at most five
    changed: frozenset[str] = frozenset()

    @property
    def pending_decisions(self) -> int:
        return len(self.decisions)

    def lane(self, name: str) -> list[TaskSummary]:
        """A lane's tasks, oldest first."""
        return sorted((t for t in self.tasks.values() if t.lane == name), key=lambda t: t.created_at)

    def external_for(self, name: str) -> tuple[ExternalSession, ...]:
        """The hand-run Codex sessions a lane's pane lists (only :data:`EXTERNAL_LANE`'s)."""
        return self.external if name == EXTERNAL_LANE else ()


@dataclass
class BoardView:
    board: Blackboard
    clock: Callable[[], float] = time.time
    windows: RolloutWatcher | None = None
    env: dict[str, str] = field(default_factory=dict)
    _mtimes: dict[str, int] = field(default_factory=dict)
    _states: dict[str, TaskSummary] = field(default_factory=dict)
    _changed: set[str] = field(default_factory=set)
    _version: int = 0

    def __post_init__(self) -> None:
        if self.windows is None:
            home = self.env.get("CODEX_HOME") or os.environ.get("CODEX_HOME")
            self.windows = RolloutWatcher(
                codex_homes_from([home]),
                clock=self.clock,
                live_file=self.board.root / LIVE_RATE_LIMITS_FILE,
            )
        self._decisions = DecisionStore(self.board.root, utc_now)
        self._breakers = BreakerStore(self.board.root / "breakers", self.clock, random.Random())
        self._external = ExternalSessionReader(self.board)  # file mtimes: wall clock

    def refresh(self) -> bool:
        """Reload the task states whose files changed; True when anything did."""
        changed = False
        seen = set()
        for task_id in self.board.task_ids():
            seen.add(task_id)
            path = self.board.task_dir(task_id) / "state.json"
            try:
                mtime = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if self._mtimes.get(task_id) == mtime:
                continue
            state = self.board.read_state(task_id)
            if state is not None:
                self._states[task_id] = TaskSummary.of(state)
                self._changed.add(task_id)
                self._mtimes[task_id] = mtime
                changed = True
        for gone in set(self._states) - seen:
            self._states.pop(gone)
            self._mtimes.pop(gone, None)
            self._changed.add(gone)
            changed = True
        if changed:
            self._version += 1
        return changed

    def snapshot(self) -> BoardSnapshot:
        self.refresh()
        tasks = dict(self._states)
        changed, self._changed = frozenset(self._changed), set()
        assert self.windows is not None
        return BoardSnapshot(
            tasks=tasks,
            changed=changed,
            running=sum(1 for t in tasks.values() if t.status == TaskStatus.RUNNING),
            max_workers=self.board.config().max_workers,
            decisions=tuple(self._decisions.pending()),
            reviews=sum(1 for t in tasks.values() if t.status == TaskStatus.REVIEW),
            breakers={b.provider: b.state.value for b in self._breakers.all()},
            windows=self.windows.snapshot(),
            supervisor_pid=self.board.supervisor_pid(),
            taken_at=self.clock(),
            version=self._version,
            external=self._external.recent(),
        )
