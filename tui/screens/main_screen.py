"""The cockpit's main screen: the header and the four lane panes, redrawn from board snapshots, and the
lane filter (``/``) that narrows every lane by words, state and lane."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from cockpit.core import LANE_ORDER, BoardLanes, BoardSnapshot, FilterError, LaneFilter
from cockpit.tui.widgets.cockpit_header import CockpitHeader, header_text
from cockpit.tui.widgets.lane_pane import LanePane

FILTER_PLACEHOLDER = (
    "filter: words (in title or id) · state:review,failed · lane:worktree — enter keeps it, esc clears"
)


class MainScreen(Screen[None]):
    """The cockpit's home. Its keys open the other screens; they are app actions, so the palette and
    the remapping in ``[keys]`` treat them like any other binding."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", id="lanes.filter"),
        Binding("n", "app.new_task", "New task", id="app.new_task"),
        Binding("g", "app.next_decision", "Decision", id="app.decision"),
        Binding("v", "app.next_review", "Review diff", id="app.review"),
        Binding("l", "app.dead_letters", "Dead letters", id="app.dead_letters"),
        Binding("b", "app.breakers", "Breakers", id="app.breakers"),
        Binding("u", "app.usage", "Usage", id="app.usage"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="lanes.clear_filter"),
    ]

    def __init__(self, repo: str, branch: str | None, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.repo = repo
        self.branch = branch
        self.clock = clock
        self.lanes = BoardLanes(LANE_ORDER)
        self._pending: tuple[BoardSnapshot, bool] | None = None
        self._panes: dict[str, LanePane] = {}
        self._header_text = ""
        self._now = datetime.fromtimestamp(clock(), UTC)
        self._filter_from: LanePane | None = None
        self._filter_said = ""  # what the filter line says is wrong with the filter

    def compose(self) -> ComposeResult:
        yield CockpitHeader("Codex Cockpit", id="header")
        with Grid(id="lanes"):
            for lane in LANE_ORDER:
                pane = self._panes[lane] = LanePane(lane, self.lanes.lane(lane), clock=self.clock)
                yield pane
        with Horizontal(id="lane-filter-bar"):
            yield Input(placeholder=FILTER_PLACEHOLDER, id="lane-filter")
            yield Static("", id="lane-filter-error")
        yield Footer()

    def _under_modal(self) -> bool:
        """True when only modals cover this screen (it still shows around them)."""
        stack = self.app.screen_stack
        if self not in stack:
            return False
        return all(isinstance(screen, ModalScreen) for screen in stack[stack.index(self) + 1 :])

    def on_mount(self) -> None:
        self.query_one("#lane-filter-bar").display = False
        if self._pending is not None:
            self.show(*self._pending)

    def on_screen_resume(self) -> None:
        if self._pending is not None:
            self.show(*self._pending)

    def show(self, snapshot: BoardSnapshot, viewer: bool) -> None:
        """Draw a snapshot. Nothing is written while another screen covers this one (or before it is
        composed): the latest snapshot is kept and drawn when the screen shows again (a skipped
        snapshot's changes are found by comparing the whole board once)."""
        if not self.is_current and self.is_mounted and not self._under_modal():
            self._pending = (snapshot, viewer)
            return
        try:
            header = self.query_one("#header", CockpitHeader)
        except NoMatches:
            self._pending = (snapshot, viewer)
            return
        self._pending = None
        text = header_text(self.repo, self.branch, snapshot, viewer)
        if text.plain != self._header_text:  # same lines, same height: no layout pass
            self._header_text = text.plain
            header.update(text, layout=False)
        self._now = datetime.fromtimestamp(snapshot.taken_at, UTC)
        self.lanes.apply(snapshot)
        for lane, pane in self._panes.items():
            pane.sync(self._now, snapshot.external_for(lane))

    # ------------------------------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        """Open the filter line (or go back to it) to narrow the lanes."""
        focused = self.focused
        if isinstance(focused, LanePane):
            self._filter_from = focused
        self.query_one("#lane-filter-bar").display = True
        # focused now, not after the queued keys: what is typed right after ``/`` goes to the filter
        self.set_focus(self.query_one("#lane-filter", Input))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return self.lanes.filter.active or self.query_one("#lane-filter-bar").display
        return True

    def action_clear_filter(self) -> None:
        """Clear the filter and close its line."""
        field = self.query_one("#lane-filter", Input)
        with field.prevent(Input.Changed):
            field.value = ""
        self._apply_filter(LaneFilter())
        self.query_one("#lane-filter-bar").display = False
        self._back_to_lanes()

    @on(Input.Changed, "#lane-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            flt = LaneFilter.parse(event.value)
        except FilterError as exc:
            self._filter_error(str(exc))  # the last good filter stays applied
            return
        self._filter_error("")
        self._apply_filter(flt)

    def _filter_error(self, text: str) -> None:
        """Say what is wrong with the filter ("" once it is right); unchanged text is not redrawn (an
        update lays the screen out again, a keystroke's largest cost)."""
        if text != self._filter_said:
            self._filter_said = text
            self.query_one("#lane-filter-error", Static).update(text)

    @on(Input.Submitted, "#lane-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.action_clear_filter()
            return
        self._back_to_lanes()

    def _apply_filter(self, flt: LaneFilter) -> None:
        if flt == self.lanes.filter:
            return
        self.lanes.filter = flt
        for pane in self._panes.values():
            pane.sync(self._now, pane.external)

    def _back_to_lanes(self) -> None:
        target = self._filter_from
        if target is None or (target.rows.filter.active and not target.rows.matched):
            target = next((p for p in self._panes.values() if p.rows.matched), None) or target
        (target or self._panes[LANE_ORDER[0]]).focus()
