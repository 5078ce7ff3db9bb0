"""The worktree lane: a git worktree and branch ``cockpit/<task-id>`` per task from its base commit.

Codex edits files only; the cockpit commits the result itself (hooks off; nested git repositories a
worker created are left out and reported), so the worker never needs write access to ``.git``. The
task then waits in review with ``diff.patch`` (new files included) until merged or rejected.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.core.atomic import atomic_write_text
from cockpit.core.git.operations import (
    commit_all,
    create_worktree,
    diff_against,
    open_repo,
    remove_worktree,
    task_branch,
)
from cockpit.core.lanes.base import Lane
from cockpit.core.layout import DIFF_FILE
from cockpit.core.records.attempt import DiffStat
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState


class WorktreeLane(Lane):
    name = "worktree"

    def prepare(self, state: TaskState) -> Path:
        if not state.base_commit:
            raise RuntimeError("worktree task has no base commit")
        path = self.board.worktree_path(state.id)
        state.branch = state.branch or task_branch(state.id)
        create_worktree(open_repo(self.board.repo), path, state.branch, state.base_commit)
        state.worktree = str(path)
        return path

    def settle_success(self, state: TaskState, attempt_n: int) -> tuple[TaskStatus, str]:
        path = Path(state.worktree or self.board.worktree_path(state.id))
        result = commit_all(path, f"cockpit: {state.title}\n\nTask {state.id}, attempt {attempt_n}.")
        if result.commit:
            state.head_commit = result.commit
        state.skipped_nested_repos = result.skipped_nested_repos
        left_out = _left_out(result.skipped_nested_repos)
        patch, summary = diff_against(path, state.base_commit or "HEAD")
        atomic_write_text(self.board.task_dir(state.id) / DIFF_FILE, patch)
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
        remove_worktree(open_repo(self.board.repo), path, state.branch)
        return TaskStatus.SUCCEEDED, f"finished with no changes; worktree and branch removed{left_out}"


def _left_out(nested: list[str]) -> str:
    """The settle message's note on nested repositories that were not committed."""
    if not nested:
        return ""
    if len(nested) == 1:
        return f"; left out: {nested[0]} (a nested git repository)"
    return f"; left out: {', '.join(nested[:5])} (nested git repositories)"
