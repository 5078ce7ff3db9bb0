"""A cloud-lane task back from Codex Cloud, made on disk without running codex: each best-of-N
attempt's diff written beside the attempt as the supervisor fetches it (``cloud-attempt-<k>.diff``), the
``CloudRun`` with its results in ``state.json``, and the chosen attempt put on the task's branch by the
core itself (:func:`~cockpit.core.results.apply_cloud_result`: a real worktree, commit and
``diff.patch``, or ``conflict`` with the files named). Diffs given as files are made by git: written
in a scratch worktree from the repository's HEAD, committed, diffed, and the worktree removed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.diff_parse import count_patch
from cockpit.core.git.operations import (
    commit_all,
    create_worktree,
    diff_against,
    head_commit,
    open_repo,
    remove_worktree,
)
from cockpit.core.layout import cloud_diff_file
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.task import TaskState
from cockpit.core.results import apply_cloud_result

CLOUD_URL = "https://chatgpt.com/codex/tasks/"


def attempt_patch(board: Blackboard, files: dict[str, str]) -> str:
    """The git diff, from the repository's HEAD, of writing ``files`` (path -> content)."""
    git = open_repo(board.repo)
    base = head_commit(git)
    scratch = board.worktree_path("scratch-attempt")
    branch = "scratch/attempt"
    create_worktree(git, scratch, branch, base)
    try:
        for path, text in files.items():
            (scratch / path).parent.mkdir(parents=True, exist_ok=True)
            (scratch / path).write_text(text, encoding="utf-8")
        commit_all(scratch, "scratch attempt")
        patch, _ = diff_against(scratch, base)
    finally:
        remove_worktree(git, scratch, branch)
    return patch


def make_cloud_review_task(
    board: Blackboard,
    task_id: str,
    attempts: list[dict[str, str] | str],
    *,
    title: str,
    chosen: int = 1,
    cloud_task: str = "task_e_6a1f0c2b9d",
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    **state_fields: Any,
) -> TaskState:
    """A cloud task whose last attempt came back with ``attempts`` (files to write, or a patch's text),
    attempt ``chosen`` applied to its branch; in ``review``, or ``conflict`` when that one does not
    apply. Returns the state as written."""
    base = head_commit(open_repo(board.repo))
    patches = [a if isinstance(a, str) else attempt_patch(board, a) for a in attempts]
    directory = board.attempt_dir(task_id, 1)
    directory.mkdir(parents=True, exist_ok=True)
    results = []
    for k, patch in enumerate(patches, 1):
        name = cloud_diff_file(k)
        atomic_write_text(directory / name, patch)
        counts = count_patch(patch)
        results.append(
            CloudResult(
                n=k,
                files=counts.files,
                insertions=counts.added,
                deletions=counts.removed,
                paths=counts.paths,
                diff_file=name,
                chosen=k == chosen,
            )
        )
    run = CloudRun(
        env="owner/repo",
        best_of=len(patches),
        task_id=cloud_task,
        url=CLOUD_URL + cloud_task,
        status="ready",
        polls=6,
        results=results,
    )
    times: dict[str, Any] = {"started_at": started_at} if started_at else {}
    attempt = Attempt(
        n=1,
        deadline_s=3600,
        ended_at=ended_at,
        signals=Signals(exit_code=0, turn_completed=True, last_message=True),
        cloud=run,
        **times,
    )
    state = TaskState(
        id=task_id,
        lane="cloud",
        title=title,
        status=TaskStatus.RUNNING,
        base_commit=base,
        base_branch="main",
        attempts=[attempt],
        **state_fields,
    )
    state.status, state.message = apply_cloud_result(board, state, 1, results[chosen - 1])
    board.write_state(state)
    return state
