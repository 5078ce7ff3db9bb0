"""A read-only view of the blackboard for front ends: task summaries followed through the task index
(:mod:`cockpit.core.board.task_index`: an idle poll is one ``stat``, never one per task), counts per lane and
status kept up to date change by change, plus what a header shows (workers, pending decisions, reviews,
breakers, Codex's credit windows and Claude's) and the newest Codex sessions run by hand (listed in the
mcp lane), each read again only when its files changed. UI-free; the TUI's bridge polls it and hands
snapshots to widgets."""

from __future__ import annotations

import bisect
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Generic, TypeVar

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionCard, DecisionStore
from cockpit.core.board.external_sessions import ExternalSession, ExternalSessionReader
from cockpit.core.board.task_index.reader import TaskIndexReader
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.layout import BREAKERS_DIR, CLAUDE_LIMITS_FILE, CONFIG_FILE
from cockpit.core.policy.breaker import BreakerRecord, BreakerState, BreakerStore
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.trust import user_config_path
from cockpit.core.usage.claude_limits import ClaudeLimits, ClaudeLimitsStore
from cockpit.core.usage.watcher import RolloutWatcher, shared_watcher
from cockpit.core.usage.windows import UsageWindows
from cockpit.core.vocabulary import CLOUD_LANE, LANE_NAMES

LANE_ORDER = LANE_NAMES
EXTERNAL_LANE = "mcp"  # the lane pane that lists hand-run Codex sessions
# A file changed less than this long ago may change again within the same file-system timestamp tick
# (timestamps are coarse), unseen by its stamp: what it holds is read again until it has settled.
SETTLE_S = 1.0
BULK_CHANGES = 256  # changes in one poll past which the lanes' order is sorted again, not patched


@dataclass(frozen=True)
class TaskCounts:
    """How many live tasks each (lane, status) has, at one moment: what the header and the lanes (their
    titles and fold lines) show. Kept up to date by a :class:`TaskTally` applying each change, never
    by counting all tasks again."""

    by_lane_status: Mapping[tuple[str, TaskStatus], int] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, lane: str, status: TaskStatus) -> int:
        return self.by_lane_status.get((lane, status), 0)

    def status(self, status: TaskStatus) -> int:
        """Tasks with ``status``, whatever their lane."""
        return sum(n for (_, s), n in self.by_lane_status.items() if s == status)

    def lane(self, lane: str) -> int:
        """Tasks in ``lane``, whatever their status."""
        return sum(n for (name, _), n in self.by_lane_status.items() if name == lane)

    @property
    def total(self) -> int:
        return sum(self.by_lane_status.values())

    @classmethod
    def count(cls, tasks: Iterable[TaskSummary]) -> TaskCounts:
        """A count from scratch (what the maintained counts must always equal)."""
        return cls(MappingProxyType(dict(Counter((t.lane, t.status) for t in tasks))))


class TaskTally:
    """The one place counts are maintained: :meth:`move` takes one task out of its old (lane, status)
    and into its new one; :attr:`counts` is the result (a new :class:`TaskCounts` after a change, the
    same object while nothing changed)."""

    def __init__(self) -> None:
        self._counter: Counter[tuple[str, TaskStatus]] = Counter()
        self._counts: TaskCounts | None = TaskCounts()

    def move(self, old: TaskSummary | None, new: TaskSummary | None) -> None:
        """A task changed from ``old`` to ``new`` (None: it was added, or removed)."""
        if old is not None:
            pair = (old.lane, old.status)
            self._counter[pair] -= 1
            if self._counter[pair] <= 0:
                del self._counter[pair]
        if new is not None:
            self._counter[(new.lane, new.status)] += 1
        self._counts = None

    @property
    def counts(self) -> TaskCounts:
        if self._counts is None:
            self._counts = TaskCounts(MappingProxyType(dict(self._counter)))
        return self._counts


@dataclass(frozen=True)
class BoardSnapshot:
    """Everything the main screen draws, at one moment. ``tasks`` maps every live task's id to its
    summary (the mapping is never mutated once handed out, and the same object comes again while no
    task changed); ``changed`` names the ids added, changed or removed since the previous snapshot of
    the same view. ``lanes`` holds each lane's tasks oldest first (a lane's tuple is the same object
    while none of its tasks changed) and ``counts`` the tasks per lane and status."""

    tasks: Mapping[str, TaskSummary]
    running: int  # tasks holding a local worker slot (cloud-lane tasks run remotely and hold none)
    max_workers: int
    decisions: tuple[DecisionCard, ...]
    reviews: int
    breakers: dict[str, str]
    windows: UsageWindows
    supervisor_pid: int | None
    taken_at: float
    version: int
    external: tuple[ExternalSession, ...] = ()  # newest first, at most five
    claude: ClaudeLimits = field(default_factory=ClaudeLimits)  # the reviewer's windows, as of taken_at
    changed: frozenset[str] = frozenset()
    counts: TaskCounts = field(default_factory=TaskCounts)
    lanes: Mapping[str, tuple[TaskSummary, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def pending_decisions(self) -> int:
        return len(self.decisions)

    def lane(self, name: str) -> list[TaskSummary]:
        """A lane's tasks, oldest first."""
        if name in self.lanes:
            return list(self.lanes[name])
        return sorted((t for t in self.tasks.values() if t.lane == name), key=_lane_key)

    def external_for(self, name: str) -> tuple[ExternalSession, ...]:
        """The hand-run Codex sessions a lane's pane lists (only :data:`EXTERNAL_LANE`'s)."""
        return self.external if name == EXTERNAL_LANE else ()


def _lane_key(task: TaskSummary) -> tuple[datetime, str]:
    return (task.created_at, task.id)


T = TypeVar("T")
_Stamp = tuple[int, int, int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Gated(Generic[T]):
    """A value read from files again only when their stamps (inode, size, times) changed, when the
    last change had not settled (:data:`SETTLE_S`), or when the value says it expires (``expires``,
    on ``clock``). A read that raises is not kept: the next call reads again."""

    def __init__(
        self,
        paths: Callable[[], Sequence[Path]],
        load: Callable[[], T],
        *,
        clock: Callable[[], float] = time.time,
        expires: Callable[[T], float] | None = None,
    ) -> None:
        self._paths, self._load, self._clock, self._expires = paths, load, clock, expires
        self._kept: tuple[tuple[_Stamp, ...], T] | None = None  # the stamps a value was read under
        self._settled = False
        self._until = math.inf

    def get(self) -> T:
        stamps = tuple(_stamp(p) for p in self._paths())
        kept = self._kept
        if kept is not None and kept[0] == stamps and self._settled and self._clock() < self._until:
            return kept[1]
        value = self._load()
        now = time.time()  # file times are wall-clock times
        self._settled = all(s is None or now - s[2] / 1e9 > SETTLE_S for s in stamps)
        self._kept = (stamps, value)
        self._until = self._expires(value) if self._expires is not None else math.inf
        return value


def _breakers_expire(records: list[BreakerRecord]) -> float:
    """When the first OPEN breaker's cooldown ends (it then reads HALF-OPEN): the list is read again."""
    return min(
        (r.cooldown_until for r in records if r.state is BreakerState.OPEN and r.cooldown_until is not None),
        default=math.inf,
    )


def _max_workers(board: Blackboard) -> int:
    from cockpit.core.config import board_config  # read when the config file changes, not at import

    return board_config(board).max_workers


@dataclass
class BoardView:
    board: Blackboard
    clock: Callable[[], float] = time.time
    windows: RolloutWatcher | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.windows is None:
            self.windows = shared_watcher(self.board.root, self.env, clock=self.clock)
        self.index = TaskIndexReader(self.board)
        self._tally = TaskTally()
        self._tasks: Mapping[str, TaskSummary] = MappingProxyType({})
        self._lane_lists: dict[str, list[TaskSummary]] = {}  # each lane's tasks, oldest first
        self._lanes: Mapping[str, tuple[TaskSummary, ...]] = MappingProxyType({n: () for n in LANE_ORDER})
        self._changed: set[str] = set()
        self._version = 0
        root = self.board.root
        decisions = DecisionStore(root, utc_now)
        self._decisions = _Gated(
            lambda: (decisions.pending_dir, decisions.resolved_dir), lambda: tuple(decisions.pending())
        )
        breakers = BreakerStore(root / BREAKERS_DIR, self.clock, random.Random())
        self._breakers = _Gated(
            lambda: (breakers.directory,), breakers.all, clock=self.clock, expires=_breakers_expire
        )
        self._max_workers = _Gated(
            lambda: (root / CONFIG_FILE, user_config_path()), lambda: _max_workers(self.board)
        )
        self._external = ExternalSessionReader(self.board)  # file mtimes: wall clock
        self._claude = ClaudeLimitsStore(root / CLAUDE_LIMITS_FILE)  # read again only when it changed

    def refresh(self) -> bool:
        """Follow the task index; True when a task was added, changed or removed."""
        changes = self.index.poll()
        if not changes:
            return False
        tasks = self.index.tasks
        touched: set[str] = set()
        for old, new in changes.values():
            self._tally.move(old, new)
            touched.update(t.lane for t in (old, new) if t is not None)
        lists = self._lane_lists
        if len(changes) > BULK_CHANGES:  # a load: sorting each lane once beats thousands of inserts
            for lane in touched:
                lists[lane] = []
            for task in tasks.values():
                if task.lane in touched:
                    lists[task.lane].append(task)
            for lane in touched:
                lists[lane].sort(key=_lane_key)
        else:
            for old, new in changes.values():
                if old is not None:
                    ordered = lists.get(old.lane, [])
                    at = bisect.bisect_left(ordered, _lane_key(old), key=_lane_key)
                    if at < len(ordered) and ordered[at].id == old.id:
                        del ordered[at]
                if new is not None:
                    bisect.insort(lists.setdefault(new.lane, []), new, key=_lane_key)
        lanes = dict(self._lanes)
        for lane in touched:
            lanes[lane] = tuple(lists.get(lane, ()))
        self._lanes = MappingProxyType(lanes)
        self._tasks = MappingProxyType(dict(tasks))
        self._changed.update(changes)
        self._version += 1
        return True

    def snapshot(self) -> BoardSnapshot:
        self.refresh()
        changed, self._changed = frozenset(self._changed), set()
        assert self.windows is not None
        counts = self._tally.counts
        now = self.clock()
        return BoardSnapshot(
            tasks=self._tasks,
            changed=changed,
            counts=counts,
            lanes=self._lanes,
            running=counts.status(TaskStatus.RUNNING) - counts.get(CLOUD_LANE, TaskStatus.RUNNING),
            max_workers=self._max_workers.get(),
            decisions=self._decisions.get(),
            reviews=counts.status(TaskStatus.REVIEW),
            breakers={b.provider: b.state.value for b in self._breakers.get()},
            windows=self.windows.snapshot(),
            supervisor_pid=self.board.supervisor_pid(),
            taken_at=now,
            version=self._version,
            external=self._external.recent(),
            claude=self._claude.read().as_of(now),
        )
