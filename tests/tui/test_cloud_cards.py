"""Cloud-lane tasks on the main screen and in the task view, with Pilot: a card says where its Codex
Cloud run is (pending and its polls, overdue, best-of-N and the chosen attempt) in place of tokens, and
the header counts no worker slot for it; the task view shows the cloud task's id, URL, remote status,
polls, overdue, its attempts, and worker-derived text as data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.task import TaskState
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.cockpit_header import CockpitHeader
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.pilot import card_shown, select_task

PENDING = "port-the-ci-job-5e11"
OVERDUE = "refresh-the-lockfile-77a0"
READY = "add-a-multiply-function-c10d"


def cloud_state(
    task_id: str, title: str, run: CloudRun, status: TaskStatus = TaskStatus.RUNNING
) -> TaskState:
    started = utc_now() - timedelta(minutes=6)
    return TaskState(
        id=task_id,
        lane="cloud",
        title=title,
        status=status,
        attempts=[Attempt(n=1, deadline_s=3600, started_at=started, cloud=run)],
    )


def cloud_board(repo: Path) -> Blackboard:
    board = Blackboard(repo)
    board.write_state(
        cloud_state(
            PENDING,
            "Port the CI job",
            CloudRun(
                env="owner/repo",
                task_id="task_e_5e110f3c",
                url="https://chatgpt.com/codex/tasks/task_e_5e110f3c",
                status="pending",
                polls=14,
                poll_errors=2,
                last_error="error sending request: [bold]refused[/bold]",
            ),
        )
    )
    board.write_state(
        cloud_state(
            OVERDUE,
            "Refresh the lockfile",
            CloudRun(env="owner/repo", task_id="task_e_77a0", status="pending", polls=42, overdue=True),
        )
    )
    results = [
        CloudResult(
            n=1, files=2, insertions=5, paths=["NOTES.md", "calc.py"], diff_file="cloud-attempt-1.diff"
        ),
        CloudResult(n=2, files=3, insertions=11, diff_file="cloud-attempt-2.diff", chosen=True),
    ]
    board.write_state(
        cloud_state(
            READY,
            "Add a multiply function",
            CloudRun(
                env="owner/repo", best_of=2, task_id="task_e_c10d", status="ready", polls=6, results=results
            ),
            TaskStatus.REVIEW,
        )
    )
    return board


async def test_cloud_cards_say_where_the_cloud_run_is(repo: Path) -> None:
    cloud_board(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        pane = app.screen.query_one("#lane-cloud", LanePane)
        assert "cloud pending · polling failed ×2  att 1/3" in card_shown(pane, PENDING)
        assert "cloud pending, overdue · 42 polls  att 1/3" in card_shown(pane, OVERDUE)
        assert "cloud ready · best of 2, #2 chosen  att 1/3" in card_shown(pane, READY)
        assert " tok " not in card_shown(pane, PENDING)
        # two cloud tasks run, but remotely: no local worker slot is taken
        header = str(app.screen.query_one(CockpitHeader).render())
        assert "workers 0/3" in header


async def test_the_task_view_shows_the_cloud_run(repo: Path) -> None:
    cloud_board(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        select_task(app, PENDING)
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        details = str(screen.query_one("#task-details").render())
        assert "Codex Cloud task task_e_5e110f3c · pending · 14 polls" in details
        assert "https://chatgpt.com/codex/tasks/task_e_5e110f3c" in details
        assert "env owner/repo · best of 1" in details
        # worker-derived text is data: the markup in the poll error is shown as written
        assert "polling failed 2×: error sending request: [bold]refused[/bold]" in details
        assert "commands 0" not in details  # no local worker ran commands
        await pilot.press("escape")
        await pilot.pause()
        select_task(app, OVERDUE)
        await pilot.press("enter")
        await pilot.pause()
        details = str(app.screen.query_one("#task-details").render())
        assert "Codex Cloud task task_e_77a0 · pending (overdue) · 42 polls" in details
        await pilot.press("escape")
        await pilot.pause()
        select_task(app, READY)
        await pilot.press("enter")
        await pilot.pause()
        details = str(app.screen.query_one("#task-details").render())
        assert "#1 2 files +5 -0 · not chosen" in details and "#2 3 files +11 -0 · chosen" in details
