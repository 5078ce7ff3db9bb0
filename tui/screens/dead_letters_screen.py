"""The dead-letter view: one row per letter (task, error type, priority, attempts, age, when the next
automatic retry goes or why none will, the error), archived letters with ``a``, ``r`` retries the
highlighted task now. Letters are read by a thread worker every second; ``escape`` goes back."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from cockpit.core import (
    Blackboard,
    CockpitError,
    DeadLetterRow,
    clean,
    dead_letter_rows,
    format_duration,
    run_task_command,
)
from cockpit.tui.screens.panel_screen import PanelScreen, cell_text, highlighted_key, sync_table

COLUMNS = (
    ("task", "task", None),
    ("error type", "error_type", 12),
    ("priority", "priority", 8),
    ("attempts", "attempts", 8),
    ("age", "age", 8),
    ("next retry", "next_retry", 44),
    ("reason", "reason", None),
)


def letter_cells(row: DeadLetterRow) -> list[Text]:
    letter = row.letter
    error = cell_text(clean(letter.error))
    task = Text(letter.task_id, style="bold")
    if row.archived:
        task.append(" (archived)", style="italic")
    return [
        task,
        Text(letter.error_type.value),
        Text(letter.priority.value),
        Text(str(letter.attempts)),
        Text(format_duration(row.age_s)),
        Text(row.next_retry),
        Text(error),
    ]


class DeadLettersScreen(PanelScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="dlq.back"),
        Binding("r", "retry", "Retry", id="dlq.retry"),
        Binding("a", "toggle_archived", "Archived on/off", id="dlq.all"),
        Binding("ctrl+r,R", "reload", "Refresh", id="dlq.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[DeadLetterRow], include_archived: bool) -> None:
            super().__init__()
            self.rows = rows
            self.include_archived = include_archived

    class RetryDone(Message):
        def __init__(self, task_id: str, text: str, ok: bool) -> None:
            super().__init__()
            self.task_id = task_id
            self.text = text
            self.ok = ok

    def __init__(self, board: Blackboard, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.board = board
        self.clock: Callable[[], float] = clock or time.time
        self._own_clock = clock is not None
        self.include_archived = False
        self.rows: dict[str, DeadLetterRow] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="dlq-title", classes="panel-title")
        yield Static(Text("no dead letters"), id="dlq-empty", classes="panel-empty")
        table: DataTable[Text] = DataTable(id="dlq-table", classes="panel-table", cursor_type="row")
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        if not self._own_clock:
            self.clock = getattr(self.app, "clock", time.time)  # the app's (injectable) clock
        self.set_class(True, "-empty")
        self._show_title(0)

    def read(self) -> Message:
        include_archived = self.include_archived
        return self.Loaded(dead_letter_rows(self.board, self.clock, include_archived), include_archived)

    @on(Loaded)
    def apply_rows(self, message: Loaded) -> None:
        if message.include_archived != self.include_archived:
            return  # read before the toggle; the next load brings the right set
        self.rows = {row.key: row for row in message.rows}
        table = self.query_one(DataTable)
        sync_table(table, [(row.key, letter_cells(row)) for row in message.rows])
        self.set_class(not message.rows, "-empty")
        self._show_title(sum(1 for row in message.rows if not row.archived))

    def _show_title(self, active: int) -> None:
        title = Text("Dead letters", style="bold")
        title.append(f"  {active} active")
        if self.include_archived:
            archived = sum(1 for row in self.rows.values() if row.archived)
            title.append(f", {archived} archived shown")
        else:
            title.append("  (archived hidden)")
        self.query_one("#dlq-title", Static).update(title)

    def action_toggle_archived(self) -> None:
        self.include_archived = not self.include_archived
        self.query_one("#dlq-empty", Static).update(
            Text("no dead letters, active or archived" if self.include_archived else "no dead letters")
        )
        self.action_reload()

    def action_retry(self) -> None:
        key = highlighted_key(self.query_one(DataTable))
        row = self.rows.get(key) if key is not None else None
        if row is None:
            self.notify("no dead letter to retry", severity="warning")
            return
        self.retry(row.letter.task_id)

    @work(thread=True, group="dlq-retry", exit_on_error=False)
    def retry(self, task_id: str) -> None:
        """Through the core command, so a live supervisor applies it (via the inbox) when it holds the
        board; with none it is applied here."""
        try:
            text, ok = run_task_command(self.board, "retry", task_id), True
        except CockpitError as exc:
            text, ok = str(exc), False
        self.post_message(self.RetryDone(task_id, text, ok))

    @on(RetryDone)
    def report_retry(self, message: RetryDone) -> None:
        severity = "information" if message.ok else "error"
        self.notify(message.text, title=f"retry {message.task_id}", severity=severity)
        self.action_reload()
