"""The full-screen demo end to end with Pilot: the app hosts the supervisor over the real Codex binary
and the scripted model; the gate's decision modal and the mcp lane's Codex approval open and are
answered from the keyboard (the gated task then succeeds on its retry with feedback, the approved
command runs), and a diff waiting for review is approved and merged. The cloud lane's task goes through
the real ``codex cloud`` and the fake backend into review, listed in the cloud pane; the fake is gone
once the demo ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from git import Repo
from textual.pilot import Pilot

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionCard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.trust import is_trusted
from cockpit.demo.interactive import demo_setup
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from tests.helpers.cloud import fake_cloud_processes
from tests.helpers.pilot import pane_listing, select_task, until


def status(board: Blackboard, task_id: str) -> TaskStatus | None:
    state = board.read_state(task_id)
    return state.status if state else None


async def answer_both_modals(app: CockpitApp, pilot: Pilot[None], changelog: str) -> list[DecisionCard]:
    """The gate and the Codex approval open in whichever order they arrive; ``a`` answers each (Retry
    now, and Allow the command once). Returns the cards as answered."""
    answered: list[DecisionCard] = []
    while len(answered) < 2:
        await until(
            pilot,
            lambda: isinstance(app.screen, DecisionModal) and app.screen.card not in answered,
            what="a decision modal",
        )
        modal = app.screen
        assert isinstance(modal, DecisionModal)
        if modal.card.trigger == "codex_approval":
            assert "python3 -c 'import calc; print(calc.add(2, 3))'" in modal.card.title
        else:
            assert modal.card.task_id == changelog
        await pilot.press("a")
        await until(pilot, lambda m=modal: app.screen is not m, what="the modal closing")
        answered.append(modal.card)
    return answered


@pytest.mark.codex
async def test_demo_gate_answered_and_diff_merged_from_the_keyboard(tmp_path: Path, codex_bin: Path) -> None:
    with demo_setup(tmp_path / "demo", keep=True) as setup:
        notes, subtract, changelog, check, cloud = setup.task_ids
        assert setup.cloud is not None and setup.cloud_task == cloud, setup.cloud_note
        fake, config = setup.cloud.process, setup.cloud.config
        assert fake_cloud_processes(str(tmp_path)) == [fake.pid]
        assert config is not None and is_trusted(config)
        board = Blackboard(setup.repo)
        app = CockpitApp(setup.repo, env=setup.env)
        async with app.run_test(size=(120, 40)) as pilot:
            cards = await answer_both_modals(app, pilot, changelog)
            assert sorted(c.trigger == "codex_approval" for c in cards) == [False, True]
            assert {c.task_id for c in cards} == {changelog, check}
            for card in cards:
                answered = app.decisions.get(card.id)
                assert answered is not None and answered.resolved is not None
                assert answered.resolved.option == "A" and answered.resolved.by == "human"
            await until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")

            await until(pilot, lambda: status(board, subtract) == TaskStatus.REVIEW, what="a diff to review")
            await until(pilot, lambda: pane_listing(app, subtract) is not None, what="the review card")
            select_task(app, subtract)
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff screen")
            await pilot.press("a")  # approve and merge
            await until(pilot, lambda: status(board, subtract) == TaskStatus.MERGED, what="the merge")
            assert "def subtract" in (setup.repo / "calc.py").read_text()
            assert Repo(setup.repo).active_branch.name == "main"

            await until(pilot, lambda: status(board, notes) == TaskStatus.SUCCEEDED, what="the local task")
            await until(
                pilot, lambda: status(board, changelog) == TaskStatus.REVIEW, what="the retried task's review"
            )
            state = board.read_state(changelog)
            assert state is not None and len(state.attempts) == 4 and state.attempts[-1].outcome is not None

            # The mcp lane: the approved command ran outside the sandbox, and CHECKS.md waits for review.
            await until(pilot, lambda: status(board, check) == TaskStatus.REVIEW, what="the mcp review")
            state = board.read_state(check)
            assert state is not None and state.diff.paths == ["CHECKS.md"]
            attempt = state.attempts[-1]
            assert attempt.exit is not None and attempt.exit.approvals == 1
            live = attempt.progress.live_diff
            assert live is not None and live.paths == ["CHECKS.md"]

            # The cloud lane: submitted once through the fake, best of 2, its first attempt on the branch.
            await until(pilot, lambda: status(board, cloud) == TaskStatus.REVIEW, what="the cloud review")
            await until(pilot, lambda: pane_listing(app, cloud) is not None, what="the cloud card")
            assert pane_listing(app, cloud).lane == "cloud"
            state = board.read_state(cloud)
            assert state is not None and len(state.attempts) == 1
            run = state.attempts[0].cloud
            assert run is not None and run.task_id and run.status == "ready" and run.polls >= 1
            assert [(r.n, r.chosen) for r in run.results] == [(1, True), (2, False)]
            assert state.diff is not None and state.diff.paths == [run.results[0].paths[0]]
            await pilot.press("q")
    # The demo stopped the fake cloud with everything else, and withdrew the trust its config had.
    assert fake.poll() == 0
    assert fake_cloud_processes(str(tmp_path)) == []
    assert not (setup.cloud.state_dir / "port").exists()
    assert not is_trusted(config)
