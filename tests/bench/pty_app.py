"""Run a terminal program in a pseudo-terminal and watch what it draws, for the benchmarks that measure
the cockpit as a person sees it (``flood.py``, ``startup.py``).

:class:`PtyApp` spawns a command on a fresh pty of a given size (``TERM=xterm-256color``, the window
size set with ``TIOCSWINSZ`` and ``COLUMNS``/``LINES``), and a thread reads everything the program writes
as :class:`Chunk` objects stamped with their arrival time (``time.perf_counter``). The text of a chunk
is its output with escape sequences removed (decoded as one stream, so a sequence or a UTF-8 character
split across two reads is handled). :meth:`PtyApp.wait_for` finds when some text first appeared,
:meth:`PtyApp.send` types keys, :meth:`PtyApp.stats` reads CPU time and peak RSS from ``/proc``.
"""

from __future__ import annotations

import bisect
import codecs
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KEYS: dict[str, str] = {
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "escape": "\x1b",
    "enter": "\r",
}
"""xterm sequences of the named keys :meth:`PtyApp.send` accepts (anything else is sent as typed)."""

_ESCAPE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                     # CSI: cursor moves, colours, modes
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)          # OSC: window title, clipboard, hyperlinks
  | \x1b[P^_X][^\x1b]*\x1b\\                    # DCS, PM, APC, SOS
  | \x1b(?![\[\]P^_X])[ -/]*[0-~]              # two-byte (and charset) escapes
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAIL_CHARS = 512


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROLS.sub("", _ESCAPE.sub("", text))


@dataclass(slots=True)
class Chunk:
    """One read from the pty: arrival time, the bytes, and (once decoded) their text without escapes."""

    t: float
    data: bytes
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ProcStats:
    """CPU seconds (user + system, all threads) and peak resident memory of a process."""

    cpu_s: float
    peak_rss_kb: int
    rss_kb: int


def proc_stats(pid: int) -> ProcStats:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read().decode()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
    cpu_s = ticks / os.sysconf("SC_CLK_TCK")
    peak = rss = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return ProcStats(cpu_s, peak, rss)


def _take_terminal() -> None:
    """In the child, after ``setsid``: make the pty its controlling terminal, as a terminal emulator
    does, so closing our side sends it SIGHUP (a crashed bench leaves no app behind)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyApp:
    """A program running on a pty of ``cols`` x ``rows``, its output read by a thread."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: dict[str, str] | None = None,
        cols: int = 120,
        rows: int = 40,
    ) -> None:
        self.chunks: list[Chunk] = []
        self._decoded = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._carry = ""  # an escape sequence cut by the end of the last decoded chunk
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, **(env or {})}
        full_env.update(TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        full_env.pop("TEXTUAL", None)  # no devtools
        self.spawned_at = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env=full_env,
                start_new_session=True,
                preexec_fn=_take_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.pid = self.proc.pid
        self._fd = master
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=f"pty-reader-{self.pid}", daemon=True)
        self._reader.start()

    # ---------------------------------------------------------------------------------------- output

    def _read(self) -> None:
        chunks = self.chunks
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError:  # EIO: the program closed its side
                return
            if not data:
                return
            chunks.append(Chunk(time.perf_counter(), data))

    def decode(self) -> list[Chunk]:
        """Decode the chunks read so far (their ``text``); returns all chunks. Main thread only."""
        chunks = self.chunks
        end = len(chunks)
        for i in range(self._decoded, end):
            chunk = chunks[i]
            text = self._carry + self._decoder.decode(chunk.data)
            self._carry = ""
            cut = text.rfind("\x1b")
            if cut >= 0 and len(text) - cut < 4096 and _ESCAPE.match(text, cut) is None:
                self._carry, text = text[cut:], text[:cut]  # unfinished: complete it with the next read
            chunk.text = strip_ansi(text)
        self._decoded = end
        return chunks

    def wait_for(
        self,
        *texts: str,
        timeout: float = 10.0,
        since: float = 0.0,
        check: Callable[[str], bool] | None = None,
    ) -> Chunk:
        """The chunk by which every one of ``texts`` has appeared (and ``check`` has held for a chunk's
        text) in the output arriving from ``since`` on; raises ``TimeoutError`` naming what is missing.

        A chunk is tested with the end of the text before it, so a match cut by a read boundary counts.
        """
        deadline = time.perf_counter() + timeout
        wanted: dict[str, Callable[[str], bool]] = {text: (lambda s, n=text: n in s) for text in texts}
        if check is not None:
            wanted[getattr(check, "__name__", "check")] = check
        found: dict[str, int] = {}
        chunks = self.decode()
        pos = bisect.bisect_left(chunks, since, key=lambda c: c.t)
        tail = (chunks[pos - 1].text or "")[-_TAIL_CHARS:] if pos > 0 else ""
        while True:
            for i in range(pos, len(chunks)):
                text = chunks[i].text or ""
                window = tail + text
                for name, test in wanted.items():
                    if name not in found and test(window):
                        found[name] = i
                tail = window[-_TAIL_CHARS:]
            pos = len(chunks)
            if len(found) == len(wanted):
                return chunks[max(found.values(), default=len(chunks) - 1)]
            ended = self.proc.poll() is not None and not self._reader.is_alive()
            if ended or time.perf_counter() > deadline:
                missing = [name for name in wanted if name not in found]
                state = "timed out" if self.proc.poll() is None else f"exited {self.proc.returncode}"
                raise TimeoutError(f"{state} waiting for {missing!r}; last output: {self.screen_tail()!r}")
            time.sleep(0.002)
            chunks = self.decode()

    def screen_tail(self, chars: int = 400) -> str:
        """The last ``chars`` characters of output text (for error messages)."""
        return "".join(c.text or "" for c in self.decode()[-40:])[-chars:]

    # ----------------------------------------------------------------------------------------- input

    def send(self, *keys: str) -> float:
        """Type ``keys`` (names from :data:`KEYS`, or literal text) in one write; returns the time of
        the write."""
        data = "".join(KEYS.get(key, key) for key in keys).encode()
        t = time.perf_counter()
        os.write(self._fd, data)
        return t

    # ------------------------------------------------------------------------------------- lifecycle

    def stats(self) -> ProcStats:
        return proc_stats(self.pid)

    def close(self, quit_keys: Sequence[str] = ("q",), timeout: float = 5.0) -> int:
        """End the program: ``quit_keys``, then SIGTERM, then SIGKILL; returns its exit status."""
        if self.proc.poll() is None and quit_keys:
            try:
                self.send(*quit_keys)
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(timeout)
        if not self._closed:
            self._closed = True
            os.close(self._fd)  # a grandchild still on the pty gets SIGHUP
        return self.proc.returncode

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cockpit_argv(*args: str) -> list[str]:
    """The installed ``cockpit`` console script of the running interpreter's environment."""
    return [str(Path(sys.executable).parent / "cockpit"), *args]
