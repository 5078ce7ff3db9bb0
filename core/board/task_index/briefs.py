"""What an archive sweep chooses from: every live task's id, status and times, from the task index when
it can be trusted alone, else from every state file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.task_index.scan import scan_summaries
from cockpit.core.records.basics import TaskStatus


@dataclass(frozen=True, slots=True)
class Brief:
    """A live task as an archive sweep chooses it: its id, status and times, nothing more."""

    id: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime


def briefs(board: Blackboard) -> list[Brief]:
    """Every live task's id, status and times: from the journal when it can be trusted alone (each line
    is parsed and dropped, only these four kept), else from every state file."""
    with board.task_index.known() as known:
        if known.trouble is None:
            return [Brief(i, e.status, e.created_at, e.updated_at) for i, e in known.entries.items()]
    return [Brief(s.id, s.status, s.created_at, s.updated_at) for s in scan_summaries(board).values()]
