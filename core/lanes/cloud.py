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

from cockpit.core.codex.cloud.commands import prepare_cloud_cwd
from cockpit.core.lanes.worktree import WorktreeLane
from cockpit.core.layout import CLOUD_DIR
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.results import apply_cloud_result


class CloudLane(WorktreeLane):
    name = "cloud"
    runner_module = "cockpit.core.attempts.cloud_submit"

    def prepare(self, state: TaskState | None = None) -> Path:
        """Where ``codex cloud`` runs: the board's own ``cloud/`` (its ``error.log`` lands there)."""
        return prepare_cloud_cwd(self.board.root / CLOUD_DIR, board_root=self.board.root)

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
        return apply_cloud_result(self.board, state, attempt_n, chosen)
