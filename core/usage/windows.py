"""Codex's own credit windows (5 h, weekly, …) as the cockpit keeps and shows them: a :class:`Window`
per limit, labelled by its length in minutes (never by its position), and :class:`UsageWindows`, the
latest snapshot, where ``null`` means unknown, never 0 %. Read from rollouts by
:mod:`cockpit.core.usage.rollouts`, followed by :mod:`cockpit.core.usage.watcher`.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, computed_field, field_validator

from cockpit.core.codex.app_server.protocol import Credits
from cockpit.core.text import format_duration

FIVE_HOURS: Final = 300
WEEK: Final = 10080
FAILURE_SOURCE: Final = "failure"

UNKNOWN_RESET_HOLD_S: Final = 600.0  # a block without a known reset holds this long


State = Literal["ok", "unknown", "blocked"]


def as_number(value: Any) -> float | None:
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


def as_minutes(value: Any) -> int | None:
    number = as_number(value)
    if number is None or number <= 0:
        return None
    return round(number)


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
        return as_minutes(value) if value is not None else None

    @field_validator("used_percent", "resets_at", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        return as_number(value) if value is not None else None

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
