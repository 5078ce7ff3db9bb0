"""The fallback that misses nothing: every live task's summary read from its ``state.json``, with the
stamp of the file it was read from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cockpit.core.board.blackboard import Blackboard, Stamp
from cockpit.core.board.task_summary import TaskSummary


@dataclass(frozen=True)
class Stamped:
    """A task's summary and the stamp of the state file it was made from."""

    summary: TaskSummary
    stamp: Stamp | None

    @property
    def id(self) -> str:
        return self.summary.id


Scan = Callable[[], Mapping[str, TaskSummary | Stamped]]


def scan_summaries(board: Blackboard) -> dict[str, TaskSummary]:
    """Every live task's summary, read from its ``state.json`` (files that fail to parse are quarantined
    by the board and left out): the fallback that misses nothing."""
    return {task_id: stamped.summary for task_id, stamped in scan_stamped(board).items()}


def scan_stamped(board: Blackboard) -> dict[str, Stamped]:
    """:func:`scan_summaries` with the stamp of each state file read: what a rebuild starts from."""
    out: dict[str, Stamped] = {}
    for task_id in board.task_ids():
        state, stamp = board.read_stamped_state(task_id)
        if state is not None:
            out[task_id] = Stamped(TaskSummary.of(state), stamp)
    return out
