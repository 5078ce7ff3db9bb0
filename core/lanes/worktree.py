"""The worktree lane: a git worktree and branch ``cockpit/<task-id>`` per task from its base commit.

Codex edits files only; the cockpit commits the result itself (hooks off; nested git repositories a
worker created are left out and reported), so the worker never needs write access to ``.git``. The
task then waits in review with ``diff.patch`` (new files included) until merged or rejected.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.core.git.operations import create_worktree, open_repo, task_branch
from cockpit.core.lanes.base import Lane
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.results import commit_result


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
        return commit_result(self.board, state, attempt_n)
