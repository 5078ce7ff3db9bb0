"""The cloud lane: Codex Cloud runs the attempt; its result lands in a worktree of the task's own.

Submitting and following the remote task is the supervisor's (:mod:`cockpit.core.supervisor.cloud`);
this adapter owns what happens once the task is ready: the chosen attempt's diff (best-of-N: the first
attempt with a diff until the user picks another) is applied in the task's worktree at its base commit
— never in the user's checkout — with a 3-way apply, then committed on ``cockpit/<task-id>`` by the
worktree lane's own commit, so review, merge and reject work as for a worktree task. A diff that does
not apply leaves the task in ``conflict`` with the files named.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.core.git.operations import apply_patch, create_worktree, open_repo, reset_to, task_branch
from cockpit.core.lanes.worktree import WorktreeLane
from cockpit.core.layout import CLOUD_DIR
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.cloud import CloudResult
from cockpit.core.records.task import TaskState


class CloudLane(WorktreeLane):
    name = "cloud"
    runner_module = "cockpit.core.attempts.cloud_submit"

    def prepare(self, state: TaskState) -> Path:
        """Where ``codex cloud`` runs: the board's own ``cloud/`` (its ``error.log`` lands there)."""
        path = self.board.root / CLOUD_DIR
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def settle_success(self, state: TaskState, attempt_n: int) -> tuple[TaskStatus, str]:
        attempt = state.attempts[attempt_n - 1]
        run = attempt.cloud
        if run is None:
            raise RuntimeError(f"attempt {attempt_n} of {state.id} has no cloud task")
        chosen = run.chosen
        if chosen is None:
            chosen = next((r for r in run.results if r.diff_file), None)
            if chosen is None:
                return TaskStatus.SUCCEEDED, f"Codex Cloud task {run.task_id} finished with no changes"
            chosen.chosen = True
        return self.apply_result(state, attempt_n, chosen)

    def apply_result(self, state: TaskState, attempt_n: int, result: CloudResult) -> tuple[TaskStatus, str]:
        """Put ``result``'s diff on the task's branch (from its base commit); the task's new status."""
        if not state.base_commit:
            raise RuntimeError("cloud task has no base commit")
        assert result.diff_file is not None
        patch = (self.board.attempt_dir(state.id, attempt_n) / result.diff_file).read_text(encoding="utf-8")
        path = self.board.worktree_path(state.id)
        state.branch = state.branch or task_branch(state.id)
        create_worktree(open_repo(self.board.repo), path, state.branch, state.base_commit)
        state.worktree = str(path)
        state.head_commit = None
        reset_to(path, state.base_commit)  # from the base, whatever an earlier pick applied
        conflicts = apply_patch(path, patch)
        run = state.attempts[attempt_n - 1].cloud
        which = f"attempt {result.n} of {len(run.results)}" if run and len(run.results) > 1 else "its diff"
        if conflicts:
            state.diff = None
            shown = ", ".join(conflicts[:10]) + (
                f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
            )
            return TaskStatus.CONFLICT, f"the cloud diff ({which}) does not apply to the base commit: {shown}"
        status, message = super().settle_success(state, attempt_n)
        return status, f"{message} (Codex Cloud, {which})"
