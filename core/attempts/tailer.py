"""Incremental, partial-line-safe reading of an attempt's ``events.jsonl`` into typed events.

:class:`EventTailer` remembers its byte offset and reads only what was appended since the last call, in
bounded chunks. A line is parsed once its newline has arrived; the unterminated tail stays buffered.
Lines that are not events (noise, invalid UTF-8, over-long lines) are counted and skipped, never raised,
and an over-long line is skipped without ever being held in memory whole.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Final

from cockpit.core.codex.exec_events import CodexEvent, EventParseError, parse_event_batch, parse_event_line
from cockpit.core.collector import collector_paused
from cockpit.core.follow import CHUNK_BYTES, GrowingFile, Restart

__all__ = ["EventTailer"]

BULK_BYTES: Final = 4 * CHUNK_BYTES  # reads at least this large pause the cyclic collector
MAX_ERRORS_KEPT: Final = 20


def _bulk(waiting: int) -> AbstractContextManager[object]:
    """What wraps a read of ``waiting`` bytes: a paused collector for bulk reads, else nothing."""
    return collector_paused(age=True) if waiting >= BULK_BYTES else nullcontext()


class EventTailer:
    """Follows one JSONL file that a Codex process appends to.

    Counters: ``lines`` (complete non-blank lines seen), ``events`` (lines that became events),
    ``parse_errors`` (lines skipped), ``truncations`` (times the file shrank or was replaced and reading
    restarted at 0), ``offset`` (bytes consumed from the file, including a buffered partial line) and
    ``errors`` (the reasons of the last few skipped lines). The file position, its identity and the
    partial line are a :class:`~cockpit.core.follow.GrowingFile`'s.
    """

    def __init__(self, path: Path, max_line_bytes: int = 10 * 1024 * 1024) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.lines = 0
        self.events = 0
        self.parse_errors = 0
        self.truncations = 0
        self._errors: deque[str] = deque(maxlen=MAX_ERRORS_KEPT)
        self._file = GrowingFile(
            self.path,
            max_line_bytes=max_line_bytes,
            chunk_bytes=CHUNK_BYTES,
            on_restart=self._restarted,
            on_long_line=self._long_line,
        )

    @property
    def offset(self) -> int:
        """Bytes consumed from the file, including a buffered partial line."""
        return self._file.offset

    @property
    def errors(self) -> list[str]:
        """Reasons for the most recently skipped lines (bounded, oldest first)."""
        return list(self._errors)

    @property
    def pending_bytes(self) -> int:
        """Length of the buffered, not yet terminated last line."""
        return self._file.pending_bytes

    # ------------------------------------------------------------------------------------------ reading

    def read_new(self) -> list[CodexEvent]:
        """Parse every complete line appended since the previous call. Never raises for bad content."""
        out: list[CodexEvent] = []
        for lines in self._file.read_batches(around=_bulk):
            self._parse_lines(lines, out)
        return out

    def flush(self) -> list[CodexEvent]:
        """Treat a buffered unterminated last line as complete (call once the writer has exited)."""
        out: list[CodexEvent] = []
        line = self._file.flush()
        if line is not None:
            self._parse_lines([line], out)
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

    def _restarted(self, reason: Restart) -> None:
        self.truncations += 1
        self._errors.append(str(reason))

    def _long_line(self) -> None:
        self.lines += 1
        self._skip_line(f"line longer than {self.max_line_bytes} bytes skipped")

    def _skip_line(self, reason: str) -> None:
        self.parse_errors += 1
        self._errors.append(reason)

    def _parse_lines(self, lines: list[bytes], out: list[CodexEvent]) -> None:
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
            try:
                append(parse_event_line(line))
            except EventParseError as exc:
                if line.isspace() or not line:
                    blank += 1  # blank lines are ignored, not counted
                else:
                    self._skip_line(exc.reason)
        self.lines += len(lines) - blank
        self.events += len(out) - before
