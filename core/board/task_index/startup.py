"""Start-up for the board lock's holder: bring the task index up to date from one ``stat`` per state
file, reading in full only the tasks whose line is behind their file and those it acts on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.task_index.scan import Stamped, scan_stamped
from cockpit.core.board.task_index.writer import Entry, entry_of
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.records.basics import TaskStatus

if TYPE_CHECKING:  # the full states are read here, their models imported by the board
    from cockpit.core.records.task import TaskState


@dataclass
class StartUp:
    """What :func:`start_up` did: the states it read in full whose status the caller keeps, the number
    of live tasks the journal names now, how many state files it read in full, why it had to read every
    one (None: it read only those that needed it), whether it rewrote the journal, and the error that
    kept it from rewriting it, if any (readers then rescan; the lock holder compacts later)."""

    kept: list[TaskState] = field(default_factory=list)
    tasks: int = 0
    reads: int = 0
    rescan: str | None = None
    rewritten: bool = False
    error: OSError | None = None


def start_up(board: Blackboard, keep: frozenset[TaskStatus]) -> StartUp:
    """The board lock's holder at start-up: make the journal complete and current again without reading
    every state file. One listing of ``tasks/`` and one ``stat`` per ``state.json`` give each task's
    stamp; a task is read in full only when its last line's stamp is not its file's (the line is behind,
    or was written before stamps were, or there is none) or its status is in ``keep`` (those states are
    returned). With no journal to trust (missing, not complete, an invalid line) every state file is
    read. When anything was behind (a line older than its file, a task it does not name, a task whose
    directory is gone) the journal is rewritten whole, under a new generation; when every line was
    current it is kept as it is, so that no reader loads it again for nothing."""
    index = board.task_index
    mark = index.mark()
    with index.known() as known:
        report = StartUp(rescan=known.trouble)
        entries: dict[str, Entry] = {}
        behind = 0  # tasks the journal has no current line for
        named = 0  # tasks listed that the journal names
        for task_id, stamp in board.state_stamps():
            entry = known.entries.get(task_id)
            named += entry is not None
            current = entry is not None and entry.stamp == stamp
            if current and entry is not None and entry.status not in keep:
                entries[task_id] = entry  # the line was made from this very file: it is current
                continue
            state, read_stamp = board.read_stamped_state(task_id)
            report.reads += 1
            if not current or read_stamp != stamp:
                behind += 1
            if state is None:
                behind += entry is not None  # named, but without a readable state: it goes
                continue
            if state.status in keep:
                report.kept.append(state)
            entries[task_id] = entry_of(Stamped(TaskSummary.of(state), read_stamp))
        behind += len(known.entries) - named  # their directories are gone
        known.entries.clear()
        if known.trouble is None and known.whole and behind == 0:
            index.adopt(known)
            report.tasks = len(entries)
            return report
        report.rewritten = True
        try:
            report.tasks = index.rebuild_entries(entries, since=mark, scan=lambda: scan_stamped(board))
        except OSError as exc:
            report.error, report.tasks = exc, len(entries)
    return report
