"""Both ways work: while a headless supervisor holds the blackboard, the cockpit attaches as a viewer,
and a merge approved in its diff review travels through the inbox and is carried out by that
supervisor (the viewer never touches the repository itself)."""

from __future__ import annotations

from pathlib import Path

from test_diff_screen import TASK, review_task

from cockpit.core.records.basics import TaskStatus
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.widgets.cockpit_header import CockpitHeader
from tests.helpers.pilot import until
from tests.helpers.supervisor import SupervisorThread


async def test_viewer_sends_its_merge_through_the_inbox(repo: Path, cockpit_env: dict[str, str]) -> None:
    board = review_task(repo)
    supervisor = SupervisorThread(board, cockpit_env).start()
    assert supervisor.wait_for(lambda: board.supervisor_pid() is not None)
    try:
        app = CockpitApp(repo, env=cockpit_env)  # asks to host, finds the lock held, watches instead
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.viewer, what="viewer mode")
            await until(
                pilot,
                lambda: "[viewer]" in str(app.screen.query_one(CockpitHeader).render()),
                what="the header saying viewer",
            )
            assert app.supervisor is None
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff review")
            await pilot.press("a")
            state = supervisor.wait_status(TASK, "merged")
            assert state.status == TaskStatus.MERGED
            assert "def subtract" in (repo / "calc.py").read_text()
            inbox = board.root / "inbox"
            await until(pilot, lambda: not list(inbox.glob("*.json")), what="the request consumed")
    finally:
        supervisor.stop()
