"""The task view with Pilot: Enter on a card (here in the expanded fold of finished tasks) opens the
attempt's live log beside the signals, usage, effort and the last message; escape returns to the
lanes. A reviewed task's view shows its review's rounds, follows the state as the review goes on, and
opens the diff review with the challenges with ``v``."""

from __future__ import annotations

import shutil
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.codex.exec_events import Usage
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus
from cockpit.core.records.review import ReviewerRun, ReviewRound
from cockpit.core.records.task import TaskState
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.challenge_panel import ChallengePanel
from cockpit.tui.widgets.event_log import EventLog
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.pilot import card_shown, select_task, until
from tests.helpers.review import REVIEWED_AT, add_review, challenge, make_review_task

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "codex" / "recorded-mixed.jsonl"


async def test_enter_on_a_card_opens_the_task_view(repo: Path) -> None:
    board = Blackboard(repo)
    state = TaskState(
        id="mixed-0001",
        lane="local",
        title="Mixed work",
        status=TaskStatus.SUCCEEDED,
        usage=Usage(input_tokens=1200, cached_input_tokens=800, output_tokens=90),
        effort="low",
        effort_reason="policy: kind=code risk=low → low",
    )
    state.attempts.append(
        Attempt(n=1, deadline_s=60, signals=Signals(exit_code=0, turn_completed=True, last_message=True))
    )
    board.write_state(state)
    board.write_envelope(
        state.id,
        envelope_from_mapping(
            {
                "goal": "Tidy [bold]words.txt[/bold]",
                "acceptance_criteria": ["words.txt is sorted"],
                "inputs": ["words.txt: the list"],
                "budget": {"tokens": 40000, "wall_time": "10m"},
            }
        ),
    )
    attempt_dir = board.attempt_dir(state.id, 1)
    attempt_dir.mkdir(parents=True)
    shutil.copy(RECORDED, attempt_dir / "events.jsonl")
    (attempt_dir / "last-message.md").write_text("COMPLETED: all done\n\n- **notes** written\n")
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        local = app.screen.query_one("#lane-local", LanePane)
        local.focus()
        await pilot.press("home", "enter")  # the succeeded task is folded: expand the fold line
        assert "✓ succeeded  Mixed work" in card_shown(local, "mixed-0001")
        await pilot.press("home", "down", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TaskScreen) and screen.task_id == "mixed-0001"
        log = screen.query_one(EventLog)
        log.refresh_from_disk()
        await pilot.pause()
        assert log.line_count == len(RECORDED.read_bytes().splitlines())
        details = str(screen.query_one("#task-details").render())
        assert "attempt 1 (initial)  exit 0 turn ✓ msg ✓" in details
        assert "tokens in 1200 (cached 800) out 90" in details and "effort low: policy" in details
        assert "goal: Tidy [bold]words.txt[/bold]" in details  # the envelope, shown as data
        assert "✓? words.txt is sorted" in details and "in  words.txt: the list" in details
        assert "budget 40000 tokens, 10m wall · risk low · sandbox workspace-write" in details
        assert "review" not in details  # not reviewed, no diff: no review lines, no review key
        assert all(b.binding.id != "task.review" for b in screen.active_bindings.values())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


REVIEWED = "add-subtract-0001"
HOSTILE = "\x1b[2J\x1b]0;pwned\x07[bold red]boom[/bold red]"


def reviewed_board(repo: Path) -> Blackboard:
    """A worktree task with a diff, sent back once by the cross-family review and challenged again."""
    board = Blackboard(repo)
    make_review_task(
        board,
        REVIEWED,
        {"calc.py": "def subtract(a, b):\n    return b - a\n"},
        title="Add subtract",
    )
    add_review(
        board,
        REVIEWED,
        [challenge("c1", "VALID"), challenge("c2", "NOISE")],
        [challenge("c1", "VALID"), challenge("c2", "PARTIAL", claim="the docstring is missing")],
    )
    state = board.read_state(REVIEWED)
    assert state is not None and state.review is not None
    first, last = state.review.rounds
    first.decision = "round 1: sent back (1 VALID, 1 NOISE; acceptance passing)"
    last.decision = "round 2: sent back (1 VALID, 1 PARTIAL; acceptance passing); stalled"
    last.summary = "subtract swaps its operands " + HOSTILE
    last.reviewer = ReviewerRun(model="claude-sonnet-4-5", cost_usd=0.37, duration_s=125)
    state.status = TaskStatus.REVIEWING
    state.review.soft_cap = 3
    state.review.effort_raised_to = "high"
    board.write_state(state)
    return board


def side_panel(screen: TaskScreen) -> str:
    return screen.query_one("#task-details").render().plain  # type: ignore[attr-defined]


async def test_the_task_view_shows_the_review_rounds_and_follows_them(repo: Path) -> None:
    board = reviewed_board(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        select_task(app, REVIEWED)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TaskScreen), what="the task view")
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        await pilot.pause()
        shown = side_panel(screen)
        assert (
            "review 2/3 challenged\n"
            "  round 1 · attempt 1 · verdict challenge · 1 VALID · 0 PARTIAL · 1 NOISE · "
            "sent back (1 VALID, 1 NOISE; acceptance passing)\n"
            "  round 2 · attempt 2 · verdict challenge · 1 VALID · 1 PARTIAL · 0 NOISE · "
            "sent back (1 VALID, 1 PARTIAL; acceptance passing); stalled\n"
            "  summary: subtract swaps its operands [bold red]boom[/bold red]\n"
            "  reviewer claude-sonnet-4-5 · $0.37 · 2m 05s\n"
            "  a stall raised the next attempt's effort to high\n"
            "  v: the diff review with the challenges\n"
        ) in shown
        assert "\x1b" not in shown and "pwned" not in shown
        assert any(b.binding.id == "task.review" for b in screen.active_bindings.values())

        # The review goes on: round 3 starts, then converges; the view follows the state.
        state = board.read_state(REVIEWED)
        assert state is not None and state.review is not None
        state.review.status = "reviewing"
        state.review.rounds.append(ReviewRound(n=3, attempt=3, head_commit="1" * 40, started_at=REVIEWED_AT))
        board.write_state(state)
        await until(
            pilot,
            lambda: "  round 3 · attempt 3 · no verdict · reviewer running\n" in side_panel(screen),
            timeout=10,
            what="round 3 in the task view",
        )
        assert side_panel(screen).count("review 3/3 reviewing\n") == 1
        third = state.review.rounds[-1]
        third.verdict, third.ended_at = "approve", REVIEWED_AT
        third.decision = "round 3: converged (no VALID challenge, acceptance passing)"
        third.reviewer = ReviewerRun(model="claude-sonnet-4-5", cost_usd=0.12, duration_s=48)
        state.review.status = "converged"
        state.status = TaskStatus.REVIEW
        board.write_state(state)
        await until(
            pilot,
            lambda: "review 3/3 converged\n" in side_panel(screen),
            timeout=10,
            what="the converged review",
        )
        shown = side_panel(screen)
        assert (
            "  round 3 · attempt 3 · verdict approve · no challenges · "
            "converged (no VALID challenge, acceptance passing)\n"
            "  reviewer claude-sonnet-4-5 · $0.12 · 48s\n"
        ) in shown
        assert "summary: subtract swaps" not in shown  # the last round's summary only

        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff review")
        assert app.screen.query_one(ChallengePanel).rounds[-1].n == 3
