"""Layout snapshots at a fixed 120×40 with a frozen clock and no cursor blink: the cockpit, the task
view, the decision modal and the diff review (and with the cross-family review's challenges beside
it), all over the deterministic showcase board; a lane
with a long history, folded, then filtered and expanded; and a board of cloud tasks: its lanes, and the
best-of-N review of a task back from Codex Cloud with two attempts, alone and compared. Update only
after reviewing the report: ``pytest tests/tui/test_snapshots.py --snapshot-update``."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.cloud_review import CloudReviewScreen
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.diff_view import DiffView
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.pilot import select_task
from tests.helpers.showcase import (
    CLOUD_PENDING,
    CLOUD_REVIEW,
    REVIEW,
    RUNNING,
    add_challenges,
    add_history,
    build_cloud_showcase,
    build_showcase,
    frozen_clock,
)

SIZE = (120, 40)


@pytest.fixture
def showcase_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CockpitApp:
    monkeypatch.setenv("HOME", str(tmp_path))  # the header shows the repo as ~/repo on every machine
    repo, env = build_showcase(tmp_path)
    app = CockpitApp(repo, host_supervisor=False, env=env, clock=frozen_clock)
    app.animation_level = "none"
    return app


@pytest.fixture
def history_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CockpitApp:
    """The showcase with 1,234 finished tasks and a fresh failure in the worktree lane."""
    monkeypatch.setenv("HOME", str(tmp_path))
    repo, env = build_showcase(tmp_path)
    add_history(repo, 1234)
    app = CockpitApp(repo, host_supervisor=False, env=env, clock=frozen_clock)
    app.animation_level = "none"
    return app


@pytest.fixture
def challenges_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CockpitApp:
    """The showcase whose task in review went through two rounds of cross-family review."""
    monkeypatch.setenv("HOME", str(tmp_path))
    repo, env = build_showcase(tmp_path)
    add_challenges(repo)
    app = CockpitApp(repo, host_supervisor=False, env=env, clock=frozen_clock)
    app.animation_level = "none"
    return app


@pytest.fixture
def cloud_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CockpitApp:
    """A board of cloud tasks: one back with two attempts, one pending, one pending past the deadline."""
    monkeypatch.setenv("HOME", str(tmp_path))
    repo = build_cloud_showcase(tmp_path)
    app = CockpitApp(repo, host_supervisor=False, clock=frozen_clock)
    app.animation_level = "none"
    return app


async def settle(pilot: Pilot[None], app: CockpitApp) -> None:
    """Let the board poll land and the screens draw."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


class TestSnapshots:
    def test_decision_modal(self, snap_compare, showcase_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, showcase_app)
            assert isinstance(showcase_app.screen, DecisionModal)

        assert snap_compare(showcase_app, terminal_size=SIZE, run_before=run_before)

    def test_cockpit(self, snap_compare, showcase_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, showcase_app)
            await pilot.press("escape")  # answer later: the header keeps counting the decision
            await settle(pilot, showcase_app)
            assert isinstance(showcase_app.screen, MainScreen)

        assert snap_compare(showcase_app, terminal_size=SIZE, run_before=run_before)

    def test_task_view(self, snap_compare, showcase_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, showcase_app)
            await pilot.press("escape")
            select_task(showcase_app, RUNNING)
            await pilot.press("enter")
            await settle(pilot, showcase_app)
            assert isinstance(showcase_app.screen, TaskScreen)

        assert snap_compare(showcase_app, terminal_size=SIZE, run_before=run_before)

    def test_diff_review(self, snap_compare, showcase_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, showcase_app)
            await pilot.press("escape")
            await pilot.press("v")
            await settle(pilot, showcase_app)
            assert isinstance(showcase_app.screen, DiffScreen)
            assert showcase_app.screen.task_id == REVIEW

        assert snap_compare(showcase_app, terminal_size=SIZE, run_before=run_before)

    def test_review_challenges(self, snap_compare, challenges_app: CockpitApp) -> None:
        """The challenge panel beside the diff, after Enter on the first challenge (its line marked)."""

        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, challenges_app)
            await pilot.press("escape")
            await pilot.press("v")
            await settle(pilot, challenges_app)
            screen = challenges_app.screen
            assert isinstance(screen, DiffScreen) and screen.task_id == REVIEW
            assert screen.query_one("#challenge-panel").display
            await pilot.press("enter")
            await settle(pilot, challenges_app)
            assert screen.query_one("#diff-view", DiffView).target_row is not None

        assert snap_compare(challenges_app, terminal_size=SIZE, run_before=run_before)

    def test_folded_lane(self, snap_compare, history_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, history_app)
            await pilot.press("escape")
            await settle(pilot, history_app)
            pane = history_app.screen.query_one("#lane-worktree", LanePane)
            assert pane.border_title == "worktree · 1,237"

        assert snap_compare(history_app, terminal_size=SIZE, run_before=run_before)

    def test_filtered_expanded_lane(self, snap_compare, history_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, history_app)
            await pilot.press("escape")
            await settle(pilot, history_app)
            await pilot.press("slash", *"state:failed,cancelled", "enter")
            pane = history_app.screen.query_one("#lane-worktree", LanePane)
            assert history_app.focused is pane  # the first lane with matches
            await pilot.press("end", "enter", "down")  # expand the fold line, then the newest below it
            await settle(pilot, history_app)
            assert pane.rows.expanded and pane.border_title == "worktree · 177 of 1,237"

        assert snap_compare(history_app, terminal_size=SIZE, run_before=run_before)

    def test_cloud_lane(self, snap_compare, cloud_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, cloud_app)
            assert isinstance(cloud_app.screen, MainScreen)
            pane = cloud_app.screen.query_one("#lane-cloud", LanePane)
            assert pane.row_lines(CLOUD_PENDING) is not None and pane.row_lines(CLOUD_REVIEW) is not None

        assert snap_compare(cloud_app, terminal_size=SIZE, run_before=run_before)

    def test_best_of_review(self, snap_compare, cloud_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, cloud_app)
            await pilot.press("v")
            await settle(pilot, cloud_app)
            assert isinstance(cloud_app.screen, CloudReviewScreen)
            assert cloud_app.screen.task_id == CLOUD_REVIEW

        assert snap_compare(cloud_app, terminal_size=SIZE, run_before=run_before)

    def test_best_of_compare(self, snap_compare, cloud_app: CockpitApp) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, cloud_app)
            await pilot.press("v")
            await settle(pilot, cloud_app)
            await pilot.press("c", "n")
            await settle(pilot, cloud_app)
            assert isinstance(cloud_app.screen, CloudReviewScreen) and cloud_app.screen.comparing

        assert snap_compare(cloud_app, terminal_size=SIZE, run_before=run_before)
