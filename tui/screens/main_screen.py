"""The cockpit's main screen: the header and the four lane panes, redrawn from board snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer

from cockpit.core.board_view import LANE_ORDER, BoardSnapshot
from cockpit.tui.widgets.cockpit_header import CockpitHeader, header_text
from cockpit.tui.widgets.lane_pane import LanePane


class MainScreen(Screen[None]):
    """The cockpit's home. Its keys open the other screens; they are app actions, so the palette and
    the remapping in ``[keys]`` treat them like any other binding."""

    BINDINGS = [
        Binding("n", "app.new_task", "New task", id="app.new_task"),
        Binding("g", "app.next_decision", "Decision", id="app.decision"),
        Binding("v", "app.next_review", "Review diff", id="app.review"),
        Binding("l", "app.dead_letters", "Dead letters", id="app.dead_letters"),
        Binding("b", "app.breakers", "Breakers", id="app.breakers"),
        Binding("u", "app.usage", "Usage", id="app.usage"),
    ]

    def __init__(self, repo: str, branch: str | None) -> None:
        super().__init__()
        self.repo = repo
        self.branch = branch
        self._pending: tuple[BoardSnapshot, bool] | None = None

    def compose(self) -> ComposeResult:
        yield CockpitHeader("Codex Cockpit", id="header")
        with Grid(id="lanes"):
            for lane in LANE_ORDER:
                yield LanePane(lane)
        yield Footer()

    def _under_modal(self) -> bool:
        """True when only modals cover this screen (it still shows around them)."""
        stack = self.app.screen_stack
        if self not in stack:
            return False
        return all(isinstance(screen, ModalScreen) for screen in stack[stack.index(self) + 1 :])

    def on_mount(self) -> None:
        if self._pending is not None:
            self.show(*self._pending)

    def on_screen_resume(self) -> None:
        if self._pending is not None:
            self.show(*self._pending)

    def show(self, snapshot: BoardSnapshot, viewer: bool) -> None:
        """Draw a snapshot. Nothing is written while another screen covers this one (or before it is
        composed): the latest snapshot is kept and drawn when the screen shows again."""
        if not self.is_current and self.is_mounted and not self._under_modal():
            self._pending = (snapshot, viewer)
            return
        try:
            header = self.query_one("#header", CockpitHeader)
        except NoMatches:
            self._pending = (snapshot, viewer)
            return
        self._pending = None
        header.update(header_text(self.repo, self.branch, snapshot, viewer))
        now = datetime.fromtimestamp(snapshot.taken_at, UTC)
        for lane in LANE_ORDER:
            pane = self.query_one(f"#lane-{lane}", LanePane)
            pane.show(snapshot.lane(lane), now, snapshot.external_for(lane))
