"""Claude Code's credit windows, kept beside Codex's: the reviewer's subscription limits as the latest
``rate_limit_event`` lines said.

Claude Code logged in to a subscription (``CLAUDE_CODE_OAUTH_TOKEN`` or ``/login``; never with an API
key) prints a ``rate_limit_event`` line in its ``stream-json`` once after the first response of a run
and again whenever the state it reads from the API's ``anthropic-ratelimit-unified-*`` headers changes
(``docs/claude-code.md`` has what the pinned CLI does). Each line names one window (``rateLimitType``:
``five_hour``, ``seven_day``, ... an open set), its ``status`` (``allowed``, ``allowed_warning``,
``rejected``, open as well), its reset and, with ``allowed_warning`` only, its ``utilization`` (a
fraction). A number the line does not give is **unknown, never 0 %**.

One data path: the supervisor's review phase follows the stream of each running reviewer with a
:class:`RateLimitLines` cursor (only the bytes appended since its last pass are read, only lines naming
``rate_limit_event`` are parsed) and merges what it finds into the board's ``claude-limits.json``
(:meth:`ClaudeLimitsStore.record`; the supervisor is its only writer). Nothing rescans old review
folders. Every reader (the board view and the header, the usage view, ``cockpit usage`` and ``status``,
the supervisor's hold on new reviewers) reads that file again only when it changed.

A ``rejected`` latest state holds new reviewer starts until its reset (:meth:`ClaudeLimits.blocked_until`);
without a reset time the hold lasts :data:`~cockpit.core.usage.windows.UNKNOWN_RESET_HOLD_S`, as for
Codex.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError, computed_field, field_validator

from cockpit.core.atomic import atomic_write_text
from cockpit.core.claude.stream import (
    RATE_LIMIT_TYPES,
    RateLimitEvent,
    RateLimitInfo,
    StreamLineError,
    parse_line,
)
from cockpit.core.follow import GrowingFile
from cockpit.core.text import format_duration
from cockpit.core.usage.windows import UNKNOWN_RESET_HOLD_S, _fmt_clock, as_number

__all__ = [
    "ALLOWED",
    "REJECTED",
    "WARNING",
    "ClaudeLimits",
    "ClaudeLimitsStore",
    "ClaudeWindow",
    "RateLimitLines",
    "RateLimitRead",
    "claude_window_label",
    "describe_window",
]

ALLOWED: Final = "allowed"
WARNING: Final = "allowed_warning"
REJECTED: Final = "rejected"
_MARKER: Final = b"rate_limit_event"
MAX_LINE_BYTES: Final = 1024 * 1024  # a rate-limit line is < 1 KB: longer lines are skipped unread
SETTLE_S: Final = 1.0  # a file changed this recently is read again (its stamp may not show a change yet)

_LABELS: Final[dict[str, str]] = {
    "five_hour": "5h",
    "seven_day": "weekly",
    "seven_day_opus": "weekly opus",
    "seven_day_sonnet": "weekly sonnet",
    "seven_day_overage_included": "weekly+overage",
    "overage": "overage",
}


def claude_window_label(kind: str | None) -> str:
    """A window's label: ``5h``, ``weekly``, ... for the kinds the pinned CLI names, else the kind as
    printed (``""`` when the line named none)."""
    if kind is None:
        return ""
    return _LABELS.get(kind, kind)


def _order(kind: str | None) -> tuple[int, str]:
    if kind in RATE_LIMIT_TYPES:
        return (RATE_LIMIT_TYPES.index(kind), "")
    return (len(RATE_LIMIT_TYPES), kind or "")


class ClaudeWindow(BaseModel):
    """One window as a ``rate_limit_event`` line gave it. ``status`` ``""`` means unknown (the reset
    passed since); ``utilization`` is the CLI's fraction, None when not given (unknown, never 0 %)."""

    model_config = ConfigDict(frozen=True)

    kind: str | None = None  # rateLimitType as printed: five_hour | seven_day | ... (an open set)
    status: str = ""  # allowed | allowed_warning | rejected | ... as printed; "" unknown
    utilization: float | None = None
    resets_at: float | None = None  # unix seconds
    observed_at: float = 0.0  # unix seconds: when the reviewer's stream had the line

    @field_validator("utilization", "resets_at", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        return as_number(value) if value is not None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return claude_window_label(self.kind)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def used_percent(self) -> float | None:
        """``utilization`` as a percentage; None when unknown."""
        return None if self.utilization is None else round(self.utilization * 100.0, 3)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def blocked(self) -> bool:
        """Claude Code's API refuses requests on this window until it resets."""
        return self.status == REJECTED

    def hold_end(self, unknown_reset_hold: float = UNKNOWN_RESET_HOLD_S) -> float:
        """When a block of this window ends: its reset, else ``unknown_reset_hold`` after it was seen."""
        return self.resets_at if self.resets_at is not None else self.observed_at + unknown_reset_hold

    def stale(self, now: float, unknown_reset_hold: float = UNKNOWN_RESET_HOLD_S) -> bool:
        """What the line said no longer holds at ``now``: its reset passed (or, for a block without a
        reset, the hold did)."""
        if not self.status:
            return False
        if self.resets_at is not None:
            return self.resets_at <= now
        return self.blocked and self.observed_at + unknown_reset_hold <= now

    def seconds_to_reset(self, now: float) -> float | None:
        if self.resets_at is None:
            return None
        return max(0.0, self.resets_at - now)

    @classmethod
    def of(cls, info: RateLimitInfo, observed_at: float) -> ClaudeWindow:
        return cls(
            kind=info.rate_limit_type,
            status=info.status,
            utilization=info.utilization,
            resets_at=info.resets_at,
            observed_at=observed_at,
        )


class ClaudeLimits(BaseModel):
    """The latest Claude snapshot: what the gauge shows and ``cockpit usage --json`` prints.

    ``current`` is the newest line's window: the account's state now (the CLI keeps one state, naming
    the window that binds). ``windows`` keeps the newest line of each kind that named one, so a weekly
    percentage seen earlier still shows beside the five-hour one. ``malformed`` counts the
    ``rate_limit_event`` lines that could not be read."""

    model_config = ConfigDict(frozen=True)

    windows: list[ClaudeWindow] = []
    current: ClaudeWindow | None = None
    source: str = "none"  # the stream file of the newest line
    malformed: int = 0

    @property
    def observed_at(self) -> float | None:
        return None if self.current is None else self.current.observed_at

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> str:
        """``unknown`` (nothing seen, or its reset passed), ``ok``, ``warning``, ``blocked``, or an
        unknown status as printed."""
        current = self.current
        if current is None or not current.status:
            return "unknown"
        return {ALLOWED: "ok", WARNING: "warning", REJECTED: "blocked"}.get(current.status, current.status)

    def window(self, kind: str) -> ClaudeWindow | None:
        return next((w for w in self.windows if w.kind == kind), None)

    def merged(self, info: RateLimitInfo, observed_at: float, source: str) -> ClaudeLimits | None:
        """This snapshot with one more line; None when the line is older than the newest one known (a
        stream read again after a restart) or changes nothing."""
        if self.current is not None and observed_at < self.current.observed_at:
            return None
        window = ClaudeWindow.of(info, observed_at)
        windows = list(self.windows)
        if window.kind is not None:
            windows = [w for w in windows if w.kind != window.kind] + [window]
            windows.sort(key=lambda w: _order(w.kind))
        out = self.model_copy(update={"windows": windows, "current": window, "source": source})
        return None if out == self else out

    def as_of(self, now: float, unknown_reset_hold: float = UNKNOWN_RESET_HOLD_S) -> ClaudeLimits:
        """The snapshot seen at ``now``: a window whose reset passed becomes unknown (status and
        utilization), as does a block without a reset once its hold is over."""

        def fresh(w: ClaudeWindow) -> ClaudeWindow:
            if w.stale(now, unknown_reset_hold):
                return w.model_copy(update={"status": "", "utilization": None})
            return w

        windows = [fresh(w) for w in self.windows]
        current = fresh(self.current) if self.current is not None else None
        if current is self.current and all(a is b for a, b in zip(windows, self.windows, strict=True)):
            return self
        return self.model_copy(update={"windows": windows, "current": current})

    def blocked_until(self, now: float, unknown_reset_hold: float = UNKNOWN_RESET_HOLD_S) -> float | None:
        """Until when new reviewers wait (the newest line says ``rejected``), or None."""
        current = self.current
        if current is None or not current.blocked:
            return None
        end = current.hold_end(unknown_reset_hold)
        return end if end > now else None

    def shown(self) -> list[ClaudeWindow]:
        """What a gauge lists: the current window first, then the other kinds with a known number."""
        current = self.current
        if current is None:
            return []
        others = [w for w in self.windows if w.kind != current.kind and w.utilization is not None]
        return [current, *others]

    def to_lines(self, now: float, tz: tzinfo | None = None) -> list[str]:
        """Plain text for the CLI: one line per window, the current one first."""
        shown = self.shown()
        if not shown:
            return [
                "usage  unknown (no rate_limit_event seen: Claude Code prints them when logged in to a "
                "subscription, not with an API key)"
            ]
        lines = []
        for w in shown:
            head = f"{w.label or 'window':<7}"
            text = f"{head}{describe_window(w, now, tz)}"
            if w is self.current:
                text += "  ← current"
            lines.append(text)
        if self.malformed:
            lines.append(f"{self.malformed} unreadable rate_limit_event line(s) skipped")
        return lines


def describe_window(w: ClaudeWindow, now: float, tz: tzinfo | None = None) -> str:
    """``71.0% used  allowed_warning  resets 23:37 (in 1h 12m)``, ``blocked, resets …``, ``unknown``."""
    if not w.status:
        text = "unknown"
        if w.resets_at is not None and w.resets_at <= now:
            text += f"  (reset {_fmt_clock(w.resets_at, now, tz)} passed)"
        return text
    used = "used unknown" if w.used_percent is None else f"{w.used_percent:5.1f}% used"
    parts = [used, "BLOCKED" if w.blocked else w.status]
    if w.resets_at is not None:
        left = w.seconds_to_reset(now) or 0.0
        parts.append(f"resets {_fmt_clock(w.resets_at, now, tz)} (in {format_duration(left)})")
    elif w.blocked:
        parts.append("reset time unknown")
    return "  ".join(parts)


# ---------------------------------------------------------------------------------------------------
# Reading a reviewer's stream
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitRead:
    """What one read of a stream found: its rate-limit lines in order, the malformed ones, and when
    the file was last written (the lines' time: the stream's lines carry none)."""

    infos: list[RateLimitInfo] = field(default_factory=list)
    malformed: int = 0
    observed_at: float = 0.0


class RateLimitLines:
    """One reviewer try's ``stream.jsonl`` followed for its ``rate_limit_event`` lines.

    Each :meth:`read_new` reads only what was appended since the last one (a :class:`GrowingFile`; a
    partial last line waits for its newline, or for ``final``), and parses only the lines that name
    ``rate_limit_event``: every other line is the review's business. A line naming it that is not
    JSON, or a rate-limit line without a status, is counted as malformed and skipped."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file = GrowingFile(self.path, max_line_bytes=MAX_LINE_BYTES)
        self.malformed = 0

    def read_new(self, *, final: bool = False) -> RateLimitRead:
        """The lines appended since the last read; ``final`` once the CLI has exited (an unterminated
        last line is then read too)."""
        lines: list[bytes] = []
        try:
            lines = self.file.read_lines()
        except OSError:
            return RateLimitRead()
        if final and (tail := self.file.flush()) is not None:
            lines.append(tail)
        infos: list[RateLimitInfo] = []
        bad = 0
        for raw in lines:
            if _MARKER not in raw:
                continue
            try:
                parsed = parse_line(raw)
            except StreamLineError:
                bad += 1
                continue
            if not isinstance(parsed, RateLimitEvent):
                continue  # another line that mentions the word (a tool's output, the model's text)
            if not parsed.rate_limit_info.status:
                bad += 1
                continue
            infos.append(parsed.rate_limit_info)
        self.malformed += bad
        observed = time.time()
        if infos:
            try:
                observed = min(observed, os.stat(self.path).st_mtime)
            except OSError:
                pass
        return RateLimitRead(infos, bad, observed)


# ---------------------------------------------------------------------------------------------------
# The board's file
# ---------------------------------------------------------------------------------------------------

_Stamp = tuple[int, int, int]


class ClaudeLimitsStore:
    """The board's ``claude-limits.json``: :meth:`read` (again only when the file changed) for every
    reader, :meth:`record` for its one writer, the supervisor. A corrupt file reads as empty; the
    writer (given ``on_corrupt``) moves it to quarantine before writing a new one."""

    def __init__(self, path: Path, on_corrupt: Callable[[Path, str], object] | None = None) -> None:
        self.path = Path(path)
        self.on_corrupt = on_corrupt
        self._kept: tuple[_Stamp | None, ClaudeLimits] | None = None
        self._settled = False
        self.reads = 0  # times the file was parsed

    def _stamp(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def read(self) -> ClaudeLimits:
        """The snapshot on disk (empty when there is none); one ``stat`` while it has not changed."""
        stamp = self._stamp()
        kept = self._kept
        if kept is not None and kept[0] == stamp and self._settled:
            return kept[1]
        limits = self._load(stamp, quarantine=False)
        self._settled = stamp is None or time.time() - stamp[2] / 1e9 > SETTLE_S
        self._kept = (stamp, limits)
        return limits

    def _load(self, stamp: _Stamp | None, *, quarantine: bool) -> ClaudeLimits:
        if stamp is None:
            return ClaudeLimits()
        try:
            data = self.path.read_bytes()
        except OSError:
            return ClaudeLimits()
        self.reads += 1
        try:
            return ClaudeLimits.model_validate_json(data)
        except ValidationError as exc:
            if quarantine and self.on_corrupt is not None:
                self.on_corrupt(self.path, f"unreadable Claude credit windows: {exc.errors()[0]['msg']}")
            return ClaudeLimits()

    def record(
        self, infos: Iterable[RateLimitInfo], observed_at: float, source: str, malformed: int = 0
    ) -> bool:
        """Merge lines read from ``source`` (all seen at ``observed_at``, in order) and count
        ``malformed`` ones; True when the file was written."""
        known = self._load(self._stamp(), quarantine=True)
        limits = known
        for info in infos:
            limits = limits.merged(info, observed_at, source) or limits
        if malformed:
            limits = limits.model_copy(update={"malformed": limits.malformed + malformed})
        if limits == known:
            return False
        atomic_write_text(self.path, json.dumps(limits.model_dump(mode="json"), indent=1) + "\n")
        self._kept = None
        return True
