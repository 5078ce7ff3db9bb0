"""A worktree task waiting for review, made the way the worktree lane makes one: a real worktree and
branch ``cockpit/<id>`` from the base commit, the worker's files written there, a cockpit commit, and
``diff.patch`` plus the diff stat on the blackboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.git.operations import commit_all, create_worktree, diff_against, open_repo, task_branch
from cockpit.core.records.attempt import DiffStat
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState


def make_review_task(
    board: Blackboard,
    task_id: str,
    write: dict[str, str] | Callable[[Path], None],
    *,
    title: str,
    **state_fields: Any,
) -> str:
    """Create the task in ``review``; ``write`` maps paths to contents or writes into the worktree.
    Returns the patch text."""
    git = open_repo(board.repo)
    base = git.head.commit.hexsha
    worktree = board.worktree_path(task_id)
    create_worktree(git, worktree, task_branch(task_id), base)
    if callable(write):
        write(worktree)
    else:
        for path, text in write.items():
            (worktree / path).parent.mkdir(parents=True, exist_ok=True)
            (worktree / path).write_text(text)
    commit_all(worktree, f"cockpit: {title}")
    patch, summary = diff_against(worktree, base)
    atomic_write_text(board.task_dir(task_id) / "diff.patch", patch)
    board.write_state(
        TaskState(
            id=task_id,
            lane="worktree",
            title=title,
            status=TaskStatus.REVIEW,
            base_commit=base,
            base_branch="main",
            branch=task_branch(task_id),
            worktree=str(worktree),
            diff=DiffStat(
                files=summary.files,
                insertions=summary.insertions,
                deletions=summary.deletions,
                paths=summary.paths,
            ),
            **state_fields,
        )
    )
    return patch
