"""Keys and the palette: every binding of a screen is a "Category: Action" palette command that runs
it, keys are remapped from ``[keys]`` in the config, and cancelling a task asks first."""

from __future__ import annotations

from pathlib import Path

from test_diff_screen import TASK, review_task

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.confirm_modal import ConfirmModal
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.usage_screen import UsageScreen
from tests.helpers.pilot import pane_listing, select_task, until


def titles(app: CockpitApp) -> dict[str, str]:
    return {command.title: command.help for command in app.get_system_commands(app.screen)}


async def test_each_screen_lists_its_bindings_in_the_palette(repo: Path) -> None:
    review_task(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and pane_listing(app, TASK) is not None)
        main = titles(app)
        for title in ("Cockpit: New task", "Cockpit: Review diff", "Cockpit: Usage", "Cockpit: Quit"):
            assert title in main, sorted(main)
        assert "key v · app.review" in main["Cockpit: Review diff"]
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        review = titles(app)
        assert {"Review: Approve + merge", "Review: Reject", "Review: Send back"} <= set(review)
        assert "Cockpit: New task" not in review  # the main screen's keys stay on the main screen
        # a palette command runs the very action its key runs
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Review: Reject")
        await command.callback()
        await until(pilot, lambda: Blackboard(repo).read_state(TASK).status == TaskStatus.REJECTED)


async def test_keys_are_remapped_from_the_config(repo: Path) -> None:
    board = Blackboard(repo)
    (board.root / "config.toml").write_text('[keys]\n"app.usage" = "ctrl+u"\n')
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert "key ^u · app.usage" in titles(app)["Cockpit: Usage"]
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # the old key no longer opens it
        await pilot.press("ctrl+u")
        await until(pilot, lambda: isinstance(app.screen, UsageScreen))


async def test_cancel_asks_before_it_acts(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(TaskState(id="queued-0001", lane="local", title="Waits in the queue"))
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: pane_listing(app, "queued-0001") is not None)
        select_task(app, "queued-0001")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert board.read_state("queued-0001").status == TaskStatus.QUEUED
        select_task(app, "queued-0001")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: board.read_state("queued-0001").status == TaskStatus.CANCELLED)
