"""Widgets of the cockpit's Textual UI, one per module."""
