"""The shared shape of the small panels (dead letters, breakers, usage): a title, a table, a footer,
and a thread worker that re-reads the blackboard every second (never two reads at once) and hands the
result back as a message; plus table helpers that update cells in place and keep the cursor."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import work
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable
from textual.worker import Worker, get_current_worker

from cockpit.core import cut, one_line

REFRESH_S = 1.0
MAX_ERROR_CHARS = 120


def cell_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """An error or reason for a table cell: one line, cut with ``…``."""
    return cut(one_line(text), limit)


def sync_table(table: DataTable[Text], rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
    """Show ``rows`` (key, cells): cells are updated in place while the keys stay the same; otherwise the
    table is rebuilt and the cursor stays on the row it was on, if that row is still there."""
    keys = [key for key, _ in rows]
    current = [str(row.key.value) for row in table.ordered_rows]
    if keys == current:
        columns = [column.key for column in table.ordered_columns]
        for key, cells in rows:
            for column, cell in zip(columns, cells, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)
        return
    selected = current[table.cursor_row] if 0 <= table.cursor_row < len(current) else None
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if selected in keys:
        table.move_cursor(row=keys.index(selected), animate=False)


def highlighted_key(table: DataTable[Text]) -> str | None:
    """The key of the row under the cursor, or None when the table is empty."""
    if not table.row_count or not 0 <= table.cursor_row < table.row_count:
        return None
    return str(table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value)


class PanelScreen(Screen[None]):
    """Subclasses implement :meth:`read` (runs in a thread, returns the message to post) and handle
    that message; ``ctrl+r`` (their ``*.refresh`` binding) calls :meth:`action_reload`."""

    def __init__(self) -> None:
        super().__init__()
        self._loader: Worker[None] | None = None

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.action_reload()
        self.set_interval(REFRESH_S, self._tick)

    def _tick(self) -> None:
        if self._loader is None or self._loader.is_finished:
            self.action_reload()

    def action_reload(self) -> None:
        self._loader = self._load()

    @work(thread=True, exclusive=True, group="panel-load", exit_on_error=False)
    def _load(self) -> None:
        message = self.read()
        if message is not None and not get_current_worker().is_cancelled:
            self.post_message(message)

    def read(self) -> Message | None:
        raise NotImplementedError
