"""A lane's pane: its task cards, updated in place from board snapshots (cards are added, changed or
removed by task id, never rebuilt wholesale). A lane whose adapter is not built says so plainly."""

from __future__ import annotations

from datetime import datetime

from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.core.lanes import UNBUILT
from cockpit.core.state import TaskState
from cockpit.tui.widgets.task_card import TaskCard


class LanePane(VerticalScroll):
    DEFAULT_CLASSES = "lane-pane"

    def __init__(self, lane: str) -> None:
        super().__init__(id=f"lane-{lane}")
        self.lane = lane
        self.border_title = lane
        self._cards: dict[str, TaskCard] = {}

    def compose(self):
        note = UNBUILT.get(self.lane)
        yield Static(note or "no tasks", classes="lane-note", id=f"lane-note-{self.lane}")

    def show(self, tasks: list[TaskState], now: datetime) -> None:
        wanted = {t.id: t for t in tasks}
        for task_id in list(self._cards):
            if task_id not in wanted:
                self._cards.pop(task_id).remove()
        for task in tasks:
            card = self._cards.get(task.id)
            if card is None:
                card = self._cards[task.id] = TaskCard(task, now)
                self.mount(card)
            else:
                card.show(task, now)
        note = self.query_one(f"#lane-note-{self.lane}", Static)
        unbuilt = UNBUILT.get(self.lane)
        note.display = bool(unbuilt) or not tasks
        if unbuilt:
            note.update(f"{unbuilt} ({len(tasks)} queued)" if tasks else unbuilt)
        self.border_subtitle = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
