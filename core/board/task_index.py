"""The task index: ``task-index.jsonl`` in the board, an append-only journal of task summaries that lets
every list of tasks follow the board without opening, or even stat-ing, each task's ``state.json``.

**Format.** One JSON object per line. The first line is a header, ``{"index": 1, "generation": "<hex>",
"complete": true}``; every other line is a task's whole :class:`~cockpit.core.board.task_summary.TaskSummary`
(an upsert: the last line for an id wins) or a removal, ``{"gone": "archived", "id": "<id>"}``. A
summary's line ends with the *stamp* of the ``state.json`` it was made from, ``"stamp": [inode,
mtime_ns, size]`` (optional: lines written before stamps existed have none, and readers of summaries
ignore it). A *complete* journal (written by a rebuild) names every live task; one that an append had
to create (the file was missing) is not complete: it holds only what was appended since.

**Writing.** :meth:`Blackboard.write_state` replaces ``state.json`` atomically and then appends the
task's summary with the new file's stamp (taken from the written file before its rename: no later
``stat`` can see another file); :meth:`Blackboard.forget_task` appends a removal once the task's
directory left ``tasks/``. An append is one ``write`` on an ``O_APPEND`` descriptor under an exclusive
``flock`` of the journal; with the lock taken, the writer checks that the path still names the file it
locked (a rebuild may have replaced it meanwhile) and opens it again if not. A journal that does not end
in a newline (a line torn by a crash) gets one first, so a record is never glued onto the fragment,
which stays behind as one invalid line. An append that fails (a full disk) removes the journal and never
fails the state write: the state file is the truth, and without a journal every reader rescans.

**Rebuilding.** A new board starts with an empty, complete journal (``Blackboard.init``). After that
only the holder of the board's supervisor lock rebuilds (a command without it never does). At start-up
the supervisor brings the journal up to date (:func:`start_up`): it reads the journal, lists ``tasks/``,
takes one ``stat`` per ``state.json``, keeps the last line of every task whose stamp is its file's, and
reads in full only the others (a stamp that differs or is missing, a task the journal does not name) and
the tasks it acts on (their full states are what it keeps in memory). When anything was behind (or a
task's directory vanished) it rewrites the journal whole; when every line was current it leaves the
journal as it is, so no reader loads it again for nothing. With no journal to trust (missing, not
complete, an invalid line) it reads every state file and rewrites it. It compacts when the journal grew
past twice the live tasks plus :data:`COMPACT_SLACK` lines, held a torn line, or had to be created by an
append; a compaction keeps each line as it was, stamp included. A rebuild writes a new file with a new
generation under the journal's ``flock`` and renames it over the old one. Nothing here is fsynced: the
journal is derived, and one a power cut left short or torn is either behind (its stamps no longer match:
repaired by the next start-up) or not to be trusted (readers rescan).

**Reading.** :class:`TaskIndexReader` loads the journal once (last record per id wins); after that a
poll is one ``os.stat``: the same file, longer → only the new complete lines are read (an incomplete
last line waits for the next poll); the same size → nothing is read; another file (a rebuild) or a
shorter one → the journal is loaded again. A missing journal, one that is not complete, or an invalid
line make the reader read every ``tasks/*/state.json`` (the fallback that misses nothing) and then
follow the journal from where it had read to before the scan.

**Why it stays right when a writer dies at any point** (the state file is always the truth; a state
file changes only before its line is appended, and the lines of one task are appended in the order of
its writes):

- before ``state.json`` is replaced: nothing changed, and the journal says so.
- after ``state.json``, before the append: the journal shows that task's previous summary until the
  task is written again or the next supervisor starts. That start-up sees the stamp of the task's last
  line differ from its file's and reads the file.
- in the middle of the append: readers leave a last line without a newline alone; the next append
  closes it, readers then meet an invalid line and rescan, and the supervisor compacts it away.
- during a rebuild: the old journal stays whole until the rename (a leftover temp file is ignored),
  and appends wait on the lock and go to the new file; readers see a new file and load it.
- a scan misses nothing written while it runs: whatever a writer changes after the reader's offset
  is appended after that offset, and the reader follows from there once the scan is done.

**Why a matching stamp means the line is current.** A state file is only ever replaced by a new file
(written under a temporary name, then renamed), created while the file it replaces still exists: it
cannot have that file's inode, so it never carries the stamp of the file before it. A writer appends
each write's line before it writes the task again (the one writer is the lock holder, one write at a
time), so at most the last write of a task can lack its line. Hence when a task's ``state.json`` has
the stamp its last line carries, that line was made from this very file; when not, the file is read.
(A file edited by hand in place changes its modification time or size, so its stamp too; a stamp that
is missing or cannot be parsed counts as different.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import io
import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.atomic import atomic_write_chunks, private_opener
from cockpit.core.board.blackboard import Blackboard, Stamp, is_task_id
from cockpit.core.board.summary_pool import share
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.layout import TASK_INDEX_FILE
from cockpit.core.records.basics import TaskStatus

if TYPE_CHECKING:  # the full state's models are imported by the writer alone
    from cockpit.core.records.task import TaskState

INDEX_FORMAT = 1
COMPACT_SLACK = 1000  # lines beyond twice the live tasks before the lock holder compacts


class IndexHeader(BaseModel):
    """The journal's first line: format, the generation (new with every rebuild), and whether it names
    every live task (a rebuild) or only what was appended since it was created (a missing journal)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Literal[1]
    generation: str = Field(pattern=r"^[0-9a-f]{8,64}$")
    complete: bool


class Removal(BaseModel):
    """A task that left the live board (its directory moved out of ``tasks/``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gone: Literal["archived"]
    id: str


Record = TaskSummary | Removal


def parse_record(line: bytes) -> Record:
    """One line after the header: a summary or a removal of a well-formed task id; ``ValueError`` (a
    pydantic ``ValidationError`` among them) when it is neither."""
    record: Record
    try:
        record = share(TaskSummary.model_validate_json(line))
    except ValidationError:
        record = Removal.model_validate_json(line)
    if not is_task_id(record.id):
        raise ValueError(f"not a task id: {record.id[:80]!r}")
    return record


def _header_line(complete: bool) -> bytes:
    header = IndexHeader(index=INDEX_FORMAT, generation=secrets.token_hex(8), complete=complete)
    return header.model_dump_json().encode() + b"\n"


def _record_line(record: Record, stamp: Stamp | None = None) -> bytes:
    """One record's line; a summary's ends with the stamp of the state file it was made from, when known
    (``"stamp":[inode,mtime_ns,size]``, its last member: readers of summaries ignore it)."""
    if isinstance(record, Removal):  # "gone" first: the line says what it is at a glance
        return f'{{"gone":"{record.gone}","id":"{record.id}"}}\n'.encode()
    data = record.model_dump_json().encode()
    if stamp is not None:
        data = data[:-1] + b',"stamp":[%d,%d,%d]}' % stamp
    return data + b"\n"


# The stamp as _record_line writes it: the line's last member. A summary's own text cannot hold these
# bytes (a quote inside a JSON string is escaped), so a match is the stamp or nothing.
_STAMP_RE = re.compile(rb',"stamp":\[([0-9]{1,20}),([0-9]{1,20}),([0-9]{1,20})\]\}\n?\Z')


def line_stamp(line: bytes | memoryview) -> Stamp | None:
    """The stamp a summary's line carries, None for a line written without one (before stamps were)."""
    match = _STAMP_RE.search(line, max(0, len(line) - 80))
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


@dataclass(frozen=True)
class Mark:
    """Where the journal ended at one moment: its file and size (see :meth:`TaskIndex.mark`)."""

    file: tuple[int, int] | None
    size: int


@dataclass
class _Parsed:
    """Complete lines of a journal (or of its tail): the records in order, the bytes they took (an
    incomplete last line is not taken), the header's generation and completeness when a header was
    read, and the first trouble met (an invalid header or line), if any."""

    records: list[Record]
    end: int
    lines: int
    generation: str | None = None
    complete: bool = False
    trouble: str | None = None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while thousands of records are built: they hold no cycles,
    and collections triggered by their allocation alone took a tenth of a large journal's load."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse(data: bytes, *, header: bool) -> _Parsed:
    with _collector_paused():
        return _parse_lines(io.BytesIO(data), header=header)


def _parse_lines(
    lines: Iterable[bytes],
    *,
    header: bool,
    into: dict[str, TaskSummary] | None = None,
    known: Mapping[str, TaskSummary] | None = None,
) -> _Parsed:
    """Parse ``lines`` (each with its newline; a file object does), one at a time: a journal is never
    held whole, nor as a list of its lines. The records go to ``records``, or with ``into`` straight
    into that dict (the last record per id wins), a summary equal to the one ``known`` holds for its
    id being replaced by that one (a reload keeps the objects of the tasks that did not change, and
    never holds two copies of them). With ``into``, records are applied only from a valid, complete
    journal: once there is trouble, or the header says it is not complete, the lines are only counted
    (the caller rescans)."""
    parsed = _Parsed([], 0, 0)
    header_due = header
    applying = into is not None
    for line in lines:
        if not line.endswith(b"\n"):
            break  # an incomplete last line: read once it is complete
        parsed.end += len(line)
        parsed.lines += 1
        if header_due:
            header_due = False
            try:
                head = IndexHeader.model_validate_json(line)
            except ValidationError:
                parsed.trouble = "the journal's header is not valid"
                applying = False
            else:
                parsed.generation, parsed.complete = head.generation, head.complete
                applying = applying and head.complete
            continue
        if into is not None and not applying:
            continue
        try:
            record = parse_record(line)
        except ValueError:
            parsed.trouble = parsed.trouble or "the journal holds an invalid (torn) line"
            applying = False
            continue
        if into is None:
            parsed.records.append(record)
        elif isinstance(record, Removal):
            into.pop(record.id, None)
        else:
            kept = known.get(record.id) if known is not None else None
            into[record.id] = kept if kept is not None and kept == record else record
    if header_due:
        parsed.trouble = "the journal has no header"
    return parsed


def _apply(records: Iterable[Record], tasks: dict[str, TaskSummary]) -> dict[str, TaskSummary | None]:
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


def _file_of(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


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


READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class _Entry:
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


@dataclass
class _Known:
    """A journal as start-up read it: each live task's last line (nothing when it cannot be trusted, and
    why), its file, its lines, and whether it ended with a complete line (no fragment after it)."""

    entries: dict[str, _Entry]
    trouble: str | None
    file: tuple[int, int] | None = None
    lines: int = 0
    whole: bool = False


def _entry(value: TaskSummary | Stamped) -> _Entry:
    summary, stamp = (value.summary, value.stamp) if isinstance(value, Stamped) else (value, None)
    line = _record_line(summary, stamp)
    return _Entry(summary.created_at, summary.updated_at, summary.status, stamp, line)


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


def _read_entries(fd: int, entries: dict[str, _Entry], *, header: bool, start: int = 0) -> _Parsed:
    """Apply the complete lines of the journal open as ``fd`` (from ``start``: its tail) to ``entries``
    in order: a task's last line wins, a removal drops it. Entries point at their lines in ``fd``, which
    must stay open until they are written. Returns the account of the parse (its records not kept)."""
    parsed = _Parsed([], 0, 0)
    want_header = header
    with _collector_paused():
        for at, line in _lines(fd, start):
            parsed.lines += 1
            parsed.end = at + len(line) + 1 - start
            if want_header:
                want_header = False
                try:
                    head = IndexHeader.model_validate_json(line)
                except ValidationError:
                    parsed.trouble = "the journal's header is not valid"
                else:
                    parsed.generation, parsed.complete = head.generation, head.complete
                continue
            try:
                record = parse_record(line)
            except ValueError:
                parsed.trouble = parsed.trouble or "the journal holds an invalid (torn) line"
                continue
            if isinstance(record, Removal):
                entries.pop(record.id, None)
            else:
                entries[record.id] = _Entry(
                    record.created_at,
                    record.updated_at,
                    record.status,
                    line_stamp(line),
                    src=fd,
                    at=at,
                    size=len(line) + 1,
                )
    if want_header:
        parsed.trouble = "the journal has no header"
    return parsed


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
        self._append(_record_line(summary, stamp))

    def forget(self, task_id: str) -> None:
        """Append a removal (after the task's directory left ``tasks/``)."""
        self._append(_record_line(Removal(gone="archived", id=task_id)))

    def _append(self, line: bytes) -> None:
        try:
            with self._locked() as fd:
                st = os.fstat(fd)
                size = st.st_size
                prefix = b""
                if size == 0:
                    prefix = _header_line(complete=False)
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
        return self._rebuild({value.id: _entry(value) for value in summaries}, since=since, scan=scan)

    def _rebuild(self, entries: dict[str, _Entry], *, since: Mark | None, scan: Scan | None) -> int:
        with self._locked() as fd:
            st = os.fstat(fd)
            if since is not None and st.st_size:
                same = since.file == _file_of(st) and st.st_size >= since.size
                updated = dict(entries)
                parsed = _read_entries(fd, updated, header=not same, start=since.size if same else 0)
                if parsed.trouble is None and (same or not parsed.complete):
                    entries = updated
                elif scan is not None:
                    entries = {task_id: _entry(value) for task_id, value in scan().items()}
            return self._write(entries)

    def compact(self, scan: Scan) -> int:
        """Rewrite the journal with one line per live task (each as it was, its stamp kept): from the
        journal itself when it is complete and every line is valid, else from ``scan()`` (the state
        files). Done under the lock, so no append is lost. Returns how many tasks it names."""
        with self._locked() as fd:
            entries: dict[str, _Entry] = {}
            parsed = _read_entries(fd, entries, header=True)
            if parsed.trouble is not None or not parsed.complete:
                entries = {task_id: _entry(value) for task_id, value in scan().items()}
            return self._write(entries)

    @contextlib.contextmanager
    def known(self) -> Iterator[_Known]:
        """Each live task's last line, read from the journal when it is complete and every line in it is
        valid (a last line without its newline, cut by a crash, is left out); else nothing, and why. The
        journal stays open while the context lasts: the lines are read back from it when written."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield _Known({}, "there is no journal")
            return
        try:
            entries: dict[str, _Entry] = {}
            st = os.fstat(fd)
            parsed = _read_entries(fd, entries, header=True)
            if parsed.trouble is not None:
                yield _Known({}, parsed.trouble)
            elif not parsed.complete:
                yield _Known({}, "the journal is not complete")
            else:
                whole = parsed.end == os.fstat(fd).st_size
                yield _Known(entries, None, _file_of(st), parsed.lines, whole)
        finally:
            os.close(fd)

    def adopt(self, known: _Known) -> None:
        """Take the journal just read as current, as if this process had written it (for :meth:`due`)."""
        self._file, self._lines, self._trouble = known.file, known.lines, None

    def _write(self, entries: Mapping[str, _Entry]) -> int:
        ordered = sorted(entries.items(), key=lambda item: (item[1].created_at, item[0]))
        lines = (entry.data() for _, entry in ordered)
        # Not fsynced: the journal is derived from the state files, and one a power cut left empty or
        # torn reads as not to be trusted (readers rescan) until the next start-up rebuilds it.
        atomic_write_chunks(self.path, itertools.chain((_header_line(complete=True),), lines), durable=False)
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
        entries: dict[str, _Entry] = {}
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
            entries[task_id] = _entry(Stamped(TaskSummary.of(state), read_stamp))
        behind += len(known.entries) - named  # their directories are gone
        known.entries.clear()
        if known.trouble is None and known.whole and behind == 0:
            index.adopt(known)
            report.tasks = len(entries)
            return report
        report.rewritten = True
        try:
            report.tasks = index._rebuild(entries, since=mark, scan=lambda: scan_stamped(board))
        except OSError as exc:
            report.error, report.tasks = exc, len(entries)
    return report


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


class TaskIndexReader:
    """Follows the journal: ``tasks`` maps every live task's id to its summary. :meth:`poll` brings it up
    to date and says what changed; ``rescans`` counts the full reads of the state files."""

    def __init__(self, board: Blackboard) -> None:
        self.board = board
        self.path = board.root / TASK_INDEX_FILE
        self.tasks: dict[str, TaskSummary] = {}
        self.generation: str | None = None
        self.rescans = 0
        self.lines_read = 0
        self._loaded = False
        self._file: tuple[int, int] | None = None
        self._offset = 0

    def poll(self) -> dict[str, tuple[TaskSummary | None, TaskSummary | None]]:
        """Bring ``tasks`` up to date: id → (before, after) for every task added, changed or removed."""
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if not self._loaded:
            return self._reload()
        if st is None:
            # Gone since the last poll (removed after a failed append, or by hand): rescan. Still gone:
            # nothing was written since, as every write creates it again.
            return self._reload() if self._file is not None else {}
        if _file_of(st) != self._file or st.st_size < self._offset:
            return self._reload()
        if st.st_size == self._offset:
            return {}
        return self._tail()

    def _reload(self) -> dict[str, tuple[TaskSummary | None, TaskSummary | None]]:
        before = self.tasks
        tasks: dict[str, TaskSummary] = {}
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below, after fstat and read
        except FileNotFoundError:
            file, parsed = None, _Parsed([], 0, 0, trouble="there is no journal")
        else:
            with fh, _collector_paused():
                file = _file_of(os.fstat(fh.fileno()))
                parsed = _parse_lines(fh, header=True, into=tasks, known=before)
        self.lines_read += parsed.lines
        if parsed.trouble is not None or not parsed.complete:
            tasks = self._scan()  # read to parsed.end first: what is appended later is read after it
        self.tasks, self._file, self._offset = tasks, file, parsed.end
        self.generation = parsed.generation
        self._loaded = True
        return _diff(before, tasks)

    def _tail(self) -> dict[str, tuple[TaskSummary | None, TaskSummary | None]]:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return self._reload()
        with fh:
            if _file_of(os.fstat(fh.fileno())) != self._file:
                return self._reload()
            fh.seek(self._offset)
            with _collector_paused():
                parsed = _parse_lines(fh, header=False)
        self.lines_read += parsed.lines
        self._offset += parsed.end
        if parsed.trouble is not None:
            before, self.tasks = self.tasks, self._scan()
            return _diff(before, self.tasks)
        changes = {}
        for task_id, old in _apply(parsed.records, self.tasks).items():
            new = self.tasks.get(task_id)
            if new is not old and new != old:
                changes[task_id] = (old, new)
        return changes

    def _scan(self) -> dict[str, TaskSummary]:
        self.rescans += 1
        tasks = scan_summaries(self.board)
        for summary in tasks.values():
            share(summary)  # built from states read here and dropped: nothing else holds their parts
        return tasks


def _diff(
    before: dict[str, TaskSummary], after: dict[str, TaskSummary]
) -> dict[str, tuple[TaskSummary | None, TaskSummary | None]]:
    changes: dict[str, tuple[TaskSummary | None, TaskSummary | None]] = {}
    for task_id, old in before.items():
        new = after.get(task_id)
        if new is not old and new != old:
            changes[task_id] = (old, new)
    for task_id, new in after.items():
        if task_id not in before:
            changes[task_id] = (None, new)
    return changes
