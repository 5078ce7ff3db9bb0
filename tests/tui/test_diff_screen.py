"""Diff review with Pilot over real git: files with counts, next file, approve and merge, reject, and
send back with feedback — each verdict lands on the blackboard and in the repository."""

from __future__ import annotations

from pathlib import Path

from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.git.operations import task_branch
from cockpit.core.records.basics import TaskStatus
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.diff_screen import DiffScreen, FeedbackModal
from cockpit.tui.widgets.diff_view import DiffView
from tests.helpers.pilot import select_task
from tests.helpers.review import make_review_task

TASK = "subtract-0001"


def review_task(repo: Path) -> Blackboard:
    """A worktree task in review: its branch has a real commit that edits one file and adds another."""
    board = Blackboard(repo)
    make_review_task(
        board,
        TASK,
        {
            "calc.py": "def add(a, b):\n    return a + b\n\n\ndef subtract(a, b):\n    return a - b\n",
            "test_calc.py": "from calc import subtract\n\n\ndef test():\n    assert subtract(3, 1) == 2\n",
        },
        title="Add subtract",
    )
    return board


async def open_review(app: CockpitApp, pilot) -> DiffScreen:
    await app.workers.wait_for_complete()
    await pilot.pause()
    select_task(app, TASK)
    await pilot.press("d")
    await pilot.pause()
    assert isinstance(app.screen, DiffScreen)
    return app.screen


async def test_files_counts_and_approve_and_merge(repo: Path) -> None:
    board = review_task(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_review(app, pilot)
        assert str(screen.query_one("#diff-title").render()) == f"review {TASK}: 2 files, +9 -0"
        assert [f.path for f in screen.files] == ["calc.py", "test_calc.py"]
        view = screen.query_one(DiffView)
        assert view.diff.path == "calc.py" and "+def subtract(a, b):" in view.diff.lines
        await pilot.press("n")
        await pilot.pause()
        assert view.diff.path == "test_calc.py"
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert board.read_state(TASK).status == TaskStatus.MERGED
    assert "def subtract" in (repo / "calc.py").read_text()
    assert Repo(repo).head.commit.message.startswith(f"Merge cockpit task {TASK}")


async def test_reject_removes_branch_and_worktree(repo: Path) -> None:
    board = review_task(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_review(app, pilot)
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert board.read_state(TASK).status == TaskStatus.REJECTED
    assert task_branch(TASK) not in [h.name for h in Repo(repo).heads]
    assert "subtract" not in (repo / "calc.py").read_text()


async def test_send_back_with_feedback(repo: Path) -> None:
    board = review_task(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_review(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FeedbackModal)
        await pilot.press(*"also test add", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    state = board.read_state(TASK)
    assert state.status == TaskStatus.QUEUED and state.pending_feedback == "also test add"
