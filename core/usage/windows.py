"""Codex's own credit windows (5 h, weekly, …) read from the rate-limit snapshots in rollout files.

After every model response Codex appends an ``event_msg``/``token_count`` line to the thread's rollout
(``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl``); its ``rate_limits`` hold the windows the server
reported in that response's headers. :func:`parse_rate_limits` and :func:`parse_rollout_line` accept
every historical shape of that snapshot (flat ``primary_used_percent`` fields, nested windows with a
relative ``resets_in_seconds`` or an absolute ``resets_at``) and turn it into :class:`UsageWindows`:
windows are labelled by their length in minutes, never by their position, and ``null`` means unknown,
never 0 %.

:class:`RolloutWatcher` follows the rollouts of one or more ``CODEX_HOME`` directories incrementally
(a :class:`~cockpit.core.follow.GrowingFile` per file, tail-only first reads, throttled directory
rescans) and keeps the latest snapshot by line timestamp. Given the board's ``rate-limits.json``
(``live_file``), it also takes the snapshots mcp-lane turns reported live
(:mod:`cockpit.core.usage.live`), newest wins, with a window left null keeping its known value.
The supervisor reports usage-limit failures to it with :meth:`RolloutWatcher.record_usage_limit`,
which holds the gauge at "blocked" until the window resets or a newer rollout snapshot arrives with its
own numbers.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, computed_field, field_validator

from cockpit.core.codex.app_server.protocol import DEFAULT_LIMIT_ID, Credits, limit_key
from cockpit.core.follow import GrowingFile
from cockpit.core.text import format_duration
from cockpit.core.usage.live import LIVE_RATE_LIMITS_FILE, read_live

__all__ = [
    "DEFAULT_LIMIT_ID",
    "FIVE_HOURS",
    "WEEK",
    "Credits",
    "RolloutWatcher",
    "UsageWindows",
    "Window",
    "codex_homes_from",
    "codex_homes_of",
    "parse_rate_limits",
    "parse_rollout_line",
    "parse_timestamp",
    "shared_watcher",
    "window_label",
]

FIVE_HOURS: Final = 300
WEEK: Final = 10080
FAILURE_SOURCE: Final = "failure"
LIVE_SOURCE: Final = "app-server"

TAIL_BYTES: Final = 256 * 1024  # first read of a file: only its last bytes
MAX_BACKSCAN_BYTES: Final = 4 * 1024 * 1024  # how far back a first read may look for a snapshot
READ_CHUNK: Final = 1024 * 1024
MAX_LINE_BYTES: Final = 32 * 1024 * 1024
RESCAN_INTERVAL_S: Final = 5.0
HOT_FILE_S: Final = 60.0  # files that grew this recently are polled on every refresh
UNKNOWN_RESET_HOLD_S: Final = 600.0  # a block without a known reset holds this long
MTIME_SLACK_S: Final = 2.0
RESET_MATCH_S: Final = 120.0  # a failure's reset time this close to a window's names that window

_SLOTS: Final = ("primary", "secondary")
_NL: Final = b"\n"

State = Literal["ok", "unknown", "blocked"]


def window_label(minutes: int | None) -> str:
    """Label of a window length: ``"5h"`` (300), ``"weekly"`` (10080), else e.g. ``"90m"``, ``"2d"``."""
    if minutes is None:
        return "unknown"
    if minutes == FIVE_HOURS:
        return "5h"
    if minutes == WEEK:
        return "weekly"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


# ---------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------


class Window(BaseModel):
    """One credit window. ``used_percent`` None means unknown (never read as 0 %)."""

    model_config = ConfigDict(frozen=True)

    minutes: int | None = None
    used_percent: float | None = None
    resets_at: float | None = None  # unix seconds
    source: str = "unknown"  # "rollout:<path>" or "failure"
    observed_at: float = 0.0  # unix seconds (the rollout line's UTC timestamp)

    @field_validator("minutes", mode="before")
    @classmethod
    def _positive_minutes(cls, value: Any) -> Any:
        return _minutes(value) if value is not None else None

    @field_validator("used_percent", "resets_at", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        return _num(value) if value is not None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return window_label(self.minutes)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def left_percent(self) -> float | None:
        """Percent still available (100 − used, clamped to 0–100); None when unknown."""
        if self.used_percent is None:
            return None
        return min(100.0, max(0.0, 100.0 - self.used_percent))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def blocked(self) -> bool:
        """The window is exhausted: a turn is refused until it resets."""
        return self.used_percent is not None and self.used_percent >= 100.0

    def seconds_to_reset(self, now: float) -> float | None:
        """Seconds until ``resets_at`` (0 once passed); None when the reset time is unknown."""
        if self.resets_at is None:
            return None
        return max(0.0, self.resets_at - now)


def _reset_key(window: Window) -> float:
    # An unknown reset may be the latest one: rank it last to stay on the safe side.
    return math.inf if window.resets_at is None else window.resets_at


class UsageWindows(BaseModel):
    """A rate-limit snapshot: what the gauge renders and ``cockpit usage --json`` prints."""

    model_config = ConfigDict(frozen=True)

    windows: list[Window] = []
    credits: Credits | None = None
    plan_type: str | None = None
    limit_id: str | None = None
    limit_name: str | None = None
    reached_type: str | None = None  # Codex's ``rate_limit_reached_type`` when it sets one
    observed_at: float | None = None
    source: str = "none"

    @classmethod
    def unknown(cls) -> UsageWindows:
        """Nothing observed yet."""
        return cls()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def binding(self) -> Window | None:
        """The window that blocks first: an exhausted one (the later reset if several), else the most used."""
        known = [w for w in self.windows if w.used_percent is not None]
        if not known:
            return None
        exhausted = [w for w in known if w.blocked]
        if exhausted:
            return max(exhausted, key=_reset_key)
        return max(known, key=lambda w: (w.used_percent or 0.0, _reset_key(w)))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> State:
        binding = self.binding
        if binding is None:
            return "unknown"
        return "blocked" if binding.blocked else "ok"

    @property
    def has_numbers(self) -> bool:
        """At least one window has a known used percentage."""
        return any(w.used_percent is not None for w in self.windows)

    def window(self, label: str) -> Window | None:
        """The first window with this label (``"5h"``, ``"weekly"``, …)."""
        return next((w for w in self.windows if w.label == label), None)

    def as_of(self, now: float, unknown_reset_hold: float = UNKNOWN_RESET_HOLD_S) -> UsageWindows:
        """The snapshot seen at ``now``: windows whose reset has passed become unknown.

        An exhausted window without a reset time is trusted for ``unknown_reset_hold`` seconds after it
        was observed, then becomes unknown as well, so a stale "blocked" never holds work forever.
        """
        windows: list[Window] = []
        touched = False
        for w in self.windows:
            stale = w.used_percent is not None and (
                (w.resets_at is not None and w.resets_at <= now)
                or (w.resets_at is None and w.blocked and w.observed_at + unknown_reset_hold <= now)
            )
            if stale:
                touched = True
                w = w.model_copy(update={"used_percent": None})
            windows.append(w)
        return self.model_copy(update={"windows": windows}) if touched else self

    def to_lines(self, now: float, tz: tzinfo | None = None) -> list[str]:
        """Plain-text rendering for the CLI, e.g. ``5h     42.5% used  resets 23:37 (in 1h 12m)``."""
        lines: list[str] = []
        if not self.windows:
            lines.append("usage  unknown (no rate-limit snapshot seen)")
        for w in self.windows:
            head = f"{w.label if w.minutes is not None else 'window':<6} "
            if w.used_percent is None:
                text = f"{head}unknown"
                if w.resets_at is not None and w.resets_at <= now:
                    text += f"  (reset {_fmt_clock(w.resets_at, now, tz)} passed)"
            else:
                text = f"{head}{w.used_percent:5.1f}% used"
                if w.resets_at is not None:
                    left = w.seconds_to_reset(now) or 0.0
                    when = _fmt_clock(w.resets_at, now, tz)
                    text += f"  resets {when} (in {format_duration(left)})"
                if w.blocked:
                    text += "  BLOCKED"
                if w.source == FAILURE_SOURCE:
                    text += " (usage limit hit)"
            lines.append(text)
        if self.credits is not None:
            lines.append(f"{'credits':<6} {_fmt_credits(self.credits)}")
        return lines


def _fmt_credits(credits: Credits) -> str:
    if credits.unlimited:
        return "unlimited"
    if credits.has_credits:
        return credits.balance if credits.balance is not None else "available"
    return "none"


def _fmt_clock(ts: float, now: float, tz: tzinfo | None) -> str:
    when = datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts).astimezone()
    today = datetime.fromtimestamp(now, when.tzinfo)
    if when.date() == today.date():
        return when.strftime("%H:%M")
    if abs(ts - now) < 6 * 86400:
        return when.strftime("%a %H:%M")
    return when.strftime("%b %d %H:%M")


# ---------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _minutes(value: Any) -> int | None:
    number = _num(value)
    if number is None or number <= 0:
        return None
    return round(number)


def parse_timestamp(value: Any) -> float | None:
    """Unix seconds from an ISO-8601 string (``2025-10-17T05:54:20.209Z``; naive = UTC) or a number."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return _num(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    number = _num(value)
    if number is not None and number > 1e11:  # milliseconds
        number /= 1000.0
    return number


def _first(raw: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    return None


def _raw_slots(raw: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """The primary/secondary window mappings of a snapshot, whatever its era (None = null slot)."""
    if any(f"{slot}_used_percent" in raw for slot in _SLOTS):  # flat shape (~v0.40)
        out: dict[str, Mapping[str, Any] | None] = {}
        for slot in _SLOTS:
            used = raw.get(f"{slot}_used_percent")
            minutes = raw.get(f"{slot}_window_minutes")
            out[slot] = (
                None
                if used is None and minutes is None
                else {"used_percent": used, "window_minutes": minutes}
            )
        return out
    return {slot: (raw[slot] if isinstance(raw.get(slot), Mapping) else None) for slot in _SLOTS}


def _slot_minutes(raw: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for slot, window in _raw_slots(raw).items():
        minutes = _minutes(_first(window, "window_minutes", "windowDurationMins")) if window else None
        if minutes is not None:
            out[slot] = minutes
    return out


def _parse_window(raw: Mapping[str, Any], observed_at: float, source: str) -> Window:
    used = _num(_first(raw, "used_percent", "usedPercent"))
    minutes = _minutes(_first(raw, "window_minutes", "windowDurationMins"))
    resets_at = parse_timestamp(_first(raw, "resets_at", "reset_at", "resetsAt"))
    if resets_at is None:
        relative = _num(_first(raw, "resets_in_seconds", "reset_after_seconds"))
        if relative is not None:
            resets_at = observed_at + relative  # relative to the line's own timestamp
    return Window(
        minutes=minutes, used_percent=used, resets_at=resets_at, source=source, observed_at=observed_at
    )


def _parse_credits(raw: Any) -> Credits | None:
    if not isinstance(raw, Mapping):
        return None
    balance = _first(raw, "balance")
    return Credits(
        has_credits=_first(raw, "has_credits", "hasCredits") is True,
        unlimited=_first(raw, "unlimited") is True,
        balance=None if balance is None else str(balance),
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_rate_limits(
    raw: Any,
    *,
    observed_at: float,
    source: str,
    slot_minutes: Mapping[str, int] | None = None,
) -> UsageWindows | None:
    """One ``rate_limits`` object → :class:`UsageWindows`; None for ``null`` or a non-object.

    A null primary window is kept as an unknown window; a null secondary is dropped (plans with a
    single window send only a primary). ``slot_minutes`` (the minutes each slot last reported for this
    limit) lets a null slot keep its label, e.g. ``5h unknown`` after a response without headers.
    """
    if not isinstance(raw, Mapping):
        return None
    hints = slot_minutes or {}
    known: list[Window] = []
    unknown: list[Window] = []
    for slot, window_raw in _raw_slots(raw).items():
        if window_raw is not None:
            window = _parse_window(window_raw, observed_at, source)
            (known if window.used_percent is not None else unknown).append(window)
        elif slot == "primary" or slot in hints:
            unknown.append(Window(minutes=hints.get(slot), source=source, observed_at=observed_at))
    windows: list[Window] = []
    for window in known + unknown:
        if window.used_percent is None and any(w.minutes == window.minutes for w in windows):
            continue  # a window of that length (or one unknown-length placeholder) is already listed
        windows.append(window)
    windows.sort(key=lambda w: (w.minutes is None, w.minutes or 0))
    return UsageWindows(
        windows=windows,
        credits=_parse_credits(raw.get("credits")),
        plan_type=_optional_str(_first(raw, "plan_type", "planType")),
        limit_id=_optional_str(_first(raw, "limit_id", "limitId")),
        limit_name=_optional_str(_first(raw, "limit_name", "limitName")),
        reached_type=_optional_str(_first(raw, "rate_limit_reached_type", "rateLimitReachedType")),
        observed_at=observed_at,
        source=source,
    )


def _keep_known(new: UsageWindows, old: UsageWindows | None) -> UsageWindows:
    """A sparse snapshot over the last known one: a window or credits it leaves unknown keep their
    known values (null is no news, never a reset). The rule of
    :func:`~cockpit.core.codex.app_server.protocol.merge_sparse`, applied across two sources (a rollout's
    snapshot and the live file's) whose windows match by length, not by their slot on the wire."""
    if old is None:
        return new
    windows = []
    for window in new.windows:
        if window.used_percent is None:
            known = next(
                (w for w in old.windows if w.minutes == window.minutes and w.used_percent is not None), None
            )
            window = known or window
        windows.append(window)
    return new.model_copy(update={"windows": windows, "credits": new.credits or old.credits})


def _token_count_body(record: Any) -> Mapping[str, Any] | None:
    if not isinstance(record, Mapping):
        return None
    payload = record.get("payload")
    kind = record.get("type")
    if kind == "event_msg" and isinstance(payload, Mapping) and payload.get("type") == "token_count":
        return payload
    if kind == "token_count":
        return payload if isinstance(payload, Mapping) else record
    return None


def _rate_limits_of(line: bytes | str, fallback_time: float | None) -> tuple[Mapping[str, Any], float] | None:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    body = _token_count_body(record)
    if body is None or not isinstance(body.get("rate_limits"), Mapping):
        return None
    observed = parse_timestamp(record.get("timestamp"))
    if observed is None:
        observed = fallback_time
    if observed is None:
        return None
    return body["rate_limits"], observed


def parse_rollout_line(
    line: bytes | str,
    *,
    source: str,
    fallback_time: float | None = None,
    slot_minutes: Mapping[str, int] | None = None,
) -> UsageWindows | None:
    """The snapshot of one rollout line, or None unless it is a ``token_count`` with non-null ``rate_limits``.

    Accepts ``{"type":"event_msg","payload":{"type":"token_count",…}}`` (every era, including 0.169.0) and a
    bare ``token_count`` record. ``fallback_time`` stands in for a missing line timestamp.
    """
    found = _rate_limits_of(line, fallback_time)
    if found is None:
        return None
    raw, observed = found
    return parse_rate_limits(raw, observed_at=observed, source=source, slot_minutes=slot_minutes)


# ---------------------------------------------------------------------------------------------------
# Homes
# ---------------------------------------------------------------------------------------------------


def codex_homes_from(env_values: Iterable[str | None]) -> list[Path]:
    """Distinct ``CODEX_HOME`` directories from env values (each may list several, comma-separated).

    Without any value the default ``~/.codex`` is returned.
    """
    homes: list[Path] = []
    seen: set[Path] = set()
    for value in env_values:
        for part in (value or "").split(","):
            text = part.strip()
            if not text:
                continue
            path = Path(os.path.expanduser(text))
            key = Path(os.path.abspath(path))
            if key not in seen:
                seen.add(key)
                homes.append(key)
    return homes or [Path(os.path.expanduser("~/.codex"))]


def codex_homes_of(env: Mapping[str, str]) -> list[Path]:
    """The homes whose rollouts hold the credit windows: the ``CODEX_HOME`` the workers get (``env``, the
    supervisor's additions) and this process's own, else ``~/.codex``."""
    return codex_homes_from([env.get("CODEX_HOME"), os.environ.get("CODEX_HOME")])


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
