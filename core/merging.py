"""Landing a task's merge on the user's base branch in one short, journaled step, and finishing or
undoing that step after a crash.

The merge commit is written beforehand without touching any checkout (:func:`git_ops.plan_merge`).
Landing it: write ``merge-journal.json`` on the board, move the checkout that has the base branch
checked out from the old commit to the merge (``git read-tree -m -u``), compare-and-swap the branch
ref, mark the task merged, remove the journal. :func:`recover_merge` — run by the supervisor at start-up
and before any merge, always under the supervisor lock — reads a journal left by a killed process and
either rolls the merge forward or leaves the checkout at the branch's commit, so the checkout is never
left half-merged and the board says which happened.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from cockpit.core.atomic import atomic_write_json, fsync_dir
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.crashpoints import crash_point
from cockpit.core.git.operations import (
    GitOpError,
    MergePlan,
    checkout_merge,
    checkout_reset,
    main_git,
    move_branch,
    open_repo,
    remove_worktree,
    worktree_git,
)
from cockpit.core.git.safe_command import Git
from cockpit.core.layout import MERGE_JOURNAL_FILE
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.task import TaskState

JOURNAL_FILE = MERGE_JOURNAL_FILE
LOCK_CLOCK_SLACK_S = 1.0  # coarse file timestamps: a lock this much older than the journal is still ours


class MergeJournal(BaseModel):
    """What a merge in progress is doing; present on the board only while it lands."""

    task_id: str
    base_branch: str
    old: str
    new: str
    checkout: str | None
    phase: Literal["prepared", "checkout"]
    started_at: float
    message: str


def journal_path(board: Blackboard) -> Path:
    return board.root / JOURNAL_FILE


def _write(board: Blackboard, journal: MergeJournal) -> None:
    atomic_write_json(journal_path(board), journal.model_dump(mode="json"))


def _remove(board: Blackboard) -> None:
    path = journal_path(board)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def run_hook(checkout: Path, name: str, *args: str) -> tuple[bool, str]:
    """Run the user's own ``name`` hook in ``checkout`` (only when the config opts in)."""
    proc = Git.checkout(checkout).run(
        "hook", "run", "--ignore-missing", name, "--", *args, hooks=True, check=False
    )
    return proc.returncode == 0, (proc.stderr or proc.stdout).strip()


def _checkout_on_branch(checkout: Path | None, base_branch: str) -> Git | None:
    """The checkout's git handle when it still has ``base_branch`` checked out."""
    if checkout is None or not checkout.exists():
        return None
    try:
        wt = worktree_git(checkout)
        head = wt.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip()
    except GitOpError:
        return None
    return wt if head == f"refs/heads/{base_branch}" else None


def mark_merged(board: Blackboard, state: TaskState, base_branch: str, commit: str, note: str = "") -> None:
    state.status = TaskStatus.MERGED
    state.merge_commit = commit
    state.message = f"merged into {base_branch} as {commit[:10]}{note}"
    state.touch()
    board.write_state(state)


def land_merge(board: Blackboard, state: TaskState, plan: MergePlan) -> None:
    """Move the base branch (and its checkout) to ``plan.new``; marks ``state`` merged and saves it.

    Raises :class:`GitOpError` when git refuses; then the checkout and branch are as they were.
    """
    git = main_git(board.repo)
    journal = MergeJournal(
        task_id=state.id,
        base_branch=plan.base_branch,
        old=plan.old,
        new=plan.new,
        checkout=str(plan.checkout) if plan.checkout else None,
        phase="prepared",
        started_at=time.time(),
        message=f"cockpit: merge task {state.id}",
    )
    crash_point("merge:before-journal")
    _write(board, journal)
    crash_point("merge:after-journal")
    wt = _checkout_on_branch(plan.checkout, plan.base_branch)
    if wt is not None:
        journal.phase = "checkout"
        journal.started_at = time.time()
        _write(board, journal)
        try:
            checkout_merge(wt, plan.old, plan.new)  # refuses (touching nothing) on local changes
        except GitOpError:
            _remove(board)
            raise
        crash_point("merge:after-read-tree")
    try:
        move_branch(git, plan.base_branch, plan.new, plan.old, journal.message)
    except GitOpError:
        if wt is not None:  # somebody moved the branch this very moment: put the files back
            current = git.rev(f"refs/heads/{plan.base_branch}") or plan.old
            checkout_reset(wt, current)
        _remove(board)
        raise
    crash_point("merge:after-update-ref")
    mark_merged(board, state, plan.base_branch, plan.new)
    crash_point("merge:before-journal-removal")
    _remove(board)


def read_journal(board: Blackboard) -> MergeJournal | None:
    path = journal_path(board)
    try:
        return MergeJournal.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        board.quarantine(path, f"unreadable merge journal: {exc}")
        return None


def _clear_our_index_lock(wt: Git | None, journal: MergeJournal) -> None:
    if wt is None:
        return
    lock = wt.git_dir / "index.lock"
    try:
        if os.stat(lock).st_mtime >= journal.started_at - LOCK_CLOCK_SLACK_S:
            lock.unlink()
    except FileNotFoundError:
        pass


def recover_merge(board: Blackboard, current: TaskState | None = None) -> str | None:
    """Finish or undo a merge a killed process left behind; None when there was none.

    Call only while holding the supervisor lock. ``current`` is the caller's copy of the task's state,
    updated in place when it is the journal's task (others are read and written on the board).
    """
    journal = read_journal(board)
    if journal is None:
        return None
    git = main_git(board.repo)
    checkout = Path(journal.checkout) if journal.checkout else None
    wt = _checkout_on_branch(checkout, journal.base_branch)
    if checkout is not None and wt is None and checkout.exists():
        # the checkout changed branch since: its index lock, if ours, still has to go
        with contextlib.suppress(GitOpError):
            _clear_our_index_lock(worktree_git(checkout), journal)
    _clear_our_index_lock(wt, journal)
    ref = git.rev(f"refs/heads/{journal.base_branch}")
    merged, note = False, ""
    try:
        if ref == journal.new:
            if wt is not None:
                checkout_reset(wt, journal.new)
            merged = True
        elif ref == journal.old:
            if wt is not None and journal.phase == "checkout":
                checkout_reset(wt, journal.new)  # finish a read-tree that may have stopped half-way
            elif wt is not None:
                checkout_merge(wt, journal.old, journal.new)  # not begun: the careful way
            try:
                move_branch(git, journal.base_branch, journal.new, journal.old, journal.message)
            except GitOpError:
                if wt is not None:
                    checkout_reset(wt, git.rev(f"refs/heads/{journal.base_branch}") or journal.old)
                raise
            merged = True
        elif ref is not None and _is_ancestor(git, journal.new, ref):
            merged = True  # it landed and the branch has moved on from it
        else:
            if wt is not None and journal.phase == "checkout" and ref is not None:
                checkout_reset(wt, ref)
            note = f"{journal.base_branch} moved while the merge was interrupted; nothing was merged"
    except GitOpError as exc:
        note = f"an interrupted merge could not be finished ({exc}); {journal.base_branch} is unchanged"
    state = current if current is not None and current.id == journal.task_id else None
    state = state or board.read_state(journal.task_id)
    if state is not None:
        if merged:
            if state.status != TaskStatus.MERGED:
                mark_merged(board, state, journal.base_branch, journal.new, " (finished after a crash)")
            with contextlib.suppress(GitOpError):
                remove_worktree(
                    open_repo(board.repo),
                    Path(state.worktree) if state.worktree else board.worktree_path(state.id),
                    state.branch,
                )
        elif state.status != TaskStatus.MERGED:
            state.status = TaskStatus.REVIEW
            state.message = note
            state.touch()
            board.write_state(state)
    _remove(board)
    board.log_event(
        {
            "kind": EventKind.MERGE_RECOVERED,
            "task_id": journal.task_id,
            "merged": merged,
            "commit": journal.new if merged else None,
            "note": note,
        }
    )
    return f"{journal.task_id}: interrupted merge finished" if merged else f"{journal.task_id}: {note}"


def _is_ancestor(git: Git, ancestor: str, descendant: str) -> bool:
    return git.run("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0
