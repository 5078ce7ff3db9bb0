"""Following the task index: :class:`TaskIndexReader` keeps every live task's summary, reading only the
lines appended since its last poll through the project's growing-file cursor, and every state file when
the journal cannot be trusted alone."""

from __future__ import annotations

import os

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.summary_pool import share
from cockpit.core.board.task_index.lines import JournalLines, Record, Removal
from cockpit.core.board.task_index.scan import scan_summaries
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.collector import collector_paused
from cockpit.core.follow import GrowingFile, Restart
from cockpit.core.layout import TASK_INDEX_FILE

Changes = dict[str, tuple[TaskSummary | None, TaskSummary | None]]


class _Load:
    """A journal being read from its first line: the tasks it names (the last record per id wins), each
    summary equal to the one ``known`` holds for its id replaced by that one (a reload keeps the objects
    of the tasks that did not change, and never holds two copies of them)."""

    def __init__(self, known: dict[str, TaskSummary]) -> None:
        self.journal = JournalLines(header=True, trusted_only=True)
        self.tasks: dict[str, TaskSummary] = {}
        self._known = known

    def take(self, record: Record) -> None:
        if isinstance(record, Removal):
            self.tasks.pop(record.id, None)
        else:
            kept = self._known.get(record.id)
            self.tasks[record.id] = kept if kept is not None and kept == record else record


class TaskIndexReader:
    """Follows the journal: ``tasks`` maps every live task's id to its summary. :meth:`poll` brings it up
    to date and says what changed; ``rescans`` counts the full reads of the state files.

    The journal is loaded once; after that a poll is one ``os.stat``: the same file and size → nothing
    is read; longer → only the new complete lines are read (an incomplete last line stays on disk until
    its newline arrives); another file (a rebuild) or a shorter one → the cursor starts again at byte 0
    and the journal is loaded again. A missing journal, one that is not complete, or an invalid line make
    the reader read every ``tasks/*/state.json`` (the fallback that misses nothing) and then follow the
    journal from where it had read to before the scan."""

    def __init__(self, board: Blackboard) -> None:
        self.board = board
        self.path = board.root / TASK_INDEX_FILE
        self.tasks: dict[str, TaskSummary] = {}
        self.generation: str | None = None
        self.rescans = 0
        self.lines_read = 0
        self._loaded = False
        self._present = False  # the last read found a journal
        self._cursor = GrowingFile(self.path, hold_partial=False, on_restart=self._restarted)
        self._load: _Load | None = None  # a journal being read from its first line

    def poll(self) -> Changes:
        """Bring ``tasks`` up to date: id → (before, after) for every task added, changed or removed."""
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if self._loaded:
            if st is None:
                # Gone since the last poll (removed after a failed append, or by hand): rescan. Still gone:
                # nothing was written since, as every write creates it again.
                return self._gone() if self._present else {}
            if self._cursor.check(st) is None and st.st_size == self._cursor.offset:
                return {}
        return self._read()

    def _restarted(self, _reason: Restart) -> None:
        # Told before any line of the new file is read: those lines are a journal from its header on.
        self._load = _Load(self.tasks)

    def _read(self) -> Changes:
        before = self.tasks
        self._load = _Load(before) if self._cursor.offset == 0 else None
        tail = JournalLines(header=False)
        records: list[Record] = []
        with collector_paused():
            for batch in self._cursor.read_batches():
                load = self._load  # set by _restarted when the file was replaced or truncated
                journal = load.journal if load is not None else tail
                for line in batch:
                    record = journal.record(line)
                    if record is None:
                        continue
                    if load is not None:
                        load.take(record)
                    else:
                        records.append(record)
        if self._cursor.missing:
            return self._gone()
        self._loaded = self._present = True
        load, self._load = self._load, None
        if load is not None:
            load.journal.end()
            self.lines_read += load.journal.lines
            self.generation = load.journal.generation
            if load.journal.trouble is not None or not load.journal.complete:
                return self._rescan()  # what is appended from here on is read after the scan
            self.tasks = load.tasks
            return _diff(before, self.tasks)
        self.lines_read += tail.lines
        if tail.trouble is not None:
            return self._rescan()
        changes: Changes = {}
        for task_id, old in _apply(records, self.tasks).items():
            new = self.tasks.get(task_id)
            if new is not old and new != old:
                changes[task_id] = (old, new)
        return changes

    def _gone(self) -> Changes:
        """No journal (there never was one, or it was removed): read every state file. The next write
        creates it again, and it is then read from its first line."""
        if self._cursor.offset:
            self._cursor.restart(Restart("removed", self._cursor.offset, 0))
        self._load = None
        self._loaded, self._present, self.generation = True, False, None
        return self._rescan()

    def _rescan(self) -> Changes:
        before = self.tasks
        self.rescans += 1
        self.tasks = scan_summaries(self.board)
        for summary in self.tasks.values():
            share(summary)  # built from states read here and dropped: nothing else holds their parts
        return _diff(before, self.tasks)


def _apply(records: list[Record], tasks: dict[str, TaskSummary]) -> dict[str, TaskSummary | None]:
    """Apply ``records`` to ``tasks`` in order; returns what each id named was before the first one."""
    before: dict[str, TaskSummary | None] = {}
    for record in records:
        if record.id not in before:
            before[record.id] = tasks.get(record.id)
        if isinstance(record, Removal):
            tasks.pop(record.id, None)
        else:
            tasks[record.id] = record
    return before


def _diff(before: dict[str, TaskSummary], after: dict[str, TaskSummary]) -> Changes:
    changes: Changes = {}
    for task_id, old in before.items():
        new = after.get(task_id)
        if new is not old and new != old:
            changes[task_id] = (old, new)
    for task_id, new in after.items():
        if task_id not in before:
            changes[task_id] = (None, new)
    return changes
