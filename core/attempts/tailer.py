"""Incremental, partial-line-safe reading of an attempt's ``events.jsonl`` into typed events.

:class:`EventTailer` remembers its byte offset and reads only what was appended since the last call, in
bounded chunks. A line is parsed once its newline has arrived; the unterminated tail stays buffered.
Lines that are not events (noise, invalid UTF-8, over-long lines) are counted and skipped, never raised,
and an over-long line is skipped without ever being held in memory whole.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Final

from cockpit.core.codex.exec_events import CodexEvent, EventParseError, parse_event_batch, parse_event_line

__all__ = ["EventTailer"]

CHUNK_BYTES: Final = 1024 * 1024
BULK_BYTES: Final = 4 * CHUNK_BYTES  # reads at least this large pause the cyclic collector
MAX_ERRORS_KEPT: Final = 20
_NL: Final = b"\n"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while a bulk batch of events is built, then file it as old objects.

    Events are acyclic trees freed by reference counting. Left to the collector, a batch of hundreds of
    thousands of events is scanned again and again while it grows (costing more than the parsing), and
    once more when it leaves the young generation. With the collector paused, the batch is afterwards
    moved to the oldest generation in O(1) (freeze + unfreeze, skipped when someone else holds frozen
    objects), so no young collection walks it. Only used for bulk reads (catching up on a long file), so
    a process polling small increments keeps the collector's normal rhythm.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


class EventTailer:
    """Follows one JSONL file that a Codex process appends to.

    Counters: ``lines`` (complete non-blank lines seen), ``events`` (lines that became events),
    ``parse_errors`` (lines skipped), ``truncations`` (times the file shrank or was replaced and reading
    restarted at 0), ``offset`` (bytes consumed from the file, including a buffered partial line) and
    ``errors`` (the reasons of the last few skipped lines).
    """

    def __init__(self, path: Path, max_line_bytes: int = 10 * 1024 * 1024) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.offset = 0
        self.lines = 0
        self.events = 0
        self.parse_errors = 0
        self.truncations = 0
        self._errors: deque[str] = deque(maxlen=MAX_ERRORS_KEPT)
        self._pending: list[bytes] = []  # pieces of the unterminated last line (joined once it ends)
        self._pending_len = 0
        self._skipping = False  # inside an over-long line: drop bytes until the next newline
        self._identity: tuple[int, int] | None = None

    @property
    def errors(self) -> list[str]:
        """Reasons for the most recently skipped lines (bounded, oldest first)."""
        return list(self._errors)

    @property
    def pending_bytes(self) -> int:
        """Length of the buffered, not yet terminated last line."""
        return self._pending_len

    # ------------------------------------------------------------------------------------------ reading

    def read_new(self) -> list[CodexEvent]:
        """Parse every complete line appended since the previous call. Never raises for bad content."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return []
        out: list[CodexEvent] = []
        with fh:
            st = os.fstat(fh.fileno())
            identity = (st.st_dev, st.st_ino)
            replaced = self._identity is not None and identity != self._identity
            if replaced and (self.offset or self._pending_len):
                self._restart(f"file replaced at offset {self.offset}")
            elif st.st_size < self.offset:
                self._restart(f"file truncated from {self.offset} to {st.st_size} bytes")
            self._identity = identity
            if st.st_size == self.offset:
                return out
            fh.seek(self.offset)
            with _gc_paused() if st.st_size - self.offset >= BULK_BYTES else nullcontext():
                while chunk := fh.read(CHUNK_BYTES):
                    self.offset += len(chunk)
                    self._feed(chunk, out)
        return out

    def flush(self) -> list[CodexEvent]:
        """Treat a buffered unterminated last line as complete (call once the writer has exited)."""
        out: list[CodexEvent] = []
        if self._pending and not self._skipping:
            self._parse_lines([b"".join(self._pending)], out)
        self._clear_pending()
        self._skipping = False
        return out

    async def follow(
        self, poll_interval: float = 0.1, stop: Callable[[], bool] | None = None
    ) -> AsyncIterator[CodexEvent]:
        """Yield events as they are appended, polling every ``poll_interval`` seconds.

        Ends once ``stop()`` returns true and a final read finds nothing more; a last line left without
        its newline is then parsed as well. Without ``stop`` it runs until cancelled.
        """
        while True:
            batch = self.read_new()
            for event in batch:
                yield event
            if batch:
                continue
            if stop is not None and stop():
                for event in self.read_new():
                    yield event
                for event in self.flush():
                    yield event
                return
            await asyncio.sleep(poll_interval)

    # ----------------------------------------------------------------------------------------- internals

    def _restart(self, reason: str) -> None:
        self.truncations += 1
        self._note(reason)
        self.offset = 0
        self._clear_pending()
        self._skipping = False

    def _clear_pending(self) -> None:
        self._pending = []
        self._pending_len = 0

    def _note(self, reason: str) -> None:
        self._errors.append(reason)

    def _skip_line(self, reason: str) -> None:
        self.parse_errors += 1
        self._note(reason)

    def _feed(self, chunk: bytes, out: list[CodexEvent]) -> None:
        if self._skipping:
            nl = chunk.find(_NL)
            if nl < 0:
                return
            self._skipping = False
            chunk = chunk[nl + 1 :]
        if self._pending:
            nl = chunk.find(_NL)
            if nl < 0:
                self._hold(chunk)
                return
            self._pending.append(chunk[:nl])
            head = b"".join(self._pending)
            self._clear_pending()
            self._parse_lines([head], out)
            chunk = chunk[nl + 1 :]
        lines = chunk.split(_NL)
        tail = lines.pop()
        if lines:
            self._parse_lines(lines, out)
        if tail:
            self._hold(tail)

    def _hold(self, piece: bytes) -> None:
        """Buffer part of an unterminated line, or start skipping it once it is over the limit."""
        self._pending.append(piece)
        self._pending_len += len(piece)
        if self._pending_len > self.max_line_bytes:
            self._skip_line(f"line longer than {self.max_line_bytes} bytes skipped")
            self.lines += 1
            self._clear_pending()
            self._skipping = True

    def _parse_lines(self, lines: list[bytes], out: list[CodexEvent]) -> None:
        limit = self.max_line_bytes
        if max(map(len, lines)) <= limit:
            batch = parse_event_batch(lines)
            if batch is not None:  # the common case: every line is an event
                out.extend(batch)
                self.lines += len(batch)
                self.events += len(batch)
                return
        append = out.append
        before = len(out)
        blank = 0
        for line in lines:
            if len(line) > limit:
                self._skip_line(f"line longer than {limit} bytes skipped")
                continue
            try:
                append(parse_event_line(line))
            except EventParseError as exc:
                if line.isspace() or not line:
                    blank += 1  # blank lines are ignored, not counted
                else:
                    self._skip_line(exc.reason)
        self.lines += len(lines) - blank
        self.events += len(out) - before
