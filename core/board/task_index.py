"""The task index: ``task-index.jsonl`` in the board, an append-only journal of task summaries that lets
every list of tasks follow the board without opening, or even stat-ing, each task's ``state.json``.

**Format.** One JSON object per line. The first line is a header, ``{"index": 1, "generation": "<hex>",
"complete": true}``; every other line is a task's whole :class:`~cockpit.core.board.task_summary.TaskSummary`
(an upsert: the last line for an id wins) or a removal, ``{"gone": "archived", "id": "<id>"}``. A
*complete* journal (written by a rebuild) names every live task; one that an append had to create
(the file was missing) is not complete: it holds only what was appended since.

**Writing.** :meth:`Blackboard.write_state` replaces ``state.json`` atomically and then appends the task's
summary; :meth:`Blackboard.forget_task` appends a removal once the task's directory left ``tasks/``. An
append is one ``write`` on an ``O_APPEND`` descriptor under an exclusive ``flock`` of the journal; with
the lock taken, the writer checks that the path still names the file it locked (a rebuild may have
replaced it meanwhile) and opens it again if not. A journal that does not end in a newline (a line torn
by a crash) gets one first, so a record is never glued onto the fragment, which stays behind as one
invalid line. An append that fails (a full disk) removes the journal and never fails the state write:
the state file is the truth, and without a journal every reader rescans.

**Rebuilding.** A new board starts with an empty, complete journal (``Blackboard.init``). After that
only the holder of the board's supervisor lock rebuilds (a command without it never does). The
supervisor rebuilds at start-up from the state files it has just read (a task whose directory vanished
is not among them), and compacts when the journal grew past twice the live tasks plus
:data:`COMPACT_SLACK` lines, held a torn line, or had to be created by an append. A rebuild writes a new
file with a new generation under the journal's ``flock`` and renames it over the old one. Nothing here
is fsynced: the journal is derived, and one a power cut left short or torn is either behind (repaired
by the next start-up) or not to be trusted (readers rescan).

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
  task is written again or the next supervisor starts, whose rebuild reads the state files.
- in the middle of the append: readers leave a last line without a newline alone; the next append
  closes it, readers then meet an invalid line and rescan, and the supervisor compacts it away.
- during a rebuild: the old journal stays whole until the rename (a leftover temp file is ignored),
  and appends wait on the lock and go to the new file; readers see a new file and load it.
- a scan misses nothing written while it runs: whatever a writer changes after the reader's offset
  is appended after that offset, and the reader follows from there once the scan is done.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import io
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.atomic import atomic_write_bytes, private_opener
from cockpit.core.board.blackboard import Blackboard, is_task_id
from cockpit.core.board.summary_pool import share
from cockpit.core.board.task_summary import TaskSummary

TASK_INDEX_FILE = "task-index.jsonl"
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


def _record_line(record: Record) -> bytes:
    if isinstance(record, Removal):  # "gone" first: the line says what it is at a glance
        return f'{{"gone":"{record.gone}","id":"{record.id}"}}\n'.encode()
    return record.model_dump_json().encode() + b"\n"


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


def scan_summaries(board: Blackboard) -> dict[str, TaskSummary]:
    """Every live task's summary, read from its ``state.json`` (files that fail to parse are quarantined
    by the board and left out): the fallback that misses nothing, and what a rebuild starts from."""
    out: dict[str, TaskSummary] = {}
    for task_id in board.task_ids():
        state = board.read_state(task_id)
        if state is not None:
            out[task_id] = TaskSummary.of(state)
    return out


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
    def record(self, summary: TaskSummary) -> None:
        """Append a task's summary (after its state file was written)."""
        self._append(_record_line(summary))

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
        summaries: Iterable[TaskSummary],
        *,
        since: Mark | None = None,
        scan: Callable[[], dict[str, TaskSummary]] | None = None,
    ) -> None:
        """Write a complete journal naming ``summaries`` (read from the state files after ``since`` was
        taken) updated by whatever was appended after ``since``. When that part cannot be trusted (an
        invalid line, or a file some other rebuild wrote), ``scan()`` is used instead, if given."""
        tasks = {s.id: s for s in summaries}
        with self._locked() as fd:
            st = os.fstat(fd)
            if since is not None and st.st_size:
                same = since.file == _file_of(st) and st.st_size >= since.size
                start = since.size if same else 0
                parsed = _parse(os.pread(fd, st.st_size - start, start), header=not same)
                if parsed.trouble is None and (same or not parsed.complete):
                    _apply(parsed.records, tasks)
                elif scan is not None:
                    tasks = scan()
            self._write(tasks)

    def compact(self, scan: Callable[[], dict[str, TaskSummary]]) -> None:
        """Rewrite the journal with one line per live task: from the journal itself when it is complete
        and every line is valid, else from ``scan()`` (the state files). Done under the lock, so no
        append is lost."""
        with self._locked() as fd:
            parsed = _parse(os.pread(fd, os.fstat(fd).st_size, 0), header=True)
            if parsed.trouble is None and parsed.complete:
                tasks: dict[str, TaskSummary] = {}
                _apply(parsed.records, tasks)
            else:
                tasks = scan()
            self._write(tasks)

    def _write(self, tasks: dict[str, TaskSummary]) -> None:
        ordered = sorted(tasks.values(), key=lambda s: (s.created_at, s.id))
        data = _header_line(complete=True) + b"".join(_record_line(s) for s in ordered)
        # Not fsynced: the journal is derived from the state files, and one a power cut left empty or
        # torn reads as not to be trusted (readers rescan) until the next start-up rebuilds it.
        atomic_write_bytes(self.path, data, durable=False)
        self._file = _file_of(os.stat(self.path))
        self._lines = 1 + len(ordered)
        self._trouble = None

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
