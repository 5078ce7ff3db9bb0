"""Reusable widgets of the cockpit's Textual UI."""

from cockpit.tui.widgets.event_log import EventLog

__all__ = ["EventLog"]
