"""What a lane pane lists, in which order: the tasks that need the user first, then every finished task
folded into one line (``✓ 4,812 done · ✗ 37 failed — enter to expand``), newest first once expanded.
UI-free: the pane draws these rows; this module decides them.

**Needs you** (always listed, in this order):

0. ``awaiting_decision``, and a ``running`` task whose turn waits for an approval: a question is open;
1. ``review``: a diff waits for a verdict;
2. ``conflict`` and ``blocked``: the merge or the worker stopped, a person has to step in;
3. ``running`` and ``reviewing`` (another model family reviews the result: machine work, not yet the
   user's); 4. ``queued``: work in flight, shown so the lane says what it is doing;
5. ``failed`` and ``dead_letter`` tasks that failed within the last :data:`RECENT_FAILURE` (by
   ``updated_at``, the time of the task's last change): fresh failures to look at or retry.

Ranks 0–4 keep submission order (oldest first: the order reviews are opened with ``v`` and queued tasks
are dispatched); fresh failures come newest first. **Finished** is everything else — ``succeeded``,
``merged``, ``rejected``, ``cancelled`` and older failures — counted per status on the fold line and,
when expanded, listed by ``updated_at``, newest first.

**Filter** (applied before grouping; every term must hold)::

    words…            each word is in the title or the id (case-insensitive)
    state:review      the status is one of the given (state:review,failed or several state: terms);
                      a unique prefix or ``done`` (succeeded) / ``dead`` (dead_letter) also names one
                      (a prefix of ``review`` names it, though ``reviewing`` starts the same way)
    lane:worktree     the task is in one of the given lanes (lanes not named list nothing)

``status:`` is a synonym of ``state:``; other ``key:value`` words are plain words. A bad state or lane
raises :class:`FilterError` with a one-line reason.

**Incremental**: :class:`BoardLanes` applies each board snapshot's ``changed`` ids (nothing is done per
task when nothing changed). A task whose change keeps its place (same group, same position key, same
filter verdict — a running task's progress, a folded task's touch) is updated in place and reported in
:attr:`LaneChange.tasks`; any other change rebuilds that lane's rows, O(tasks in the lane).

**Counts** are kept once, by the board view (:class:`~cockpit.core.views.board.TaskCounts`, maintained
change by change): a lane's title is its count there, and its fold line the counts of its finished
statuses less the fresh failures listed above it. A folded lane keeps no row, list or count of its
finished tasks. Only a filter is counted by the lane (what passes it is known only by looking at each
task), during the rebuild it makes anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Final

from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.errors import InputError
from cockpit.core.records.basics import TaskStatus
from cockpit.core.views.board import LANE_ORDER, BoardSnapshot, TaskCounts, TaskTally

__all__ = [
    "FOLD",
    "RECENT_FAILURE",
    "STATUS_SYMBOLS",
    "BoardLanes",
    "FilterError",
    "Fold",
    "LaneChange",
    "LaneFilter",
    "LaneRows",
    "Row",
    "fold_label",
    "fold_parts",
    "needs_rank",
]

RECENT_FAILURE: Final = timedelta(hours=24)
"""A failed or dead-lettered task stays among "needs you" this long after its last change."""

STATUS_SYMBOLS: Final[Mapping[TaskStatus, str]] = {
    TaskStatus.QUEUED: "○",
    TaskStatus.RUNNING: "▶",
    TaskStatus.SUCCEEDED: "✓",
    TaskStatus.FAILED: "✗",
    TaskStatus.BLOCKED: "■",
    TaskStatus.REVIEW: "◆",
    TaskStatus.MERGED: "✔",
    TaskStatus.REJECTED: "⊘",
    TaskStatus.CONFLICT: "⚠",
    TaskStatus.CANCELLED: "⊘",
    TaskStatus.AWAITING_DECISION: "?",
    TaskStatus.DEAD_LETTER: "☠",
    TaskStatus.REVIEWING: "◇",
}
"""One symbol per status; shown next to the status word, never instead of it."""

_RANKS: Final[Mapping[TaskStatus, int]] = {
    TaskStatus.AWAITING_DECISION: 0,
    TaskStatus.REVIEW: 1,
    TaskStatus.CONFLICT: 2,
    TaskStatus.BLOCKED: 2,
    TaskStatus.RUNNING: 3,
    TaskStatus.REVIEWING: 3,
    TaskStatus.QUEUED: 4,
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FAILURES: Final = frozenset({TaskStatus.FAILED, TaskStatus.DEAD_LETTER})
_FRESH_FAILURE_RANK: Final = 5
_LIVE: Final = frozenset(_RANKS) | _FAILURES
_STATUS_OF: Final = attrgetter("status")
"""The statuses of tasks that may need the user (a failure only while it is fresh)."""

_FOLD_WORDS: Final[tuple[tuple[TaskStatus, str], ...]] = (
    (TaskStatus.SUCCEEDED, "done"),
    (TaskStatus.MERGED, "merged"),
    (TaskStatus.FAILED, "failed"),
    (TaskStatus.DEAD_LETTER, "dead-lettered"),
    (TaskStatus.REJECTED, "rejected"),
    (TaskStatus.CANCELLED, "cancelled"),
)
"""The fold line's order and words, by status (a status missing here is listed after these)."""

_STATE_ALIASES: Final[Mapping[str, TaskStatus]] = {
    "done": TaskStatus.SUCCEEDED,
    "dead": TaskStatus.DEAD_LETTER,
}
_STATE_KEYS: Final = frozenset({"state", "status"})
_LANE_KEYS: Final = frozenset({"lane"})


def needs_rank(task: TaskSummary, now: datetime) -> int | None:
    """The task's rank among the tasks that need the user (lower first), or None when it is finished."""
    if task.awaiting_approval and task.status == TaskStatus.RUNNING:
        return 0
    rank = _RANKS.get(task.status)
    if rank is not None:
        return rank
    if task.status in _FAILURES and now - task.updated_at < RECENT_FAILURE:
        return _FRESH_FAILURE_RANK
    return None


def _needs_key(rank: int, task: TaskSummary) -> tuple[int, float, str]:
    if rank == _FRESH_FAILURE_RANK:
        return (rank, -task.updated_at.timestamp(), task.id)
    return (rank, task.created_at.timestamp(), task.id)


def _history_key(task: TaskSummary) -> tuple[float, str]:
    return (task.updated_at.timestamp(), task.id)


_FOLDABLE: Final = tuple(s for s in TaskStatus if s not in _RANKS)
"""The statuses a finished task can have (every status that does not always need the user)."""


def _fold_order(counts: Mapping[TaskStatus, int]) -> tuple[tuple[TaskStatus, int], ...]:
    """Per-status counts in the fold line's order (statuses with no task left out)."""
    known = [s for s, _ in _FOLD_WORDS]
    order = known + sorted(set(counts) - set(known))
    return tuple((s, counts[s]) for s in order if counts.get(s, 0) > 0)


def fold_parts(counts: Iterable[tuple[TaskStatus, int]], expanded: bool) -> list[str]:
    """The fold line's parts: one per status (``✓ 4,812 done``), then the hint (``— enter to expand``,
    ``— enter to fold`` once expanded). A narrow pane breaks the line between parts."""
    words = dict(_FOLD_WORDS)
    parts = [f"{STATUS_SYMBOLS.get(s, '·')} {n:,} {words.get(s, s.value)}" for s, n in counts if n]
    return [*parts, "— enter to fold" if expanded else "— enter to expand"]


def fold_label(counts: Iterable[tuple[TaskStatus, int]], expanded: bool) -> str:
    """``✓ 4,812 done · ✗ 37 failed — enter to expand`` (``— enter to fold`` once expanded)."""
    *parts, hint = fold_parts(counts, expanded)
    return f"{' · '.join(parts)} {hint}"


# ------------------------------------------------------------------------------------------------ filter


class FilterError(InputError, ValueError):
    """A filter that cannot be applied; the message is one line naming the bad term."""


def _resolve(value: str, names: Iterable[str], aliases: Mapping[str, str], what: str) -> str:
    names = list(names)
    if value in names:
        return value
    if value in aliases:
        return aliases[value]
    found = [n for n in names if n.startswith(value)]
    if len(found) == 1:
        return found[0]
    shortest = min(found, key=len) if found else ""
    if found and all(n.startswith(shortest) for n in found):
        return shortest  # ``rev``: review (a prefix of reviewing too); ``reviewi``: reviewing
    if found:
        raise FilterError(f"{what} {value!r} is ambiguous: {', '.join(found)}")
    raise FilterError(f"unknown {what} {value!r}: one of {', '.join(names)}")


@dataclass(frozen=True)
class LaneFilter:
    """A parsed filter (see the module docstring for the syntax). The empty filter admits everything."""

    text: str = ""
    words: tuple[str, ...] = ()
    states: frozenset[TaskStatus] = frozenset()
    lanes: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str, lanes: Iterable[str] = LANE_ORDER) -> LaneFilter:
        words: list[str] = []
        states: set[TaskStatus] = set()
        lane_set: set[str] = set()
        lane_names = list(lanes)
        status_names = [s.value for s in TaskStatus]
        aliases = {k: v.value for k, v in _STATE_ALIASES.items()}
        for term in text.split():
            key, sep, value = term.casefold().partition(":")
            if not sep or key not in _STATE_KEYS | _LANE_KEYS:
                words.append(term.casefold())
                continue
            values = [v for v in value.split(",") if v]
            if not values:
                example = "local" if key in _LANE_KEYS else "review"
                raise FilterError(f"{key}: needs a value, e.g. {key}:{example}")
            for v in values:
                if key in _STATE_KEYS:
                    states.add(TaskStatus(_resolve(v, status_names, aliases, "state")))
                else:
                    lane_set.add(_resolve(v, lane_names, {}, "lane"))
        return cls(text.strip(), tuple(words), frozenset(states), frozenset(lane_set))

    @property
    def active(self) -> bool:
        return bool(self.words or self.states or self.lanes)

    def admits_lane(self, lane: str) -> bool:
        return not self.lanes or lane in self.lanes

    def matches(self, task: TaskSummary, text: str | None = None) -> bool:
        """Whether ``task`` passes; ``text`` is its :func:`search_text` when the caller keeps it."""
        if self.lanes and task.lane not in self.lanes:
            return False
        if self.states and task.status not in self.states:
            return False
        if self.words:
            hay = search_text(task) if text is None else text
            return all(w in hay for w in self.words)
        return True

    def narrows(self, other: LaneFilter) -> bool:
        """Whether every task that passes this filter passes ``other`` too, so this filter's matches can
        be found among ``other``'s: the same states and lanes, and each of ``other``'s words inside one
        of this filter's (typing on at the end of a word, or adding a word)."""
        return (
            self.states == other.states
            and self.lanes == other.lanes
            and all(any(w in v for v in self.words) for w in other.words)
        )


def search_text(task: TaskSummary) -> str:
    """What a filter's words are looked for in: the casefolded title and the id, a line apart (a word
    holds no whitespace, so none matches across the two)."""
    return f"{task.title.casefold()}\n{task.id}"


# ------------------------------------------------------------------------------------------------- rows


class Fold:
    """The fold line's row (one instance: :data:`FOLD`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FOLD"


FOLD: Final = Fold()
Row = str | Fold
"""A row: a task id, or :data:`FOLD`."""


@dataclass(frozen=True)
class LaneChange:
    """What :meth:`LaneRows.sync` found: ``rows`` when the row list (or the counts) changed; otherwise
    ``tasks`` names the tasks whose summary changed where they stand."""

    rows: bool = False
    tasks: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return self.rows or bool(self.tasks)


def _place(task: TaskSummary, flt: LaneFilter, now: datetime, expanded: bool) -> tuple[object, ...]:
    """Where a task stands in the rows: equal places mean an in-place update is enough."""
    if not flt.matches(task):
        return ("out",)
    rank = needs_rank(task, now)
    if rank is not None:
        return ("needs", _needs_key(rank, task), task.status)
    return ("finished", task.status, _history_key(task) if expanded else None)


@dataclass(eq=False)
class LaneRows:
    """One lane's tasks and the rows they make. Feed it with :meth:`put`/:meth:`discard` (or through
    :class:`BoardLanes`), then call :meth:`sync` before reading :attr:`rows`.

    Counts (the title's total, the fold line's per status) come from ``counts``, the board's counts as
    its view maintains them (:class:`~cockpit.core.views.board.TaskCounts`); :class:`BoardLanes` passes
    the latest snapshot's. A lane fed on its own (``counts`` None) keeps a
    :class:`~cockpit.core.views.board.TaskTally` of its tasks instead. Only a filter makes the lane
    count: what passes it is known only by looking at each task, once per rebuild."""

    lane: str
    counts: Callable[[], TaskCounts] | None = None
    _tasks: dict[str, TaskSummary] = field(default_factory=dict)
    _tally: TaskTally | None = None
    _filter: LaneFilter = field(default_factory=LaneFilter)
    _expanded: bool = False
    _rows: list[Row] = field(default_factory=list)
    _listed: Counter[TaskStatus] = field(default_factory=Counter)
    _filtered: Counter[TaskStatus] | None = None
    _matched: int = 0
    _dirty: bool = True
    _updated: set[str] = field(default_factory=set)
    _built_at: datetime = _EPOCH
    _expires: datetime | None = None
    _live: set[str] = field(default_factory=set)  # ids of tasks that may need the user
    _search: dict[str, str] | None = None  # search texts, kept while a filter has words
    _passed: list[str] | None = None  # ids that passed the last rebuild's filter
    _passed_by: LaneFilter | None = None
    _since: set[str] = field(default_factory=set)  # ids put since that rebuild
    rebuilds: int = 0
    """How many times the rows were rebuilt (for tests and benchmarks)."""

    def __post_init__(self) -> None:
        if self.counts is None:
            tally = self._tally = TaskTally()
            self.counts = lambda: tally.counts

    # ------------------------------------------------------------------------------------- feeding

    def put(self, task: TaskSummary) -> None:
        old = self._tasks.get(task.id)
        self._tasks[task.id] = task
        if self._tally is not None:
            self._tally.move(old, task)
        if task.status in _LIVE:
            self._live.add(task.id)
        else:
            self._live.discard(task.id)
        if self._search is not None and (old is None or old.title != task.title):
            self._search[task.id] = search_text(task)
        if self._passed is not None:
            self._since.add(task.id)
        if self._dirty:
            return
        if old is not None and self._place(old) == self._place(task):
            self._updated.add(task.id)
        else:
            self._dirty = True

    def discard(self, task_id: str) -> None:
        old = self._tasks.pop(task_id, None)
        self._live.discard(task_id)
        if self._search is not None:
            self._search.pop(task_id, None)
        if old is not None:
            if self._tally is not None:
                self._tally.move(old, None)
            self._dirty = True

    def _place(self, task: TaskSummary) -> tuple[object, ...]:
        return _place(task, self._filter, self._built_at, self._expanded)

    # ------------------------------------------------------------------------------------- viewing

    @property
    def filter(self) -> LaneFilter:
        return self._filter

    @filter.setter
    def filter(self, value: LaneFilter) -> None:
        if value != self._filter:
            self._filter = value
            self._dirty = True

    @property
    def expanded(self) -> bool:
        return self._expanded

    @expanded.setter
    def expanded(self, value: bool) -> None:
        if value != self._expanded:
            self._expanded = value
            self._dirty = True

    def sync(self, now: datetime) -> LaneChange:
        """Bring the rows up to date at ``now`` (a fresh failure folds once it is a day old)."""
        if self._expires is not None and now >= self._expires:
            self._dirty = True
        if self._dirty:
            self._rebuild(now)
            return LaneChange(rows=True)
        updated, self._updated = frozenset(self._updated), set()
        return LaneChange(tasks=updated)

    def _rebuild(self, now: datetime) -> None:
        """The rows: the tasks that need the user, sorted, then the fold line. Folded, no finished task
        is listed (or collected): the fold line's counts come from the board's, and only the tasks
        that may need the user are looked at. Expanded, the finished tasks' ids follow, newest first.
        A filter looks at every task once, or only at the last filter's matches (and the tasks changed
        since) when it narrows that filter, as typing on does; its loops are comprehensions over ids
        and search texts, the cost of a keystroke in the filter."""
        flt = self._filter
        tasks = self._tasks
        considered: Collection[str]
        if flt.active:
            considered = self._passing(flt)
        else:
            considered = tasks if self._expanded else self._live
            self._search = None
            self._passed = self._passed_by = None
        self._since = set()
        live = self._live
        looked_at = considered if considered is live else [i for i in considered if i in live]
        needs: list[tuple[tuple[int, float, str], str]] = []
        listed: Counter[TaskStatus] = Counter()
        expires: datetime | None = None
        for task_id in looked_at:
            task = tasks[task_id]
            rank = needs_rank(task, now)
            if rank is None:
                continue
            needs.append((_needs_key(rank, task), task_id))
            listed[task.status] += 1
            if rank == _FRESH_FAILURE_RANK:
                ends = task.updated_at + RECENT_FAILURE
                expires = ends if expires is None else min(expires, ends)
        needs.sort()
        rows: list[Row] = [task_id for _, task_id in needs]
        matched = len(considered) if flt.active else len(tasks)
        if matched > len(needs):
            rows.append(FOLD)
            if self._expanded:
                listed_ids = {task_id for _, task_id in needs}
                finished = [tasks[i] for i in considered if i not in listed_ids]
                finished.sort(key=_history_key, reverse=True)
                rows.extend(t.id for t in finished)
        filtered: Counter[TaskStatus] | None = None
        if flt.active:
            filtered = Counter(map(_STATUS_OF, map(tasks.__getitem__, considered)))
            filtered.subtract(listed)
            filtered = +filtered  # the finished ones that pass, per status
        self._listed = listed
        self._filtered = filtered
        self._rows = rows
        self._matched = matched
        self._expires = expires
        self._built_at = now
        self._dirty = False
        self._updated.clear()
        self.rebuilds += 1

    def _passing(self, flt: LaneFilter) -> list[str]:
        """The ids of the tasks that pass ``flt``: among the last filter's matches and the tasks
        changed since when ``flt`` narrows it, else among every task."""
        tasks = self._tasks
        candidates: Iterable[str] = tasks
        passed, passed_by = self._passed, self._passed_by
        if passed is not None and passed_by is not None and flt.narrows(passed_by):
            candidates = dict.fromkeys([*passed, *self._since])
        words, states = flt.words, flt.states
        if not flt.admits_lane(self.lane):
            passing: list[str] = []
        elif words:
            search = self._search
            if search is None:
                search = self._search = {i: search_text(t) for i, t in tasks.items()}
            first, *more = words
            passing = [i for i in candidates if i in tasks and first in search[i]]
            for word in more:
                passing = [i for i in passing if word in search[i]]
        else:
            passing = [i for i in candidates if i in tasks]
        if states:
            passing = [i for i in passing if tasks[i].status in states]
        self._passed, self._passed_by = passing, flt
        return passing

    @property
    def rows(self) -> list[Row]:
        """The rows as of the last :meth:`sync` (do not mutate)."""
        return self._rows

    @property
    def fold_counts(self) -> tuple[tuple[TaskStatus, int], ...]:
        """Finished tasks that pass the filter, per status, in the fold line's order: the board's count
        of the lane's tasks with that status less those listed as needing the user (fresh failures),
        or, while a filter is set, the count the last rebuild made of the tasks that pass it."""
        if self._filtered is not None:
            return _fold_order(self._filtered)
        counts = self._counts()
        return _fold_order({s: counts.get(self.lane, s) - self._listed[s] for s in _FOLDABLE})

    def fold_label(self) -> str:
        return fold_label(self.fold_counts, self._expanded)

    def fold_parts(self) -> list[str]:
        return fold_parts(self.fold_counts, self._expanded)

    def task(self, task_id: str) -> TaskSummary | None:
        return self._tasks.get(task_id)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def __iter__(self) -> Iterator[TaskSummary]:
        return iter(self._tasks.values())

    # ------------------------------------------------------------------------------------------ counts

    def _counts(self) -> TaskCounts:
        assert self.counts is not None
        return self.counts()

    @property
    def total(self) -> int:
        """Tasks in the lane."""
        return self._counts().lane(self.lane)

    @property
    def matched(self) -> int:
        """Tasks in the lane that pass the filter (as of the last :meth:`sync`)."""
        return self._matched if self._filter.active else self.total

    def count(self, status: TaskStatus) -> int:
        return self._counts().get(self.lane, status)

    def title(self) -> str:
        """``worktree · 5,012``, or ``worktree · 3 of 5,012`` while a filter is set."""
        if self._filter.active:
            return f"{self.lane} · {self._matched:,} of {self.total:,}"
        return f"{self.lane} · {self.total:,}"


class BoardLanes:
    """Every lane's :class:`LaneRows`, fed from board snapshots by their ``changed`` ids; the lanes
    count with the latest snapshot's ``counts`` (they keep none of their own).

    Snapshots must come from one board view. If one is skipped (its version is not the next, e.g. an
    older snapshot was dropped in favour of a newer one), its ``changed`` ids are lost, so the whole
    board is compared by identity instead (summaries are immutable: an unchanged task keeps its object).
    """

    def __init__(self, lanes: Iterable[str] = LANE_ORDER) -> None:
        self._counts = TaskCounts()
        self._lanes: dict[str, LaneRows] = {lane: LaneRows(lane, self._board_counts) for lane in lanes}
        self._lane_of: dict[str, str] = {}
        self._version: int | None = None
        self._filter = LaneFilter()

    def _board_counts(self) -> TaskCounts:
        return self._counts

    def lane(self, name: str) -> LaneRows:
        rows = self._lanes.get(name)
        if rows is None:
            rows = self._lanes[name] = LaneRows(name, self._board_counts, _filter=self._filter)
        return rows

    @property
    def filter(self) -> LaneFilter:
        return self._filter

    @filter.setter
    def filter(self, value: LaneFilter) -> None:
        self._filter = value
        for rows in self._lanes.values():
            rows.filter = value

    def apply(self, snapshot: BoardSnapshot) -> bool:
        """Take in a snapshot; True when any task was added, changed or removed."""
        last = self._version
        if last is not None and snapshot.version == last and not snapshot.changed:
            return False
        self._version = snapshot.version
        self._counts = snapshot.counts
        tasks = snapshot.tasks
        if last is not None and snapshot.version in (last, last + 1):
            ids: Iterable[str] = snapshot.changed
            full = False
        else:
            ids = set(tasks) | set(self._lane_of) if self._lane_of else tasks.keys()
            full = True
        touched = False
        for task_id in ids:
            new = tasks.get(task_id)
            lane = self._lane_of.get(task_id)
            if full and new is not None and lane == new.lane and self._lanes[lane].task(task_id) is new:
                continue
            touched = True
            if lane is not None and (new is None or new.lane != lane):
                self._lanes[lane].discard(task_id)
                del self._lane_of[task_id]
            if new is not None:
                self.lane(new.lane).put(new)
                self._lane_of[task_id] = new.lane
        return touched
