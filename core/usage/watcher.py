"""Following Codex's credit windows as they change: :class:`RolloutWatcher`, one per process.

It follows the rollouts of one or more ``CODEX_HOME`` directories incrementally (a
:class:`~cockpit.core.follow.GrowingFile` per file, tail-only first reads, throttled directory rescans)
and keeps the latest snapshot by line timestamp. Given the board's ``rate-limits.json`` (``live_file``),
it also takes the snapshots mcp-lane turns reported live (:mod:`cockpit.core.usage.live`), newest wins,
with a window left null keeping its known value. The supervisor reports usage-limit failures to it with
:meth:`RolloutWatcher.record_usage_limit`, which holds the gauge at "blocked" until the window resets or
a newer rollout snapshot arrives with its own numbers. :func:`shared_watcher` hands every part of a
process the same one.
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from cockpit.core.codex.app_server.protocol import DEFAULT_LIMIT_ID, limit_key
from cockpit.core.follow import GrowingFile
from cockpit.core.usage.live import LIVE_RATE_LIMITS_FILE, read_live
from cockpit.core.usage.rollouts import (
    _keep_known,
    _rate_limits_of,
    _slot_minutes,
    codex_homes_of,
    parse_rate_limits,
)
from cockpit.core.usage.windows import FAILURE_SOURCE, UNKNOWN_RESET_HOLD_S, UsageWindows, Window

LIVE_SOURCE: Final = "app-server"

TAIL_BYTES: Final = 256 * 1024  # first read of a file: only its last bytes
MAX_BACKSCAN_BYTES: Final = 4 * 1024 * 1024  # how far back a first read may look for a snapshot
READ_CHUNK: Final = 1024 * 1024
MAX_LINE_BYTES: Final = 32 * 1024 * 1024
RESCAN_INTERVAL_S: Final = 5.0
HOT_FILE_S: Final = 60.0  # files that grew this recently are polled on every refresh
MTIME_SLACK_S: Final = 2.0
RESET_MATCH_S: Final = 120.0  # a failure's reset time this close to a window's names that window

_NL: Final = b"\n"

State = Literal["ok", "unknown", "blocked"]


# ---------------------------------------------------------------------------------------------------
# Watcher
# ---------------------------------------------------------------------------------------------------


@dataclass
class _DirEntry:
    mtime_ns: int
    subdirs: list[Path]
    files: list[Path]


@dataclass
class _Tracked:
    file: GrowingFile  # the read position, the file's identity and its partial last line
    mtime_ns: int = 0
    seen: bool = False  # first read done
    changed_at: float = -math.inf  # watcher clock when the file last grew

    @property
    def path(self) -> Path:
        return self.file.path


@dataclass
class _Failure:
    at: float
    limit: str
    minutes: int | None
    resets_at: float | None
    hold_until: float


def _is_rollout(name: str) -> bool:
    return name.startswith("rollout-") and name.endswith(".jsonl")


def _is_jsonl(name: str) -> bool:
    return name.endswith(".jsonl")


class RolloutWatcher:
    """Follows every rollout of the given ``CODEX_HOME`` directories and keeps the latest rate limits.

    Reading is incremental: each file keeps an offset and a partial-line buffer, and a refresh reads only
    the bytes appended to files whose size or mtime changed. A file seen for the first time is read from
    its last ``tail_bytes`` (further back only if that holds no snapshot), or not at all when its mtime
    proves it cannot hold anything newer than what is known. Directories are rescanned at most every
    ``rescan_interval`` seconds and only re-listed when their mtime changed; between rescans only files
    that grew in the last minute are polled. Snapshots are kept per ``limit_id``; the gauge shows
    ``codex`` (Codex's default limit) when it has been seen. Thread-safe.
    """

    def __init__(
        self,
        codex_homes: Sequence[Path],
        clock: Callable[[], float] = time.time,
        *,
        rescan_interval: float = RESCAN_INTERVAL_S,
        tail_bytes: int = TAIL_BYTES,
        max_backscan_bytes: int = MAX_BACKSCAN_BYTES,
        unknown_reset_hold: float = UNKNOWN_RESET_HOLD_S,
        max_line_bytes: int = MAX_LINE_BYTES,
        live_file: Path | None = None,
    ) -> None:
        if tail_bytes < 1 or max_line_bytes < 1:
            raise ValueError("tail_bytes and max_line_bytes must be positive")
        self.homes = list(dict.fromkeys(Path(h) for h in codex_homes))
        self._clock = clock
        self.rescan_interval = rescan_interval
        self.tail_bytes = tail_bytes
        self.max_backscan_bytes = max(max_backscan_bytes, tail_bytes)
        self.unknown_reset_hold = unknown_reset_hold
        self.max_line_bytes = max_line_bytes
        self._lock = threading.RLock()
        self._files: dict[Path, _Tracked] = {}
        self._dirs: dict[Path, _DirEntry] = {}
        self._rollout: dict[str, UsageWindows] = {}  # newest rollout snapshot per limit
        self._live: dict[str, UsageWindows] = {}  # newest app-server snapshot per limit (live file)
        self._latest: dict[str, UsageWindows] = {}  # what the gauge shows: the newer of the two, see _merge
        self._slot_minutes: dict[str, dict[str, int]] = {}
        self._failure: _Failure | None = None
        self._last_scan: float | None = None
        self.bytes_read = 0  # total bytes read from rollout files
        self.lines_parsed = 0  # lines handed to the JSON parser
        self.rescans = 0
        self.live_file = Path(live_file) if live_file is not None else None
        self._live_seen: tuple[int, int] | None = None  # (mtime_ns, size) of the live file last read

    # -- inspection ------------------------------------------------------------------------------

    @property
    def files(self) -> list[Path]:
        with self._lock:
            return sorted(self._files)

    def offset(self, path: Path) -> int | None:
        """Bytes of ``path`` consumed so far (None when the file is not tracked)."""
        with self._lock:
            tracked = self._files.get(Path(path))
            return None if tracked is None else tracked.file.offset

    def limit_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._latest)

    # -- reading -----------------------------------------------------------------------------------

    def rescan_soon(self) -> None:
        """List the directories again at the next refresh, whatever the rescan interval (for a new
        reader, who must see the rollouts written since the last scan)."""
        with self._lock:
            self._last_scan = None

    def refresh(self, force_rescan: bool = False) -> bool:
        """Read what was appended since the last call; True when a newer snapshot was found."""
        with self._lock:
            now = self._clock()
            rescan = force_rescan or self._last_scan is None or now - self._last_scan >= self.rescan_interval
            if rescan:
                self._rescan()
                self._last_scan = now
                candidates = list(self._files.values())
            else:
                candidates = [t for t in self._files.values() if now - t.changed_at <= HOT_FILE_S]
            changed = False
            fresh = [t for t in candidates if not t.seen]
            fresh.sort(key=lambda t: t.mtime_ns, reverse=True)  # newest first: older ones may be skipped
            polled = [t for t in candidates if t.seen]
            for tracked in fresh:
                changed |= self._first_read(tracked, now)
            for tracked in polled:
                changed |= self._poll(tracked, now)
            changed |= self._read_live()
            return changed

    def _read_live(self) -> bool:
        """Take the app-server snapshots the supervisor recorded on the board (:mod:`live_rate_limits`)."""
        if self.live_file is None:
            return False
        try:
            stat = self.live_file.stat()
        except OSError:
            return False
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._live_seen:
            return False
        self._live_seen = seen
        changed = False
        for live in read_live(self.live_file).limits.values():
            changed |= self._take_live(live.rate_limits, live.observed_at)
        return changed

    def _take_live(self, raw: Mapping[str, Any], observed: float) -> bool:
        key = limit_key(raw)
        current = self._live.get(key)
        if current is not None and current.observed_at is not None and observed <= current.observed_at:
            return False
        snapshot = parse_rate_limits(
            raw, observed_at=observed, source=LIVE_SOURCE, slot_minutes=self._slot_minutes.get(key)
        )
        if snapshot is None:
            return False
        self._live[key] = snapshot
        self._slot_minutes.setdefault(key, {}).update(_slot_minutes(raw))
        self._merge(key)
        return True

    def _merge(self, key: str) -> None:
        """The gauge's snapshot of one limit: the newer of the rollout and the live one. Where live
        snapshots exist, a window the newer one leaves unknown keeps the other's known value: both record
        the same responses, and an app-server null is no news."""
        rollout, live = self._rollout.get(key), self._live.get(key)
        if live is None or rollout is None:
            chosen = live or rollout
            if chosen is not None:
                self._latest[key] = chosen
            return
        if (live.observed_at or 0.0) >= (rollout.observed_at or 0.0):
            self._latest[key] = _keep_known(live, rollout)
        else:
            self._latest[key] = _keep_known(rollout, live)

    def _rescan(self) -> None:
        self.rescans += 1
        found: dict[Path, None] = {}
        visited: set[Path] = set()
        for home in self.homes:
            self._walk(home / "sessions", True, _is_rollout, found, visited)
            self._walk(home / "archived_sessions", False, _is_jsonl, found, visited)
        for stale in [d for d in self._dirs if d not in visited]:
            del self._dirs[stale]
        for gone in [p for p in self._files if p not in found]:
            del self._files[gone]
        for path in found:
            if path not in self._files:
                cursor = GrowingFile(path, max_line_bytes=self.max_line_bytes, chunk_bytes=READ_CHUNK)
                tracked = _Tracked(cursor)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                tracked.mtime_ns = st.st_mtime_ns
                self._files[path] = tracked

    def _walk(
        self,
        directory: Path,
        recursive: bool,
        match: Callable[[str], bool],
        found: dict[Path, None],
        visited: set[Path],
    ) -> None:
        try:
            st = os.stat(directory)
        except OSError:
            return
        visited.add(directory)
        entry = self._dirs.get(directory)
        # A directory changed within the last moments may change again inside the same mtime tick.
        recent = time.time() - st.st_mtime < MTIME_SLACK_S
        if entry is None or entry.mtime_ns != st.st_mtime_ns or recent:
            subdirs: list[Path] = []
            files: list[Path] = []
            try:
                with os.scandir(directory) as it:
                    for item in it:
                        if item.is_dir(follow_symlinks=False):
                            subdirs.append(Path(item.path))
                        elif match(item.name) and item.is_file():
                            files.append(Path(item.path))
            except OSError:
                return
            entry = _DirEntry(st.st_mtime_ns, subdirs, files)
            self._dirs[directory] = entry
        for path in entry.files:
            found[path] = None
        if recursive:
            for sub in entry.subdirs:
                self._walk(sub, True, match, found, visited)

    def _first_read(self, tracked: _Tracked, now: float) -> bool:
        try:
            fh = open(tracked.path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError:
            return False
        with fh:
            st = os.fstat(fh.fileno())
            tracked.mtime_ns = st.st_mtime_ns
            tracked.seen = True
            if time.time() - st.st_mtime < HOT_FILE_S:
                tracked.changed_at = now
            best = self._preferred()
            if (
                best is not None
                and best.observed_at is not None
                and st.st_mtime < best.observed_at - MTIME_SLACK_S
            ):
                tracked.file.take_over(st, st.st_size, b"")  # followed from its end from now on
                return False  # last written before the newest known snapshot: nothing newer inside
            return self._read_tail(fh, tracked, st)

    def _read_tail(self, fh: Any, tracked: _Tracked, st: os.stat_result) -> bool:
        """Read the file's last ``tail_bytes`` (further back while no snapshot is found); the file is
        followed from its end afterwards."""
        size, mtime = st.st_size, st.st_mtime
        end = size
        start = max(0, size - self.tail_bytes)
        fh.seek(start)
        data = fh.read(end - start)
        self.bytes_read += len(data)
        head, lines = tracked.file.take_over(st, start, data)
        changed, found = self._process(lines, tracked, mtime)
        scanned = len(data)
        while not found and head is not None and start > 0 and scanned < self.max_backscan_bytes:
            end, start = start, max(0, start - self.tail_bytes)
            fh.seek(start)
            chunk = fh.read(end - start)
            self.bytes_read += len(chunk)
            scanned += len(chunk)
            lines = (chunk + head).split(_NL)
            head = lines.pop(0) if start > 0 else None
            more, found = self._process(lines, tracked, mtime)
            changed |= more
        return changed

    def _poll(self, tracked: _Tracked, now: float) -> bool:
        try:
            st = os.stat(tracked.path)
        except OSError:
            return False
        cursor = tracked.file
        if cursor.check(st) is not None:
            return self._first_read(tracked, now)  # replaced or truncated: start over from its tail
        if st.st_size == cursor.offset:
            tracked.mtime_ns = st.st_mtime_ns
            return False
        changed = False
        before = cursor.bytes_read
        try:
            for lines in cursor.read_batches():
                changed |= self._process(lines, tracked, st.st_mtime)[0]
        except OSError:
            return False
        finally:
            self.bytes_read += cursor.bytes_read - before
        tracked.mtime_ns = st.st_mtime_ns
        tracked.changed_at = now
        return changed

    def _process(self, lines: list[bytes], tracked: _Tracked, mtime: float) -> tuple[bool, bool]:
        """Parse the token_count lines; returns (a newer snapshot was taken, any snapshot was found)."""
        changed = found = False
        source = f"rollout:{tracked.path}"
        for line in lines:
            if b"token_count" not in line or b"rate_limits" not in line:
                continue
            self.lines_parsed += 1
            parsed = _rate_limits_of(line, mtime)
            if parsed is None:
                continue
            raw, observed = parsed
            found = True
            key = limit_key(raw)
            current = self._rollout.get(key)
            if current is not None and current.observed_at is not None and observed < current.observed_at:
                continue
            snapshot = parse_rate_limits(
                raw, observed_at=observed, source=source, slot_minutes=self._slot_minutes.get(key)
            )
            if snapshot is None:
                continue
            self._rollout[key] = snapshot
            self._merge(key)
            self._slot_minutes.setdefault(key, {}).update(_slot_minutes(raw))
            changed = True
        return changed, found

    # -- snapshots ---------------------------------------------------------------------------------

    def _preferred_key(self) -> str | None:
        if DEFAULT_LIMIT_ID in self._latest:
            return DEFAULT_LIMIT_ID
        if not self._latest:
            return None
        return max(self._latest, key=lambda k: self._latest[k].observed_at or 0.0)

    def _preferred(self) -> UsageWindows | None:
        key = self._preferred_key()
        return None if key is None else self._latest[key]

    def snapshot(self, limit_id: str | None = None, *, refresh: bool = True) -> UsageWindows:
        """The gauge now: the latest rollout windows (expired ones unknown) plus any usage-limit block."""
        with self._lock:
            if refresh:
                self.refresh()
            now = self._clock()
            key = limit_id or self._preferred_key() or DEFAULT_LIMIT_ID
            view = self._base(key, now)
            return self._overlay_failure(view, key, now)

    def snapshots(self, *, refresh: bool = True) -> dict[str, UsageWindows]:
        """Every limit family seen, by ``limit_id``."""
        with self._lock:
            if refresh:
                self.refresh()
            keys = set(self._latest)
            if self._failure is not None:
                keys.add(self._failure.limit)
            return {key: self.snapshot(key, refresh=False) for key in sorted(keys)}

    def _base(self, key: str, now: float) -> UsageWindows:
        observed = self._latest.get(key)
        if observed is None:
            return UsageWindows.unknown()
        return observed.as_of(now, self.unknown_reset_hold)

    def _overlay_failure(self, view: UsageWindows, key: str, now: float) -> UsageWindows:
        failure = self._failure
        if failure is None or failure.limit != key:
            return view
        observed = self._latest.get(key)
        superseded = (
            observed is not None and (observed.observed_at or 0.0) > failure.at and observed.has_numbers
        )
        if now >= failure.hold_until or superseded:
            self._failure = None
            return view
        block = Window(
            minutes=failure.minutes,
            used_percent=100.0,
            resets_at=failure.resets_at,
            source=FAILURE_SOURCE,
            observed_at=failure.at,
        )
        windows = [w for w in view.windows if w.minutes != failure.minutes]
        windows.append(block)
        windows.sort(key=lambda w: (w.minutes is None, w.minutes or 0))
        return view.model_copy(
            update={
                "windows": windows,
                "observed_at": max(view.observed_at or 0.0, failure.at),
                "source": view.source if view.observed_at is not None else FAILURE_SOURCE,
                "limit_id": view.limit_id or key,
            }
        )

    def record_usage_limit(
        self, resets_at: float | None, now: float | None = None, limit_id: str | None = None
    ) -> UsageWindows:
        """A task failed with ``usage_limit_exceeded``: show the binding window exhausted until it resets.

        The window is the one whose reset matches ``resets_at`` (within two minutes), else the binding
        window, else (no numbers known) a synthetic window of unknown length. Without any reset time the
        block holds for ``unknown_reset_hold`` seconds. A newer rollout snapshot with numbers lifts it.
        """
        with self._lock:
            self.refresh()
            now = self._clock() if now is None else now
            key = limit_id or self._preferred_key() or DEFAULT_LIMIT_ID
            view = self._base(key, now)
            target: Window | None = None
            if resets_at is not None:
                near = [
                    w
                    for w in view.windows
                    if w.resets_at is not None and abs(w.resets_at - resets_at) <= RESET_MATCH_S
                ]
                if near:
                    target = min(near, key=lambda w: abs((w.resets_at or 0.0) - resets_at))
            if target is None:
                target = view.binding
            reset = resets_at
            if (
                reset is None
                and target is not None
                and target.resets_at is not None
                and target.resets_at > now
            ):
                reset = target.resets_at
            hold_until = reset if reset is not None else now + self.unknown_reset_hold
            self._failure = _Failure(
                at=now,
                limit=key,
                minutes=target.minutes if target is not None else None,
                resets_at=reset,
                hold_until=hold_until,
            )
            return self._overlay_failure(view, key, now)

    def blocked_until(self, now: float | None = None) -> float | None:
        """When new work may be dispatched again, or None when nothing is known to block it."""
        with self._lock:
            self.refresh()
            now = self._clock() if now is None else now
            key = self._preferred_key() or (self._failure.limit if self._failure else DEFAULT_LIMIT_ID)
            view = self._overlay_failure(self._base(key, now), key, now)
            until: float | None = None
            for w in view.windows:
                if not w.blocked:
                    continue
                if w.source == FAILURE_SOURCE and self._failure is not None:
                    end = self._failure.hold_until
                elif w.resets_at is not None:
                    end = w.resets_at
                else:
                    end = w.observed_at + self.unknown_reset_hold
                until = end if until is None else max(until, end)
            return until if until is not None and until > now else None


# ---------------------------------------------------------------------------------------------------
# One watcher per process
# ---------------------------------------------------------------------------------------------------

_SHARED: weakref.WeakValueDictionary[tuple[object, ...], RolloutWatcher] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def shared_watcher(
    board_root: Path, env: Mapping[str, str] | None = None, *, clock: Callable[[], float] = time.time
) -> RolloutWatcher:
    """The process's one :class:`RolloutWatcher` of a board's credit windows, made on first use.

    Keyed by the Codex homes (:func:`codex_homes_of` ``env``), the board's live file and the clock, so
    the supervisor, the board view, the usage screen and the CLI of one process share one: the rollout
    tails are read once, and a usage-limit block the supervisor records is on the gauge the TUI draws.
    Another clock (a test's fake one) gets a watcher of its own, as do other homes or another board. Kept
    only while someone holds it. Each caller gets it with a rescan due (:meth:`RolloutWatcher.rescan_soon`),
    so a new reader sees the rollouts written since the last scan, as a watcher of its own would.
    """
    homes = codex_homes_of(env or {})
    live_file = Path(os.path.abspath(board_root / LIVE_RATE_LIMITS_FILE))
    key = (tuple(homes), live_file, id(clock))  # the watcher holds its clock: the id stays unique
    with _SHARED_LOCK:
        watcher = _SHARED.get(key)
        if watcher is None:
            watcher = RolloutWatcher(homes, clock=clock, live_file=live_file)
            _SHARED[key] = watcher
    watcher.rescan_soon()
    return watcher
