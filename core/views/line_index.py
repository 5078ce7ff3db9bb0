"""A byte-offset index of the lines of a growing file, and bounded random access to its lines.

:class:`LineIndex` never holds the text: it keeps one unsigned 64-bit boundary per line (8 bytes a line)
and reads a line on demand with ``os.pread``. :meth:`LineIndex.extend` scans only the bytes appended
since the previous call, in large chunks; a last line without its newline is not counted until the
newline arrives, and a truncated or replaced file (shorter, or a new inode) restarts the index at 0.

An index may start at any line start (``start=``): :func:`tail_start` finds where the last few lines of
a file begin by reading backwards, so a viewer can show the end of a huge file while the full index is
built elsewhere. Lines longer than ``max_line_bytes`` are returned cut, with a marker saying how much was
left out; the full text stays on disk.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_right
from itertools import accumulate, islice
from pathlib import Path
from typing import Final

from cockpit.core.follow import GrowingFile, Restart

__all__ = ["CHUNK_BYTES", "CUT_MARKER", "LineIndex", "cut_marker", "tail_start"]

CHUNK_BYTES: Final = 512 * 1024
"""Bytes read per ``pread`` while scanning: large enough that the per-chunk cost is noise, small enough to
stay in the CPU cache while it is split (measured: 128-512 KiB chunks beat 4 MiB and 16 MiB ones)."""
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024
CUT_MARKER: Final = b" \xe2\x80\xa6"
"""Starts the marker appended to a cut line: `` …[+N bytes]``."""
_TAIL_STEP: Final = 64 * 1024
_NL: Final = b"\n"
_plus_one: Final = (1).__add__


def cut_marker(left_out: int) -> bytes:
    """The bytes appended to a line cut after ``max_line_bytes``; ``left_out`` bytes were not read."""
    return CUT_MARKER + b"[+%d bytes]" % left_out


def tail_start(path: Path | str, lines: int, *, max_bytes: int = 4 * 1024 * 1024) -> int:
    """Offset where the last ``lines`` complete lines of ``path`` begin (0 if the file has fewer).

    Reads backwards from the end in small steps; an unterminated last line is ignored. Stops early
    once ``max_bytes`` have been read and at least one complete line was found, so very long lines
    cost no more than ``max_bytes`` (the result then covers fewer lines). A missing file gives 0.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        pos = os.fstat(fd).st_size
        end = pos
        newlines_needed = lines + 1  # the last line's own newline, then one before each line
        last_start = -1  # start of the earliest complete line found so far
        seen_terminator = False
        while pos > 0:
            step = min(_TAIL_STEP, pos)
            pos -= step
            chunk = os.pread(fd, step, pos)
            hi = len(chunk)
            while True:
                nl = chunk.rfind(_NL, 0, hi)
                if nl < 0:
                    break
                hi = nl
                if not seen_terminator:
                    seen_terminator = True
                else:
                    last_start = pos + nl + 1
                newlines_needed -= 1
                if newlines_needed == 0:
                    return last_start
            if last_start >= 0 and end - pos >= max_bytes:
                return last_start
        return 0
    finally:
        os.close(fd)


class LineIndex:
    """Newline offsets of one file (from byte ``start`` on), extended incrementally.

    ``line_count`` counts complete lines; line ``i`` is ``[bounds[i], bounds[i + 1] - 1)``, without its
    newline. ``generation`` goes up each time the file was found truncated or replaced and the index
    restarted at byte 0 (line numbers from before mean nothing after). Keeps one file descriptor open
    (on the inode it indexed) until :meth:`close`.
    """

    def __init__(
        self, path: Path | str, *, start: int = 0, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    ) -> None:
        if start < 0:
            raise ValueError("start must be >= 0")
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.generation = 0
        self._start = start
        self._bounds = array("Q", [start])
        # Its offset is the byte up to which the file was scanned, including an unterminated last line.
        self._file = GrowingFile(self.path, start=start, keep_open=True, on_restart=self._restart)

    # ----------------------------------------------------------------------------------------- state

    @property
    def start(self) -> int:
        """Byte offset of line 0 (0 unless built from a tail offset and never restarted)."""
        return self._start

    @property
    def line_count(self) -> int:
        return len(self._bounds) - 1

    @property
    def indexed_end(self) -> int:
        """Offset just past the last complete line (where the unterminated line, if any, starts)."""
        return self._bounds[-1]

    @property
    def scanned(self) -> int:
        """Offset up to which the file was scanned (includes an unterminated last line)."""
        return self._file.offset

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __repr__(self) -> str:
        return f"LineIndex({str(self.path)!r}, lines={self.line_count}, scanned={self.scanned})"

    # ---------------------------------------------------------------------------------------- growing

    def backlog(self) -> int:
        """Bytes on disk not yet scanned (one ``stat``); the whole size when the file was truncated or
        replaced (the next :meth:`extend` restarts); 0 when the file is missing."""
        return self._file.backlog()

    def extend(self, max_bytes: int | None = None) -> int:
        """Scan what was appended since the last call (at most ``max_bytes``); returns new complete lines.

        A truncated or replaced file restarts the index at byte 0 (``generation`` goes up) and the
        count returned is then the number of lines of the new file scanned so far. A missing file is
        not an error: nothing changes.
        """
        added = 0
        for pos, chunk in self._file.read_chunks(max_bytes, chunk_bytes=CHUNK_BYTES):
            pieces = chunk.split(_NL)
            pieces.pop()  # bytes after the chunk's last newline: the start of a line not yet ended
            if pieces:
                # Each piece ends at a newline; the line after it starts one byte further on. The first
                # piece may continue a line begun in an earlier chunk: ``pos`` is where that piece starts.
                self._bounds.extend(
                    islice(accumulate(map(_plus_one, map(len, pieces)), initial=pos), 1, None)
                )
                added += len(pieces)
        return added

    def _restart(self, _reason: Restart) -> None:
        self.generation += 1
        self._start = 0
        self._bounds = array("Q", [0])

    def close(self) -> None:
        """Close the file descriptor (reads reopen nothing: call :meth:`extend` to resume)."""
        self._file.close()

    def __enter__(self) -> LineIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------- reading

    def line_span(self, i: int) -> tuple[int, int]:
        """``(start, end)`` byte offsets of line ``i`` (negative counts from the end), newline excluded."""
        n = len(self._bounds) - 1
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"line {i} out of range (0..{n - 1})")
        return self._bounds[i], self._bounds[i + 1] - 1

    def line_start(self, i: int) -> int:
        """Byte offset where line ``i`` starts (stable across appends: a good cache key)."""
        return self.line_span(i)[0]

    def line_length(self, i: int) -> int:
        """Length of line ``i`` in bytes, newline excluded."""
        start, end = self.line_span(i)
        return end - start

    def line_at(self, offset: int) -> int:
        """The line containing byte ``offset`` (clamped to the indexed lines)."""
        n = len(self._bounds) - 1
        return min(max(bisect_right(self._bounds, offset) - 1, 0), max(n - 1, 0))

    def read_line(self, i: int, max_bytes: int | None = None) -> bytes:
        """Line ``i`` without its newline; over ``max_bytes`` (default ``max_line_bytes``) it is cut and
        ends with :func:`cut_marker`. Raises ``IndexError`` outside ``0..line_count - 1``."""
        start, end = self.line_span(i)
        return self._read(start, end, self.max_line_bytes if max_bytes is None else max_bytes)

    def read_lines(self, start: int, stop: int, max_bytes: int | None = None) -> list[bytes]:
        """Lines ``start`` to ``stop - 1`` (clamped to the index), each as :meth:`read_line` returns it.

        Neighbouring short lines are fetched with one ``pread``.
        """
        n = len(self._bounds) - 1
        start, stop = max(0, start), min(stop, n)
        if start >= stop:
            return []
        limit = self.max_line_bytes if max_bytes is None else max_bytes
        bounds = self._bounds
        lo, hi = bounds[start], bounds[stop]
        if hi - lo > max(limit, CHUNK_BYTES):  # a long stretch: line by line keeps reads bounded
            return [self._read(bounds[i], bounds[i + 1] - 1, limit) for i in range(start, stop)]
        block = self._pread(hi - lo, lo)
        out = []
        for i in range(start, stop):
            a, b = bounds[i] - lo, bounds[i + 1] - 1 - lo
            out.append(block[a:b] if b - a <= limit else block[a : a + limit] + cut_marker(b - a - limit))
        return out

    def _read(self, start: int, end: int, limit: int) -> bytes:
        length = end - start
        if length <= limit:
            return self._pread(length, start)
        return self._pread(limit, start) + cut_marker(length - limit)

    def _pread(self, size: int, offset: int) -> bytes:
        if size <= 0:
            return b""
        if not self._file.is_open:
            raise ValueError("the index is closed (call extend() first)")
        return self._file.pread(size, offset)
