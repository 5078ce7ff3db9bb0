"""The lane interface: prepare a working directory for an attempt, then settle its result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState


class Lane(ABC):
    name: str = ""
    exclusive: bool = False  # True: at most one task of this lane runs at a time
    runner_module: str = "cockpit.core.attempts.exec_runner"  # the detached process that runs one attempt

    def __init__(self, board: Blackboard) -> None:
        self.board = board

    @abstractmethod
    def prepare(self, state: TaskState) -> Path:
        """Return the directory Codex works in (``-C``), creating it if needed."""

    @abstractmethod
    def settle_success(self, state: TaskState, attempt_n: int) -> tuple[TaskStatus, str]:
        """After an attempt with three green signals and no FAILED/BLOCKED line: the task's new status
        and a one-line message saying what happened to the result."""
