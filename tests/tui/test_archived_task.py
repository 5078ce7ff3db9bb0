"""An archived task in the full-screen cockpit: the lanes list live tasks only, and the task view opened
by id (``cockpit --task``) still shows the archived task's log, details and last message, marked as
archived."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.archive import ArchiveSelection, archive_tasks
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.event_log import EventLog
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.archive import EVENTS, put_task
from tests.helpers.pilot import pane_listing, until


async def test_an_archived_task_opens_by_id_and_is_off_the_lanes(repo: Path) -> None:
    board = Blackboard(repo)
    put_task(board, "archived-task-0001", TaskStatus.MERGED, age_days=9)
    put_task(board, "live-task-0002", TaskStatus.REVIEW)
    states = {s.id: s for s in board.states()}
    selection = ArchiveSelection(task_ids=["archived-task-0001"])
    report = archive_tasks(board, states, selection, datetime.now(UTC), by="test")
    assert [a.task_id for a in report.archived] == ["archived-task-0001"]

    app = CockpitApp(repo, host_supervisor=False, open_task="archived-task")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TaskScreen), what="task view")
        screen = app.screen
        assert isinstance(screen, TaskScreen) and screen.task_id == "archived-task-0001"
        log = screen.query_one(EventLog)
        await until(pilot, lambda: log.line_count == len(EVENTS.splitlines()), what="the archived log")
        assert log.border_title == "attempt 1 · archived (read only)"
        details = str(screen.query_one("#task-details").render())
        assert "archived-task-0001  [local]  merged" in details and "goal: Do archived-task-0001" in details
        await pilot.press("escape")
        await until(pilot, lambda: pane_listing(app, "live-task-0002") is not None, what="the lanes")
        listed = {t.id for pane in app.screen.query(LanePane) for t in pane.rows}
        assert listed == {"live-task-0002"}  # the archived one is in no lane, folded or not
