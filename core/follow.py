"""One cursor over a file that another process appends to: where reading stopped, which file that was,
and the line not yet ended.

:class:`GrowingFile` is what every follower of a growing file uses (the event tailer, the token ledger,
the rollout watcher, the line index), so that they all agree on four things:

* **offset**: reads start where the previous one stopped and go on in bounded chunks, never the whole
  remainder in one buffer;
* **identity**: a path that now names another file (``(st_dev, st_ino)`` changed, e.g. an atomic
  replace) restarts the cursor at byte 0, and so does a file shorter than what was read (truncated);
  with ``verify_bytes`` a file rewritten in place is noticed too, by the tail of the last line read no
  longer being where it was;
* **partial line**: a line is delivered once its newline has arrived. The unterminated tail is either
  held in memory (``hold_partial``, offset past it) or left on disk to be read again (offset at the end
  of the last complete line); :meth:`GrowingFile.flush` hands it over once its writer has exited;
* **over-long lines**: with ``max_line_bytes`` a longer line is skipped (counted, ``on_long_line``
  called in file order) without ever being held whole.

It only reads bytes and splits lines; what a line means is the caller's business. A restart is
reported (:class:`Restart`, ``on_restart``) before any line of the new file is delivered, so a caller can
forget what it built from the old one.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal

__all__ = ["CHUNK_BYTES", "GrowingFile", "Restart"]

CHUNK_BYTES: Final = 1024 * 1024
"""Bytes read per call by default: large enough that per-chunk costs are noise, small enough that a
reader catching up on a huge file never holds much more than one chunk of it."""
_NL: Final = b"\n"

RestartKind = Literal["replaced", "truncated", "rewritten", "removed"]


@dataclass(frozen=True, slots=True)
class Restart:
    """Why a cursor started again from byte 0, where it was then, and the file's size when noticed."""

    kind: RestartKind
    offset: int
    size: int

    def __str__(self) -> str:
        if self.kind == "replaced":
            return f"file replaced at offset {self.offset}"
        if self.kind == "truncated":
            return f"file truncated from {self.offset} to {self.size} bytes"
        if self.kind == "rewritten":
            return f"file rewritten before offset {self.offset}"
        return f"file removed at offset {self.offset}"


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class GrowingFile:
    """A read position in one file that grows at its end.

    ``offset`` is the byte where the next read starts (with ``hold_partial``, past the held partial
    line). ``restarts`` counts the times the file was found replaced or truncated (or rewritten, or
    removed, when the caller says so) and reading went back to byte 0; ``last_restart`` says why.
    ``long_lines`` counts the lines skipped for being longer than ``max_line_bytes``; ``bytes_read``
    the bytes read in chunks; ``missing`` is true when the last read found no file.

    By default the file is opened for each read and closed again. With ``keep_open`` one descriptor
    stays open on the file followed (for :meth:`pread` random access) until :meth:`close`; a path that
    names another file, or a shorter one, is reopened.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        start: int = 0,
        max_line_bytes: int | None = None,
        hold_partial: bool = True,
        verify_bytes: int = 0,
        keep_open: bool = False,
        chunk_bytes: int = CHUNK_BYTES,
        on_restart: Callable[[Restart], object] | None = None,
        on_long_line: Callable[[], object] | None = None,
    ) -> None:
        if start < 0:
            raise ValueError("start must be >= 0")
        if max_line_bytes is not None and max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        if chunk_bytes < 1 or verify_bytes < 0:
            raise ValueError("chunk_bytes must be positive and verify_bytes >= 0")
        if verify_bytes and keep_open:
            raise ValueError("verify_bytes needs a file opened per read (keep_open=False)")
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.hold_partial = hold_partial
        self.verify_bytes = verify_bytes
        self.keep_open = keep_open
        self.chunk_bytes = chunk_bytes
        self.on_restart = on_restart
        self.on_long_line = on_long_line
        self.offset = start
        self.restarts = 0
        self.last_restart: Restart | None = None
        self.long_lines = 0
        self.bytes_read = 0
        self.missing = False
        self._identity: tuple[int, int] | None = None
        self._pending: list[bytes] = []  # pieces of the unterminated last line (joined once it ends)
        self._pending_len = 0
        self._skipping = False  # inside an over-long line: drop bytes until the next newline
        self._check = b""  # the tail of the last complete line read (verify_bytes)
        self._check_end = 0  # the offset just past it
        self._fd: int | None = None
        self._closer: weakref.finalize[[int], None] | None = None

    def __repr__(self) -> str:
        return f"GrowingFile({str(self.path)!r}, offset={self.offset}, restarts={self.restarts})"

    # ------------------------------------------------------------------------------------------- state

    @property
    def pending_bytes(self) -> int:
        """Length of the held, not yet terminated last line."""
        return self._pending_len

    @property
    def is_open(self) -> bool:
        """A descriptor is held (``keep_open`` only)."""
        return self._fd is not None

    def check(self, st: os.stat_result) -> Restart | None:
        """What a ``stat`` of the path says about the position: replaced, truncated, or ``None`` (fine).

        A path that names another file is only a restart when something of the old one was read.
        """
        if self._identity is not None and self.offset and _identity(st) != self._identity:
            return Restart("replaced", self.offset, st.st_size)
        if st.st_size < self.offset:
            return Restart("truncated", self.offset, st.st_size)
        return None

    def backlog(self) -> int:
        """Bytes on disk not read yet (one ``stat``): the whole size when the file was replaced or
        truncated (the next read restarts); 0 when the file is missing."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        if self.check(st) is not None:
            return st.st_size
        return max(0, st.st_size - self.offset)

    def restart(self, reason: Restart) -> None:
        """Go back to byte 0 and forget the partial line (``on_restart`` is told why)."""
        self.restarts += 1
        self.last_restart = reason
        self.offset = 0
        self._identity = None
        self._clear_pending()
        self._skipping = False
        self._check = b""
        self._check_end = 0
        if self.on_restart is not None:
            self.on_restart(reason)

    def take_over(self, st: os.stat_result, start: int, data: bytes) -> tuple[bytes | None, list[bytes]]:
        """Go on from a read the caller made itself: ``data`` is the file (``st``) from ``start`` to its end.

        For a caller that reads only the tail of a file first (then backwards from there when it must).
        Returns ``(head, lines)``: the complete lines of ``data``, and when ``start`` falls inside the
        file the piece before its first newline (``head``: the end of a line begun earlier; ``None``
        when ``start`` is 0 or ``data`` holds no newline). What follows the last newline is held as the
        start of the next line; ``data`` without any newline after ``start > 0`` is inside a line begun
        earlier, which is skipped. No ``data`` at all: the next read starts a line at ``start``.
        """
        self._identity = _identity(st)
        self.offset = start + len(data)
        self._clear_pending()
        self._skipping = False
        self._check = b""
        nl = data.rfind(_NL)
        if nl < 0:
            if start > 0 and data:
                self._skipping = True
            elif data:
                self._hold(data)
            return None, []
        tail = data[nl + 1 :]
        if tail:
            self._hold(tail)
        lines = data[:nl].split(_NL)
        head = lines.pop(0) if start > 0 else None
        return head, lines

    # ------------------------------------------------------------------------------------------ reading

    def read_chunks(
        self,
        max_bytes: int | None = None,
        *,
        chunk_bytes: int | None = None,
        around: Callable[[int], AbstractContextManager[object]] | None = None,
    ) -> Iterator[tuple[int, bytes]]:
        """``(position, bytes)`` of what was appended since the last read, in chunks, at most ``max_bytes``.

        ``offset`` moves past each chunk as it is handed out (consume the iterator to the end). A
        replaced or truncated file restarts first. ``around(n)``, given the bytes known to be waiting,
        wraps the reading (e.g. to pause the garbage collector for a bulk read). Raw bytes: the line
        layer (:meth:`read_batches`) is not involved and nothing is held.
        """
        for chunk in self._chunks(max_bytes, chunk_bytes or self.chunk_bytes, around):
            yield self.offset - len(chunk), chunk

    def read_batches(
        self,
        max_bytes: int | None = None,
        *,
        around: Callable[[int], AbstractContextManager[object]] | None = None,
    ) -> Iterator[list[bytes]]:
        """The complete lines appended since the last read (without their newlines), a list per chunk.

        Over-long lines are left out (``on_long_line`` is called where they were, between the lists);
        blank lines are kept. Consume the iterator to the end.
        """
        try:
            for chunk in self._chunks(max_bytes, self.chunk_bytes, around):
                if self._skipping:
                    nl = chunk.find(_NL)
                    if nl < 0:
                        continue
                    self._skipping = False
                    chunk = chunk[nl + 1 :]
                if self._pending:
                    nl = chunk.find(_NL)
                    if nl < 0:
                        self._hold(chunk)
                        continue
                    self._pending.append(chunk[:nl])
                    head = b"".join(self._pending)
                    self._clear_pending()
                    lines = chunk[nl + 1 :].split(_NL)
                    lines.insert(0, head)
                else:
                    lines = chunk.split(_NL)
                tail = lines.pop()
                if lines:
                    if self.verify_bytes:
                        self._remember_check(lines[-1], self.offset - len(tail))
                    limit = self.max_line_bytes
                    if limit is None or max(map(len, lines)) <= limit:
                        yield lines
                    else:
                        yield from self._without_long(lines, limit)
                if tail:
                    self._hold(tail)
        finally:
            if not self.hold_partial and self._pending:
                # Leave the unterminated line on disk: the next read takes it again, whole.
                self.offset -= self._pending_len
                self._clear_pending()

    def read_lines(self, max_bytes: int | None = None) -> list[bytes]:
        """Every complete line appended since the last read, as :meth:`read_batches` gives them."""
        out: list[bytes] = []
        for batch in self.read_batches(max_bytes):
            out.extend(batch)
        return out

    def flush(self) -> bytes | None:
        """The held unterminated last line, as if it had ended (call once its writer has exited)."""
        line = b"".join(self._pending) if self._pending and not self._skipping else None
        self._clear_pending()
        self._skipping = False
        return line

    def pread(self, size: int, offset: int) -> bytes:
        """``size`` bytes at ``offset`` of the file followed (``keep_open``, after a read)."""
        if self._fd is None:
            raise ValueError(f"{self.path} is not open")
        return os.pread(self._fd, size, offset)

    def close(self) -> None:
        """Close a held descriptor (the next read opens the file again and checks it is the same)."""
        if self._closer is not None:
            self._closer()
            self._closer = None
        self._fd = None

    # ----------------------------------------------------------------------------------------- internals

    def _chunks(
        self,
        max_bytes: int | None,
        chunk_bytes: int,
        around: Callable[[int], AbstractContextManager[object]] | None,
    ) -> Iterator[bytes]:
        if self.keep_open:
            size = self._sync_descriptor()
            if size is None:
                return
            fd = self._fd
            assert fd is not None
            end = size if max_bytes is None else min(size, self.offset + max(1, max_bytes))
            if end <= self.offset:
                return
            with around(end - self.offset) if around is not None else nullcontext():
                while self.offset < end:
                    chunk = os.pread(fd, min(chunk_bytes, end - self.offset), self.offset)
                    if not chunk:
                        break
                    self.offset += len(chunk)
                    self.bytes_read += len(chunk)
                    yield chunk
            return
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            self.missing = True
            return
        self.missing = False
        with fh:
            st = os.fstat(fh.fileno())
            self._notice(st, fh)
            if st.st_size == self.offset:
                return
            left = None if max_bytes is None else max(1, max_bytes)
            fh.seek(self.offset)
            with around(st.st_size - self.offset) if around is not None else nullcontext():
                while left is None or left > 0:
                    chunk = fh.read(chunk_bytes if left is None else min(chunk_bytes, left))
                    if not chunk:
                        break
                    if left is not None:
                        left -= len(chunk)
                    self.offset += len(chunk)
                    self.bytes_read += len(chunk)
                    yield chunk

    def _notice(self, st: os.stat_result, fh: IO[bytes]) -> None:
        """Restart when the opened file is not the one read so far (or not as it was); adopt it."""
        reason = self.check(st)
        if reason is None and self._check and not self._still_there(fh):
            reason = Restart("rewritten", self.offset, st.st_size)
        if reason is not None:
            self.restart(reason)
        self._identity = _identity(st)

    def _still_there(self, fh: IO[bytes]) -> bool:
        fh.seek(self._check_end - len(self._check))
        return fh.read(len(self._check)) == self._check

    def _remember_check(self, last: bytes, end: int) -> None:
        keep = self.verify_bytes - 1
        self._check = (last[-keep:] if keep else b"") + _NL
        self._check_end = end

    def _sync_descriptor(self) -> int | None:
        """Open (or keep) a descriptor on the file at the path; restart when it is another or shorter.
        Returns its size, or ``None`` when there is no file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.missing = True
            return None
        self.missing = False
        if self._fd is not None and (_identity(st) != self._identity or st.st_size < self.offset):
            self.close()
        if self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                self.missing = True
                return None
            self._fd = fd
            self._closer = weakref.finalize(self, os.close, fd)
            st = os.fstat(fd)
            reason = self.check(st)
            if reason is not None:
                self.restart(reason)
            self._identity = _identity(st)
        size = os.fstat(self._fd).st_size
        if size < self.offset:  # shrank in place since the check above
            self.restart(Restart("truncated", self.offset, size))
            self._identity = _identity(st)
        return size

    def _without_long(self, lines: list[bytes], limit: int) -> Iterator[list[bytes]]:
        start = 0
        for i, line in enumerate(lines):
            if len(line) > limit:
                if i > start:
                    yield lines[start:i]
                self._long_line()
                start = i + 1
        if start < len(lines):
            yield lines[start:]

    def _hold(self, piece: bytes) -> None:
        """Hold part of an unterminated line, or start skipping it once it is over the limit."""
        self._pending.append(piece)
        self._pending_len += len(piece)
        if self.max_line_bytes is not None and self._pending_len > self.max_line_bytes:
            self._clear_pending()
            self._skipping = True
            self._long_line()

    def _long_line(self) -> None:
        self.long_lines += 1
        if self.on_long_line is not None:
            self.on_long_line()

    def _clear_pending(self) -> None:
        self._pending = []
        self._pending_len = 0
