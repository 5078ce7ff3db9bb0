"""The full-screen demo end to end with Pilot: the app hosts the supervisor over the real Codex binary
and the scripted model; the gate's decision modal and the mcp lane's Codex approval open and are
answered from the keyboard (the gated task then succeeds on its retry with feedback, the approved
command runs), and a diff waiting for review is approved and merged. The reviewed task's card goes
challenged (round 1's VALID challenge sent it back to Codex), reviewing again, then converged; the real
Claude Code ran with the demo's throw-away home and none of the host's Anthropic settings, and the
converged diff is merged from the keyboard. The cloud lane's task goes through the real ``codex cloud``
and the fake backend into review, listed in the cloud pane; the fake is gone once the demo ends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from git import Repo
from textual.pilot import Pilot

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionCard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.trust import is_trusted
from cockpit.demo.interactive import DemoSetup, demo_setup
from cockpit.demo.scripted_claude import API_KEY
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from tests.helpers.cloud import fake_cloud_processes
from tests.helpers.pilot import card_shown, pane_listing, select_task, until


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


async def watch_card(app: CockpitApp, task_id: str, seen: list[str]) -> None:
    """Record each state the task's card goes through (``running | review 1/3 challenged``), as its lane
    has it, without moving the lane's cursor."""
    while True:
        pane = pane_listing(app, task_id)
        task = pane.rows.task(task_id) if pane is not None else None
        if task is not None:
            now = f"{task.status.value} | {task.review.words if task.review else ''}"
            if not seen or seen[-1] != now:
                seen.append(now)
        await asyncio.sleep(0.02)


def in_order(wanted: list[str], seen: list[str]) -> bool:
    rest = iter(seen)
    return all(any(item == w for item in rest) for w in wanted)


def check_reviewed_task(board: Blackboard, setup: DemoSetup, task_id: str) -> None:
    """Two rounds: a VALID failing_test judged with a non-zero exit sent the task back, Codex's fix on
    its resumed thread was approved. The reviewer ran with the demo's environment, not the host's."""
    state = board.read_state(task_id)
    assert state is not None and state.review is not None and state.review.status == "converged"
    first, second = state.review.rounds
    (challenge,) = first.challenges
    assert (first.attempt, first.verdict, challenge.kind, challenge.label) == (
        1,
        "challenge",
        "failing_test",
        "VALID",
    )
    assert challenge.judge is not None and challenge.judge.exit_code not in (0, None)
    assert "2 != 2.5" in challenge.judge.stderr_tail and first.decision and "sent back" in first.decision
    assert (second.attempt, second.verdict, second.challenges) == (2, "approve", [])
    assert second.decision and "converged" in second.decision
    assert state.attempts[1].kind == "followup" and state.attempts[1].resumed_thread == state.thread_id
    spec = json.loads((board.attempt_dir(task_id, 1) / "review-1" / "spec.json").read_text())
    assert setup.reviewer is not None
    home = setup.workdir / "claude-home"
    assert spec["env"]["HOME"] == str(home) and spec["env"]["CLAUDE_CONFIG_DIR"] == str(home / ".claude")
    assert spec["env"]["ANTHROPIC_BASE_URL"] == setup.reviewer.server.base_url
    assert {"IS_SANDBOX", "ANTHROPIC_AUTH_TOKEN"} <= set(spec["env_remove"])
    requests = setup.reviewer.server.message_requests()
    assert len({r.session_id for r in requests}) == 2  # one Claude Code session a round
    assert all(r.headers.get("x-api-key") == API_KEY and "authorization" not in r.headers for r in requests)


@pytest.mark.codex
@pytest.mark.claude
async def test_demo_gate_answered_and_diff_merged_from_the_keyboard(
    tmp_path: Path, codex_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host's own Anthropic settings and home: none of them may reach the demo's reviewer.
    monkeypatch.setenv("IS_SANDBOX", "yes")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "host-token")
    (tmp_path / "user-home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    # The reviewed task's paced replies held 1 s instead of a person's 3 s: its card still shows each
    # state for seconds.
    with demo_setup(tmp_path / "demo", keep=True, review_pace_ms=1000) as setup:
        notes, subtract, changelog, check, mean, cloud = setup.task_ids
        assert setup.review_task == mean, setup.review_note
        assert setup.cloud is not None and setup.cloud_task == cloud, setup.cloud_note
        fake, config = setup.cloud.process, setup.cloud.config
        assert fake_cloud_processes(str(tmp_path)) == [fake.pid]
        assert config is not None and is_trusted(config)
        board = Blackboard(setup.repo)
        app = CockpitApp(setup.repo, env=setup.env, reviewer_env=setup.reviewer_env)
        async with app.run_test(size=(120, 40)) as pilot:
            seen: list[str] = []
            watcher = asyncio.create_task(watch_card(app, mean, seen))
            cards = await answer_both_modals(app, pilot, changelog)
            assert sorted(c.trigger == "codex_approval" for c in cards) == [False, True]
            assert {c.task_id for c in cards} == {changelog, check}
            for card in cards:
                answered = app.decisions.get(card.id)
                assert answered is not None and answered.resolved is not None
                assert answered.resolved.option == "A" and answered.resolved.by == "human"
            await until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")

            # The reviewed task's card: reviewed, back with Codex after round 1's challenge, reviewed
            # again, converged; the review's words are drawn whole in its lane.
            converged = "review | review 2/3 converged"
            await until(pilot, lambda: seen[-1:] == [converged], what="convergence", timeout=120)
            watcher.cancel()
            wanted = [
                "reviewing | review 1/3 reviewing",
                "running | review 1/3 challenged",
                "reviewing | review 2/3 reviewing",
                converged,
            ]
            assert in_order(wanted, seen), seen
            lane = pane_listing(app, mean)
            assert lane is not None and "review 2/3 converged" in card_shown(lane, mean)
            check_reviewed_task(board, setup, mean)

            await until(pilot, lambda: status(board, subtract) == TaskStatus.REVIEW, what="a diff to review")
            await until(pilot, lambda: pane_listing(app, subtract) is not None, what="the review card")
            pane = select_task(app, subtract)
            await until(pilot, lambda: app.focused is pane, what="the worktree lane focused")
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff screen")
            await pilot.press("a")  # approve and merge
            await until(pilot, lambda: status(board, subtract) == TaskStatus.MERGED, what="the merge")
            assert "def subtract" in (setup.repo / "calc.py").read_text()
            assert Repo(setup.repo).active_branch.name == "main"

            pane = select_task(app, mean)
            await until(pilot, lambda: app.focused is pane, what="the worktree lane focused")
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the reviewed task's diff")
            await pilot.press("a")
            await until(pilot, lambda: status(board, mean) == TaskStatus.MERGED, what="the reviewed merge")
            assert (setup.repo / "stats.py").read_text().endswith("return sum(values) / len(values)\n")

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
    assert not (tmp_path / "user-home" / ".claude").exists()  # the user's own Claude home was never used
