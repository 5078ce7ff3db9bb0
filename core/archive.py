"""Archiving: moving finished tasks off the live board, from ``tasks/<id>/`` to ``archive/<id>/``, whole.

What may go: tasks that are done with — ``succeeded``, ``merged``, ``rejected``, ``failed``,
``cancelled``, and ``dead_letter`` once its letter is no longer active (moved to the letters' own archive
after 7 days, so nothing retries it by itself). What never goes, with the reason said per task: tasks
that run or wait to (``queued``, ``running``), wait for a person (``awaiting_decision``, ``review``,
``conflict``, ``blocked``), have a pending decision card, an active dead letter, or a merge a killed
process left half-done. Archived tasks are read only: ``show``, ``log``, ``status --all``, the task view
and the dead-letter list still read them; nothing runs or changes them again. The ledger and the event log
are board-wide and never move, so usage totals are the same before and after.

Worktrees: only the cockpit's own worktree of the task (``worktrees/<id>``) is ever touched, never a
branch. A merged or rejected task's leftover worktree is removed (finishing what merge or reject does);
any other task's is removed only when it holds no uncommitted change (the branch ``cockpit/<id>`` keeps
its commits), and kept, with a note, otherwise.

Crash safety: each move is one ``rename(2)`` of the task's directory within the board (one filesystem),
so a reader sees the task live or archived, never both or neither. Around it, a journal
(``archive/.moving/<id>.json``) is written before the rename and removed after the worktree step, the
index notice (:meth:`Blackboard.forget_task`) and the event-log line. :func:`finish_interrupted`, run
under the board lock before every archive pass and at supervisor start-up, settles a journal left by a
killed process: the rename happened → the remaining steps are done again (each is idempotent); it did
not → the journal is dropped and the task stays live.

Who moves: the one process that holds the board — ``cockpit archive`` under the board lock when no
supervisor runs, else the supervisor, which gets the request through the inbox (it is the tasks' only
writer and keeps some of them in memory) and also archives by itself with ``[archive] after_days = N``.

What is read: a sweep picks among the live tasks' statuses and times (from the task index: no state
file is read); named tasks are read in full (few, and the truth). Only the tasks picked are read in full
before they move, and one whose state no longer says what the index said stays, with why.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cockpit.core.atomic import atomic_write_json, fsync_dir, make_private_dirs
from cockpit.core.board.blackboard import Blackboard, check_task_id, is_task_id
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.board.task_index.briefs import briefs
from cockpit.core.commands import CommandError, here_or_through_supervisor, request_supervisor
from cockpit.core.crashpoints import crash_point
from cockpit.core.git.operations import open_repo, remove_worktree, worktree_git
from cockpit.core.git.safe_command import GitOpError
from cockpit.core.layout import DEAD_LETTERS_DIR, MOVING_DIR
from cockpit.core.merging import read_journal
from cockpit.core.policy.dead_letters import DeadLetterQueue
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.task import TaskState

ARCHIVE_REQUEST = "archive"
"""The inbox request kind: the live supervisor archives on the sender's behalf."""

ARCHIVABLE: tuple[TaskStatus, ...] = (
    TaskStatus.SUCCEEDED,
    TaskStatus.MERGED,
    TaskStatus.REJECTED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.DEAD_LETTER,
)
NOT_ARCHIVABLE: dict[TaskStatus, str] = {
    TaskStatus.QUEUED: "it is queued to run (cancel it first)",
    TaskStatus.RUNNING: "it is running (cancel it first)",
    TaskStatus.REVIEWING: "it is being reviewed (cancel it first)",
    TaskStatus.AWAITING_DECISION: "it waits for a decision (answer it first: cockpit decisions)",
    TaskStatus.REVIEW: "it waits for review (merge or reject it first)",
    TaskStatus.CONFLICT: "its merge conflicted (merge again or reject it first)",
    TaskStatus.BLOCKED: "it is blocked and waits for you (retry, revise or cancel it first)",
}


class Archivable(Protocol):
    """What choosing needs of a task: its full state, its summary, or its brief from the task index."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> TaskStatus: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE_RE = re.compile(r"(\d{1,6})([smhdw])", re.ASCII)


# ---- what the command asks and answers (also the inbox request's payload and reply) ---------------


class ArchiveSelection(BaseModel):
    """Which tasks to archive: the named ones (whole ids), else every live one; both narrowed by age
    (time since the last change) and by state (default: every archivable state)."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] = Field(default_factory=list)
    older_than_s: float | None = Field(default=None, ge=0)
    states: list[TaskStatus] | None = None
    dry_run: bool = False

    @field_validator("task_ids")
    @classmethod
    def _whole_ids(cls, value: list[str]) -> list[str]:
        for task_id in value:
            if not is_task_id(task_id):
                raise ValueError(f"invalid task id {task_id[:80]!r}")  # never joined to a path
        return list(dict.fromkeys(value))

    @field_validator("states")
    @classmethod
    def _archivable(cls, value: list[TaskStatus] | None) -> list[TaskStatus] | None:
        for status in value or []:
            if status not in ARCHIVABLE:
                raise ValueError(f"{status.value} tasks cannot be archived: {NOT_ARCHIVABLE[status]}")
        return value


class ArchivedTask(BaseModel):
    task_id: str
    status: TaskStatus
    updated_at: datetime
    note: str | None = None
    """What happened to its worktree, when it had one."""


class Refusal(BaseModel):
    task_id: str
    status: TaskStatus | None = None
    reason: str


class ArchiveReport(BaseModel):
    """What was archived (or, with ``dry_run``, would be); what was refused and why (a named task that
    cannot go, or a move that failed: the command fails); what a sweep kept and why (a task its filters
    picked that something still holds: not a failure); and the named tasks archived already."""

    dry_run: bool = False
    archived: list[ArchivedTask] = Field(default_factory=list)
    refused: list[Refusal] = Field(default_factory=list)
    kept: list[Refusal] = Field(default_factory=list)
    already_archived: list[str] = Field(default_factory=list)


class MoveJournal(BaseModel):
    """``archive/.moving/<id>.json``: a move begun; settled by :func:`finish_interrupted`."""

    task_id: str
    status: TaskStatus
    by: str
    started_at: datetime


# ---- parsing the command line's words ----------------------------------------------------------------


def parse_age(text: str) -> float:
    """``30m``, ``12h``, ``7d``, ``2w`` (also ``45s`` and sums such as ``1d12h``) in seconds; ValueError
    saying what is accepted otherwise."""
    compact = text.strip().lower().replace(" ", "")
    pos, total = 0, 0
    for match in _AGE_RE.finditer(compact):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ValueError("a number and a unit (s, m, h, d, w), e.g. 30m, 12h, 7d, 2w")
    return float(total)


def parse_states(text: str) -> list[TaskStatus]:
    """A comma list of archivable states; ValueError naming the first unknown or refused one."""
    out: list[TaskStatus] = []
    for word in (w.strip().lower() for w in text.split(",")):
        if not word:
            raise ValueError("an empty state name (give a comma list such as succeeded,merged)")
        try:
            status = TaskStatus(word.replace("-", "_"))
        except ValueError:
            known = ", ".join(s.value for s in ARCHIVABLE)
            raise ValueError(f"unknown state {word!r} (archivable: {known})") from None
        if status not in ARCHIVABLE:
            raise ValueError(f"{status.value} tasks cannot be archived: {NOT_ARCHIVABLE[status]}")
        if status not in out:
            out.append(status)
    return out


def span(seconds: float) -> str:
    """A short age: ``45s``, ``12m``, ``5h``, ``9d``, ``30d`` (the largest whole unit up to days)."""
    seconds = max(0.0, seconds)
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit]:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(seconds)}s"


# ---- choosing -----------------------------------------------------------------------------------------


class _Holds:
    """What keeps a task on the live board besides its state, read once per pass."""

    def __init__(self, board: Blackboard) -> None:
        decisions = DecisionStore(board.root, utc_now, on_corrupt=board.quarantine)
        self.cards: dict[str, str] = {}
        for card in decisions.pending():
            self.cards.setdefault(card.task_id, card.id)
        letters = DeadLetterQueue(board.root / DEAD_LETTERS_DIR, time.time, on_corrupt=board.quarantine)
        self.letters = {letter.task_id for letter in letters.list()}
        journal = read_journal(board)
        self.merging = journal.task_id if journal is not None else None

    def reason(self, state: Archivable) -> str | None:
        if state.status in NOT_ARCHIVABLE:
            return NOT_ARCHIVABLE[state.status]
        if state.id in self.cards:
            return f"{self.cards[state.id]} is pending for it (answer it first: cockpit decisions)"
        if state.id in self.letters:
            return "its dead letter is still active (retry or cancel it first)"
        if state.id == self.merging:
            return "its merge was cut short (cockpit merge or the next supervisor settles it)"
        return None


def archive_candidates(
    board: Blackboard, selection: ArchiveSelection, load: Callable[[str], TaskState | None]
) -> dict[str, Archivable]:
    """The live tasks ``selection`` chooses among: the named ones' full states (``load``), else every
    live task's status and times from the task index (no state file is read)."""
    if selection.task_ids:
        return {task_id: state for task_id in selection.task_ids if (state := load(task_id)) is not None}
    return {brief.id: brief for brief in briefs(board)}


def plan_archive(
    board: Blackboard, states: Iterable[Archivable], selection: ArchiveSelection, now: datetime
) -> ArchiveReport:
    """What ``selection`` archives among the live ``states`` (full states, summaries or briefs), without
    moving anything. A named task that cannot go is refused, with why; in a sweep (no names) the filters
    pick tasks, and a picked one that something still holds (a pending card, an active dead letter, ...)
    is kept, with why."""
    holds = _Holds(board)
    live = {s.id: s for s in states}
    wanted = set(selection.states or ARCHIVABLE)
    report = ArchiveReport(dry_run=selection.dry_run)
    named = bool(selection.task_ids)
    candidates: list[Archivable] = []
    if named:
        for task_id in selection.task_ids:
            state = live.get(task_id)
            if state is not None:
                candidates.append(state)
            elif board.is_archived(task_id):
                report.already_archived.append(task_id)
            elif board.task_dir(task_id).is_dir():
                report.refused.append(Refusal(task_id=task_id, reason="it has no readable state"))
            else:
                report.refused.append(Refusal(task_id=task_id, reason="no such task"))
    else:
        candidates = sorted(live.values(), key=lambda s: s.created_at)
    for state in candidates:
        age = (now - state.updated_at).total_seconds()
        why: str | None = None
        if state.status in NOT_ARCHIVABLE:
            why = NOT_ARCHIVABLE[state.status]
        elif state.status not in wanted:
            why = f"it is {state.status.value} (asked for: {_names(wanted)})"
        elif selection.older_than_s is not None and age < selection.older_than_s:
            why = f"it changed {span(age)} ago, not more than {span(selection.older_than_s)} ago"
        if why is not None:  # not picked: said only when it was named
            if named:
                report.refused.append(Refusal(task_id=state.id, status=state.status, reason=why))
            continue
        why = holds.reason(state)
        if why is None and board.archived_task_dir(state.id).exists():
            why = f"the archive already holds a task with this id ({board.archived_task_dir(state.id)})"
        if why is not None:
            held = Refusal(task_id=state.id, status=state.status, reason=why)
            (report.refused if named else report.kept).append(held)
            continue
        report.archived.append(
            ArchivedTask(task_id=state.id, status=state.status, updated_at=state.updated_at)
        )
    return report


def _names(statuses: Iterable[TaskStatus]) -> str:
    return ",".join(s.value for s in ARCHIVABLE if s in set(statuses))


# ---- moving (the caller holds the board: the lock, or it is the supervisor) ----------------------------


def archive_tasks(
    board: Blackboard,
    states: Mapping[str, Archivable],
    selection: ArchiveSelection,
    now: datetime,
    *,
    by: str,
    load: Callable[[str], TaskState | None] | None = None,
) -> ArchiveReport:
    """Finish interrupted moves, then archive what ``selection`` picks among the live ``states`` (the
    holder's view of them: full states, or the index's view, see :func:`archive_candidates`). A task
    picked from the index is read in full (``load``, by default from its state file) before it moves,
    and stays when its state no longer says what the index did. Returns the report; with ``dry_run`` nothing
    moves."""
    finish_interrupted(board)
    report = plan_archive(board, states.values(), selection, now)
    if selection.dry_run:
        return report
    read = load or board.read_state
    named = bool(selection.task_ids)
    done: list[ArchivedTask] = []
    for planned in report.archived:
        chosen = states[planned.task_id]
        state = chosen if isinstance(chosen, TaskState) else read(planned.task_id)
        if state is None or (state.status, state.updated_at) != (planned.status, planned.updated_at):
            why = (
                "it has no readable state"
                if state is None
                else f"it changed since it was chosen (it is {state.status.value} now); archive again"
            )
            held = Refusal(task_id=planned.task_id, status=planned.status, reason=why)
            (report.refused if named else report.kept).append(held)
            continue
        try:
            note = move_task(board, state, by=by, now=now)
        except OSError as exc:
            report.refused.append(
                Refusal(task_id=state.id, status=state.status, reason=f"could not move it: {exc}")
            )
            continue
        done.append(planned.model_copy(update={"note": note}))
    report.archived = done
    return report


def move_task(board: Blackboard, state: TaskState, *, by: str, now: datetime | None = None) -> str | None:
    """Move one task's directory to the archive, crash-safely (see the module's docstring); returns the
    note on its worktree. Raises OSError when the move could not be made (the task is then still live)."""
    live, moved = board.task_dir(state.id), board.archived_task_dir(state.id)
    if moved.exists():
        raise FileExistsError(f"{moved} exists already")
    journal = _journal_path(board, state.id)
    make_private_dirs(journal.parent)
    record = MoveJournal(task_id=state.id, status=state.status, by=by, started_at=now or utc_now())
    atomic_write_json(journal, record.model_dump(mode="json"))
    crash_point("archive:after-journal")
    try:
        os.rename(live, moved)
    except OSError:
        journal.unlink(missing_ok=True)
        raise
    fsync_dir(live.parent)
    fsync_dir(moved.parent)
    crash_point("archive:after-move")
    return _complete(board, state, record, now=now)


def _complete(
    board: Blackboard, state: TaskState, record: MoveJournal, *, now: datetime | None
) -> str | None:
    """The steps after the rename, each safe to do again: the worktree, the index, the event log line,
    and last the journal's removal."""
    note = settle_worktree(board, state)
    crash_point("archive:after-worktree")
    board.forget_task(state.id)
    age = ((now or utc_now()) - state.updated_at).total_seconds()
    row: dict[str, Any] = {
        "kind": EventKind.ARCHIVED,
        "task_id": state.id,
        "status": state.status.value,
        "by": record.by,
        "line": f"ARCHIVED {state.id}: {state.status.value}, last changed {span(age)} ago ({record.by})",
    }
    if note:
        row["worktree"] = note
    board.log_event(row)
    crash_point("archive:before-journal-removal")
    _journal_path(board, state.id).unlink(missing_ok=True)
    return note


def settle_worktree(board: Blackboard, state: TaskState) -> str | None:
    """The cockpit's own worktree of an archived task (``worktrees/<id>``; never another path, never a
    branch): removed when the task is merged or rejected, or when it holds no uncommitted change; kept
    otherwise. Returns what happened, or None when there was none."""
    path = board.worktree_path(state.id)
    if not path.exists():
        return None
    branch = state.branch or f"cockpit/{state.id}"
    try:
        if state.status not in (TaskStatus.MERGED, TaskStatus.REJECTED):
            changes = worktree_git(path).out("status", "--porcelain", "--untracked-files=all")
            if changes.strip():
                return f"worktree kept: it holds uncommitted changes ({path})"
        remove_worktree(open_repo(board.repo), path, None)  # None: the branch stays
    except (GitOpError, OSError) as exc:
        return f"worktree kept: {str(exc)[:200]} ({path})"
    if state.status in (TaskStatus.MERGED, TaskStatus.REJECTED):
        return "leftover worktree removed"
    return f"worktree removed (clean); branch {branch} kept"


def _journal_path(board: Blackboard, task_id: str) -> Path:
    return board.archive_root / MOVING_DIR / f"{check_task_id(task_id)}.json"


def finish_interrupted(board: Blackboard) -> list[str]:
    """Settle the moves a killed process left (the caller holds the board): a task already renamed into
    the archive gets its remaining steps; one still live just loses the journal. Returns the ids of
    the moves finished."""
    moving = board.archive_root / MOVING_DIR
    if not moving.is_dir():
        return []
    finished: list[str] = []
    for path in sorted(moving.glob("*.json")):
        task_id = path.stem
        if not is_task_id(task_id):
            with contextlib.suppress(FileNotFoundError):
                board.quarantine(path, "an archive journal whose name is not a task id")
            continue
        try:
            record = MoveJournal.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError) as exc:
            record = None
            with contextlib.suppress(FileNotFoundError):
                board.quarantine(path, f"unreadable archive journal: {exc}")
        live, moved = board.task_dir(task_id), board.archived_task_dir(task_id)
        if moved.is_dir() and not live.exists():
            state = board.read_state(task_id, archived=True)
            if state is not None:
                if record is None:
                    record = MoveJournal(
                        task_id=task_id, status=state.status, by="(recovered)", started_at=utc_now()
                    )
                _complete(board, state, record, now=None)
            else:
                board.forget_task(task_id)
            finished.append(task_id)
        path.unlink(missing_ok=True)
    return finished


# ---- the command: here under the lock, or through the live supervisor ----------------------------------


def run_archive(board: Blackboard, selection: ArchiveSelection, timeout: float = 60.0) -> ArchiveReport:
    """``cockpit archive``: a dry run reads the board as it is; otherwise the tasks are archived here
    under the board lock when no supervisor holds it, else by the live supervisor through the inbox.
    Raises :class:`CommandError` when the supervisor refused or did not answer in time."""
    board.require()
    now = datetime.now(UTC)
    if selection.dry_run:
        return plan_archive(
            board, archive_candidates(board, selection, board.read_state).values(), selection, now
        )
    deadline = time.monotonic() + timeout

    def here() -> ArchiveReport:
        chosen = archive_candidates(board, selection, board.read_state)
        return archive_tasks(board, chosen, selection, now, by="cockpit archive")

    def through() -> ArchiveReport | None:
        payload = {"selection": selection.model_dump(mode="json")}
        reply = request_supervisor(board, ARCHIVE_REQUEST, payload, deadline, timeout)
        if reply is None:
            return None
        if not reply.get("ok"):
            raise CommandError(str(reply.get("error", "refused")))
        return ArchiveReport.model_validate(reply.get("report") or {})

    return here_or_through_supervisor(board, here, through)
