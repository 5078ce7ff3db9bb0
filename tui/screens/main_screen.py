"""The cockpit's main screen: the header and the four lane panes, redrawn from board snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.core.board_view import LANE_ORDER, BoardSnapshot
from cockpit.tui.widgets.cockpit_header import CockpitHeader, header_text
from cockpit.tui.widgets.lane_pane import LanePane


class MainScreen(Screen[None]):
    def __init__(self, repo: str, branch: str | None) -> None:
        super().__init__()
        self.repo = repo
        self.branch = branch

    def compose(self) -> ComposeResult:
        yield CockpitHeader("Codex Cockpit", id="header")
        with Grid(id="lanes"):
            for lane in LANE_ORDER:
                yield LanePane(lane)
        yield Footer()

    def show(self, snapshot: BoardSnapshot, viewer: bool) -> None:
        self.query_one("#header", CockpitHeader).update(header_text(self.repo, self.branch, snapshot, viewer))
        now = datetime.fromtimestamp(snapshot.taken_at, UTC)
        for lane in LANE_ORDER:
            self.query_one(f"#lane-{lane}", LanePane).show(snapshot.lane(lane), now)
