"""The writing side of the task index: appending a task's line after its state write, and rewriting the
journal whole (a rebuild or a compaction) under its lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cockpit.core.atomic import atomic_write_chunks, private_opener
from cockpit.core.board.blackboard import Stamp
from cockpit.core.board.task_index.lines import (
    JournalLines,
    Removal,
    header_line,
    line_stamp,
    record_line,
)
from cockpit.core.board.task_index.scan import Scan, Stamped
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.collector import collector_paused
from cockpit.core.layout import TASK_INDEX_FILE
from cockpit.core.records.basics import TaskStatus

COMPACT_SLACK = 1000  # lines beyond twice the live tasks before the lock holder compacts
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Mark:
    """Where the journal ended at one moment: its file and size (see :meth:`TaskIndex.mark`)."""

    file: tuple[int, int] | None
    size: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A live task's line in a journal being written: its times (creation: the order), status and stamp,
    and its bytes: ``line`` (newline included), or when None the ``size`` bytes at ``at`` in the journal
    open as ``src`` (a line kept as it was is read back when written, never held in memory)."""

    created_at: datetime
    updated_at: datetime
    status: TaskStatus
    stamp: Stamp | None
    line: bytes | None = None
    src: int = -1
    at: int = 0
    size: int = 0

    def data(self) -> bytes:
        if self.line is not None:
            return self.line
        data = os.pread(self.src, self.size, self.at)
        if len(data) != self.size:  # the journal read was cut short meanwhile: never write a torn line
            raise OSError(errno.EIO, "the task index changed while it was rewritten")
        return data


def entry_of(value: TaskSummary | Stamped) -> Entry:
    """The entry of a summary (with the stamp of its state file, when known), its line made now."""
    summary, stamp = (value.summary, value.stamp) if isinstance(value, Stamped) else (value, None)
    line = record_line(summary, stamp)
    return Entry(summary.created_at, summary.updated_at, summary.status, stamp, line)


@dataclass
class Known:
    """A journal as the lock holder read it: each live task's last line (nothing when it cannot be
    trusted, and why), its file, its lines, and whether it ended with a complete line (no fragment after
    it)."""

    entries: dict[str, Entry]
    trouble: str | None
    file: tuple[int, int] | None = None
    lines: int = 0
    whole: bool = False


def _file_of(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def _lines(fd: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """The complete lines of the file open as ``fd`` from ``start`` on, each with its offset and without
    its newline, read a chunk at a time (a last line without its newline is not one)."""
    offset, buf = start, b""
    while more := os.pread(fd, READ_CHUNK, offset + len(buf)):
        buf += more
        pos = 0
        while (end := buf.find(b"\n", pos)) >= 0:
            yield offset + pos, buf[pos:end]
            pos = end + 1
        offset, buf = offset + pos, buf[pos:]


def _read_entries(
    fd: int, entries: dict[str, Entry], *, header: bool, start: int = 0
) -> tuple[JournalLines, int]:
    """Apply the complete lines of the journal open as ``fd`` (from ``start``: its tail) to ``entries``
    in order: a task's last line wins, a removal drops it. Entries point at their lines in ``fd``, which
    must stay open until they are written. Returns the account of the lines read and the bytes they
    took."""
    journal = JournalLines(header=header)
    end = start
    with collector_paused():
        for at, line in _lines(fd, start):
            end = at + len(line) + 1
            record = journal.record(line)
            if record is None:
                continue
            if isinstance(record, Removal):
                entries.pop(record.id, None)
            else:
                entries[record.id] = Entry(
                    record.created_at,
                    record.updated_at,
                    record.status,
                    line_stamp(line),
                    src=fd,
                    at=at,
                    size=len(line) + 1,
                )
    journal.end()
    return journal, end - start


class TaskIndex:
    """The writing side of the journal, one per :class:`~cockpit.core.board.blackboard.Blackboard`.

    Appends never raise: the state file they follow is already written. ``due()`` tells the lock
    holder when to :meth:`compact`; counts are this process's own (the lock holder is the one writer
    while it holds the lock)."""

    def __init__(self, root: Path) -> None:
        self.path = root / TASK_INDEX_FILE
        self._lines: int | None = None  # lines of the journal this process last rebuilt, plus its appends
        self._file: tuple[int, int] | None = None  # the file this process last rebuilt or appended to
        self._trouble: str | None = None  # why the journal needs a rebuild, as met by this process

    # ---- appending ----------------------------------------------------------------------------
    def record(self, summary: TaskSummary, *, stamp: Stamp | None = None) -> None:
        """Append a task's summary (after its state file was written), with that file's stamp."""
        self._append(record_line(summary, stamp))

    def forget(self, task_id: str) -> None:
        """Append a removal (after the task's directory left ``tasks/``)."""
        self._append(record_line(Removal(gone="archived", id=task_id)))

    def _append(self, line: bytes) -> None:
        try:
            with self._locked() as fd:
                st = os.fstat(fd)
                size = st.st_size
                prefix = b""
                if size == 0:
                    prefix = header_line(complete=False)
                    self._trouble = self._trouble or "an append had to create the journal"
                    self._lines = 0
                elif os.pread(fd, 1, size - 1) != b"\n":
                    prefix = b"\n"  # close a torn line, so this record is not glued onto it
                    self._trouble = self._trouble or "the journal held a torn line"
                data = prefix + line
                try:
                    written = os.write(fd, data)
                    if written < len(data):
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                except OSError:
                    # The state file is written and is the truth: without a journal every reader rescans.
                    with contextlib.suppress(OSError):
                        os.unlink(self.path)
                    raise
                self._file = _file_of(st)
                if self._lines is not None:
                    self._lines += data.count(b"\n")
        except OSError:
            self._trouble = "an append failed (the journal was removed)"
            self._file = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        """The journal opened for appending and reading, under an exclusive ``flock``; it is created if
        missing, and opened again if a rebuild replaced it while this process waited for the lock."""
        while True:
            fd = private_opener(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = _file_of(os.stat(self.path))
                except FileNotFoundError:
                    current = None
                if current == _file_of(os.fstat(fd)):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        try:
            yield fd
        finally:
            os.close(fd)  # releases the lock

    # ---- rebuilding (the board lock's holder only) --------------------------------------------
    def mark(self) -> Mark:
        """Where the journal ends now: taken before reading the state files a rebuild starts from, so
        that :meth:`rebuild` can add what was appended in between."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return Mark(None, 0)
        return Mark(_file_of(st), st.st_size)

    def rebuild(
        self,
        summaries: Iterable[TaskSummary | Stamped],
        *,
        since: Mark | None = None,
        scan: Scan | None = None,
    ) -> int:
        """Write a complete journal naming ``summaries`` (read from the state files after ``since`` was
        taken) updated by whatever was appended after ``since``. When that part cannot be trusted (an
        invalid line, or a file some other rebuild wrote), ``scan()`` is used instead, if given.
        Returns how many tasks the journal names."""
        return self.rebuild_entries(
            {value.id: entry_of(value) for value in summaries}, since=since, scan=scan
        )

    def rebuild_entries(self, entries: dict[str, Entry], *, since: Mark | None, scan: Scan | None) -> int:
        """:meth:`rebuild` from entries already made (start-up keeps the lines that are current as they
        were)."""
        with self._locked() as fd:
            st = os.fstat(fd)
            if since is not None and st.st_size:
                same = since.file == _file_of(st) and st.st_size >= since.size
                updated = dict(entries)
                journal, _ = _read_entries(fd, updated, header=not same, start=since.size if same else 0)
                if journal.trouble is None and (same or not journal.complete):
                    entries = updated
                elif scan is not None:
                    entries = {task_id: entry_of(value) for task_id, value in scan().items()}
            return self._write(entries)

    def compact(self, scan: Scan) -> int:
        """Rewrite the journal with one line per live task (each as it was, its stamp kept): from the
        journal itself when it is complete and every line is valid, else from ``scan()`` (the state
        files). Done under the lock, so no append is lost. Returns how many tasks it names."""
        with self._locked() as fd:
            entries: dict[str, Entry] = {}
            journal, _ = _read_entries(fd, entries, header=True)
            if journal.trouble is not None or not journal.complete:
                entries = {task_id: entry_of(value) for task_id, value in scan().items()}
            return self._write(entries)

    @contextlib.contextmanager
    def known(self) -> Iterator[Known]:
        """Each live task's last line, read from the journal when it is complete and every line in it is
        valid (a last line without its newline, cut by a crash, is left out); else nothing, and why. The
        journal stays open while the context lasts: the lines are read back from it when written."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield Known({}, "there is no journal")
            return
        try:
            entries: dict[str, Entry] = {}
            st = os.fstat(fd)
            journal, end = _read_entries(fd, entries, header=True)
            if journal.trouble is not None:
                yield Known({}, journal.trouble)
            elif not journal.complete:
                yield Known({}, "the journal is not complete")
            else:
                whole = end == os.fstat(fd).st_size
                yield Known(entries, None, _file_of(st), journal.lines, whole)
        finally:
            os.close(fd)

    def adopt(self, known: Known) -> None:
        """Take the journal just read as current, as if this process had written it (for :meth:`due`)."""
        self._file, self._lines, self._trouble = known.file, known.lines, None

    def _write(self, entries: Mapping[str, Entry]) -> int:
        ordered = sorted(entries.items(), key=lambda item: (item[1].created_at, item[0]))
        lines = (entry.data() for _, entry in ordered)
        # Not fsynced: the journal is derived from the state files, and one a power cut left empty or
        # torn reads as not to be trusted (readers rescan) until the next start-up rebuilds it.
        atomic_write_chunks(self.path, itertools.chain((header_line(complete=True),), lines), durable=False)
        self._file = _file_of(os.stat(self.path))
        self._lines = 1 + len(ordered)
        self._trouble = None
        return len(ordered)

    def due(self, live: int) -> str | None:
        """Why the journal should be rebuilt now (None: it need not be): an append met trouble, the
        file is not the one this process last wrote (someone removed it), or it grew past twice
        ``live`` plus :data:`COMPACT_SLACK` lines."""
        if self._trouble is not None:
            return self._trouble
        try:
            current: tuple[int, int] | None = _file_of(os.stat(self.path))
        except FileNotFoundError:
            current = None
        if current is None or current != self._file:
            return "the journal is not the one last written here"
        if self._lines is not None and self._lines > 2 * live + COMPACT_SLACK:
            return f"{self._lines} lines for {live} tasks"
        return None
