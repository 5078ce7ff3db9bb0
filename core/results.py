"""A task's result on its own branch: what a worker left in the task's worktree, committed by the
cockpit with ``diff.patch`` recorded (the worktree and mcp lanes), and a Codex Cloud attempt's diff put
there first (the cloud lane; again when the user picks another best-of-N attempt).

Only ever a worktree the cockpit made for the task (``worktrees/<id>`` on ``cockpit/<id>``): never the
user's checkout. Every git command goes through the cockpit's safe git (hooks off).
"""

from __future__ import annotations

from pathlib import Path

from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.git.operations import (
    apply_patch,
    commit_all,
    create_worktree,
    diff_against,
    open_repo,
    remove_worktree,
    reset_to,
    task_branch,
)
from cockpit.core.layout import DIFF_FILE
from cockpit.core.records.attempt import DiffStat
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.cloud import CloudResult
from cockpit.core.records.task import TaskState

__all__ = ["apply_cloud_result", "commit_result"]


def commit_result(
    board: Blackboard, state: TaskState, attempt_n: int, *, keep_empty: bool = False
) -> tuple[TaskStatus, str]:
    """Commit what the task's worktree holds (nested repositories left out and reported), write
    ``diff.patch``; the task waits in review, or succeeds with no change (worktree and branch removed
    unless ``keep_empty``)."""
    path = Path(state.worktree or board.worktree_path(state.id))
    result = commit_all(path, f"cockpit: {state.title}\n\nTask {state.id}, attempt {attempt_n}.")
    if result.commit:
        state.head_commit = result.commit
    state.skipped_nested_repos = result.skipped_nested_repos
    left_out = _left_out(result.skipped_nested_repos)
    patch, summary = diff_against(path, state.base_commit or "HEAD")
    atomic_write_text(board.task_dir(state.id) / DIFF_FILE, patch)
    state.diff = DiffStat(
        files=summary.files,
        insertions=summary.insertions,
        deletions=summary.deletions,
        paths=summary.paths[:200],
    )
    if summary.files:
        d = state.diff
        return (
            TaskStatus.REVIEW,
            f"diff ready for review: {d.files} files, +{d.insertions} -{d.deletions}{left_out}",
        )
    if keep_empty:
        return TaskStatus.REVIEW, f"the diff changes nothing here{left_out}"
    remove_worktree(open_repo(board.repo), path, state.branch)
    return TaskStatus.SUCCEEDED, f"finished with no changes; worktree and branch removed{left_out}"


def apply_cloud_result(
    board: Blackboard, state: TaskState, attempt_n: int, result: CloudResult
) -> tuple[TaskStatus, str]:
    """Put ``result``'s diff on the task's branch, from its base commit (whatever an earlier pick put
    there is reset away), 3-way where it does not apply as is, then commit it; the task's new status:
    review, or conflict with the files named (``head_commit`` cleared: nothing to merge)."""
    if not state.base_commit:
        raise RuntimeError("cloud task has no base commit")
    if result.diff_file is None:
        raise RuntimeError(f"attempt {result.n} has no diff")
    patch = (board.attempt_dir(state.id, attempt_n) / result.diff_file).read_text(encoding="utf-8")
    path = board.worktree_path(state.id)
    state.branch = state.branch or task_branch(state.id)
    create_worktree(open_repo(board.repo), path, state.branch, state.base_commit)
    state.worktree = str(path)
    state.head_commit = None
    reset_to(path, state.base_commit)
    conflicts = apply_patch(path, patch)
    result.conflicts = conflicts[:200]
    run = state.attempts[attempt_n - 1].cloud
    which = f"attempt {result.n} of {len(run.results)}" if run and len(run.results) > 1 else "its diff"
    if conflicts:
        state.diff = None
        shown = ", ".join(conflicts[:10]) + (
            f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        )
        return TaskStatus.CONFLICT, f"the cloud diff ({which}) does not apply to the base commit: {shown}"
    status, message = commit_result(board, state, attempt_n, keep_empty=True)
    return status, f"{message} (Codex Cloud, {which})"


def _left_out(nested: list[str]) -> str:
    """The settle message's note on nested repositories that were not committed."""
    if not nested:
        return ""
    if len(nested) == 1:
        return f"; left out: {nested[0]} (a nested git repository)"
    return f"; left out: {', '.join(nested[:5])} (nested git repositories)"
