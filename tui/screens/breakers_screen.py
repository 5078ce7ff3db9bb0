"""The circuit-breaker view: one row per provider with its state (a symbol and a word), consecutive
failures, when it opened, the countdown to its next probe and the last error. Read by a thread worker
every second with the injected clock; ``escape`` goes back."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from cockpit.core import Blackboard, BreakerRow, BreakerState, breaker_rows, clean
from cockpit.tui.screens.panel_screen import PanelScreen, cell_text, sync_table

STATE_MARKS = {
    BreakerState.CLOSED: "✓ closed",
    BreakerState.OPEN: "✗ open",
    BreakerState.HALF_OPEN: "◐ half-open",
}
COLUMNS = (
    ("provider", "provider", None),
    ("state", "state", 11),
    ("failures", "failures", 8),
    ("opened", "opened", 30),
    ("next probe", "next_probe", 20),
    ("last error", "last_error", None),
)


def breaker_cells(row: BreakerRow) -> list[Text]:
    record = row.record
    error = cell_text(clean(record.last_error or "-"))
    tripped = record.state is not BreakerState.CLOSED
    return [
        Text(record.provider, style="bold"),
        Text(STATE_MARKS[record.state], style="bold" if tripped else ""),
        Text(str(record.consecutive_failures)),
        Text(row.opened),
        Text(row.next_probe),
        Text(error),
    ]


class BreakersScreen(PanelScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="breakers.back"),
        Binding("ctrl+r,R", "reload", "Refresh", id="breakers.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[BreakerRow]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self, board: Blackboard, clock: Callable[[], float]) -> None:
        super().__init__()
        self.board = board
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static(Text("Circuit breakers", style="bold"), id="breakers-title", classes="panel-title")
        yield Static(Text("no breaker has tripped (all closed)"), id="breakers-empty", classes="panel-empty")
        table: DataTable[Text] = DataTable(id="breakers-table", classes="panel-table", cursor_type="row")
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(True, "-empty")

    def read(self) -> Message:
        return self.Loaded(breaker_rows(self.board, self.clock))

    @on(Loaded)
    def apply_rows(self, message: Loaded) -> None:
        rows = message.rows
        sync_table(self.query_one(DataTable), [(row.record.provider, breaker_cells(row)) for row in rows])
        self.set_class(not rows, "-empty")
        tripped = sum(1 for row in rows if row.record.state is not BreakerState.CLOSED)
        title = Text("Circuit breakers", style="bold")
        title.append(f"  {len(rows)} provider(s), {tripped} not closed")
        self.query_one("#breakers-title", Static).update(title)
