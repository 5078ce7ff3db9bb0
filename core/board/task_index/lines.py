"""The task index's line format: the header, a task's summary with its stamp, a removal; each written as
one line, and read back in order by :class:`JournalLines`."""

from __future__ import annotations

import re
import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.board.blackboard import Stamp, is_task_id
from cockpit.core.board.summary_pool import share
from cockpit.core.board.task_summary import TaskSummary

INDEX_FORMAT = 1


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


def header_line(complete: bool) -> bytes:
    """A new header's line, under a generation of its own."""
    header = IndexHeader(index=INDEX_FORMAT, generation=secrets.token_hex(8), complete=complete)
    return header.model_dump_json().encode() + b"\n"


def record_line(record: Record, stamp: Stamp | None = None) -> bytes:
    """One record's line; a summary's ends with the stamp of the state file it was made from, when known
    (``"stamp":[inode,mtime_ns,size]``, its last member: readers of summaries ignore it)."""
    if isinstance(record, Removal):  # "gone" first: the line says what it is at a glance
        return f'{{"gone":"{record.gone}","id":"{record.id}"}}\n'.encode()
    data = record.model_dump_json().encode()
    if stamp is not None:
        data = data[:-1] + b',"stamp":[%d,%d,%d]}' % stamp
    return data + b"\n"


# The stamp as record_line writes it: the line's last member. A summary's own text cannot hold these
# bytes (a quote inside a JSON string is escaped), so a match is the stamp or nothing.
_STAMP_RE = re.compile(rb',"stamp":\[([0-9]{1,20}),([0-9]{1,20}),([0-9]{1,20})\]\}\n?\Z')


def line_stamp(line: bytes | memoryview) -> Stamp | None:
    """The stamp a summary's line carries, None for a line written without one (before stamps were)."""
    match = _STAMP_RE.search(line, max(0, len(line) - 80))
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


class JournalLines:
    """The complete lines of a journal (or of its tail), fed in order, without their newlines: the
    header first when ``header``, then records. Counts the lines, keeps the header's generation and
    completeness, and the first trouble met (an invalid header or line).

    With ``trusted_only``, records are parsed only from a valid, complete journal: once there is trouble,
    or the header says it is not complete, lines are only counted (the caller rescans)."""

    def __init__(self, *, header: bool, trusted_only: bool = False) -> None:
        self.lines = 0
        self.generation: str | None = None
        self.complete = False
        self.trouble: str | None = None
        self._header_due = header
        self._trusted_only = trusted_only

    def record(self, line: bytes) -> Record | None:
        """The record ``line`` holds; None for the header, an invalid line (noted as trouble), and any
        line once a ``trusted_only`` journal cannot be trusted."""
        self.lines += 1
        if self._header_due:
            self._header_due = False
            try:
                head = IndexHeader.model_validate_json(line)
            except ValidationError:
                self.trouble = "the journal's header is not valid"
            else:
                self.generation, self.complete = head.generation, head.complete
            return None
        if self._trusted_only and (self.trouble is not None or not self.complete):
            return None
        try:
            return parse_record(line)
        except ValueError:
            self.trouble = self.trouble or "the journal holds an invalid (torn) line"
            return None

    def end(self) -> None:
        """The last line was fed: a journal whose header never came is trouble."""
        if self._header_due:
            self.trouble = "the journal has no header"
