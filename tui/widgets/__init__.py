"""Reusable widgets of the cockpit's Textual UI (each module is imported where it is used: the first
frame needs few of them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.tui.widgets.event_log import EventLog

__all__ = ["EventLog"]


def __getattr__(name: str) -> Any:
    if name == "EventLog":
        from cockpit.tui.widgets.event_log import EventLog

        return EventLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
