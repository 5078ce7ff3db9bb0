"""The local lane: Codex works in the repository's own working tree, one task at a time."""

from __future__ import annotations

from pathlib import Path

from cockpit.core.lanes.base import Lane
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState


class LocalLane(Lane):
    name = "local"
    exclusive = True

    def prepare(self, state: TaskState) -> Path:
        return self.board.repo

    def settle_success(self, state: TaskState, attempt_n: int) -> tuple[TaskStatus, str]:
        return TaskStatus.SUCCEEDED, "completed in the working tree"
