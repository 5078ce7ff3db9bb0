"""Command-palette entries built from key bindings: every binding that has an id and a description
becomes a "Category: Action" command of the screen it is active on, so the palette and the keys can
never drift apart (a remapped key shows its new key in the palette's help line)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import App, SystemCommand
from textual.screen import Screen

CATEGORIES = {
    "app": "Cockpit",
    "card": "Task",
    "lanes": "Lanes",
    "task": "Task",
    "log": "Log",
    "decision": "Decision",
    "diff": "Review",
    "cloud_review": "Review",
    "form": "New task",
    "dlq": "Dead letters",
    "breakers": "Breakers",
    "usage": "Usage",
}


PALETTE_ACTIONS = frozenset({"command_palette", "app.command_palette"})


def category_of(binding_id: str) -> str:
    prefix = binding_id.split(".", 1)[0]
    return CATEGORIES.get(prefix, prefix.replace("_", " ").capitalize())


def binding_commands(app: App[object], screen: Screen[object]) -> Iterator[SystemCommand]:
    """One command per active binding with an id, in the order the footer shows them."""
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.id or not binding.description or binding.id in seen or not active.enabled:
            continue
        if binding.action in PALETTE_ACTIONS:  # the palette does not list itself
            continue
        seen.add(binding.id)
        title = f"{category_of(binding.id)}: {binding.description}"
        help_text = f"key {app.get_key_display(binding)} · {binding.id}"
        yield SystemCommand(title, help_text, partial(app.run_action, binding.action, active.node))
