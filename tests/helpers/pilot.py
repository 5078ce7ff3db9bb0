"""Awaiting conditions in Pilot tests: let the app run until a condition holds, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen

from cockpit.tui.widgets.lane_pane import LanePane


async def until(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 90.0, what: str = "condition"
) -> None:
    """Let the app process messages until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        await pilot.pause(0.05)


def shown(pane: LanePane) -> list[str]:
    """The lines a lane pane draws now, top to bottom, as plain text (trailing spaces cut)."""
    height = pane.scrollable_content_region.height
    return [pane.render_line(y).text.rstrip() for y in range(height)]


def main_screen(app: App[None]) -> Screen[None]:
    from cockpit.tui.screens.main_screen import MainScreen

    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


def pane_listing(app: App[None], task_id: str) -> LanePane | None:
    """The lane pane that lists ``task_id`` as a row (folded tasks are not listed), if any."""
    for pane in main_screen(app).query(LanePane):
        if pane.row_lines(task_id) is not None:
            return pane
    return None


def select_task(app: App[None], task_id: str) -> LanePane:
    """Focus the pane listing ``task_id`` and put its cursor on the task (scrolled into view)."""
    pane = pane_listing(app, task_id)
    assert pane is not None, f"no lane lists {task_id}"
    pane.focus()
    assert pane.select(task_id)
    return pane


def card_shown(pane: LanePane, task_id: str) -> str:
    """The lines the pane draws for one task's card (it is scrolled into view first)."""
    assert pane.select(task_id), f"{pane.lane} does not list {task_id}"
    where = pane.row_lines(task_id)
    assert where is not None
    first, count = where
    top = round(pane.scroll_y)
    return "\n".join(pane.render_line(line - top).text.rstrip() for line in range(first, first + count))
